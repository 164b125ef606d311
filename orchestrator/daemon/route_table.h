// Routes (deployment -> entry address and epoch) shared between the control io thread, which
// publishes them after every controller step, and the gateway's worker threads. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "orchestrator/controller/controller.h"

namespace edgesplit::orch {

class RouteTable {
 public:
  void Publish(std::map<std::string, Route> routes) {
    std::lock_guard<std::mutex> l(mu_);
    routes_ = std::move(routes);
    ++version_;
  }
  std::optional<Route> Get(const std::string& deployment) const {
    std::lock_guard<std::mutex> l(mu_);
    auto it = routes_.find(deployment);
    if (it == routes_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Route> routes_;
  uint64_t version_ = 0;
};

}  // namespace edgesplit::orch
