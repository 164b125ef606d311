// Prometheus metrics of the orchestrator (edgesplit_orchestrator_*). Request metrics are
// updated as requests finish (any thread); registry and deployment gauges are refreshed from
// the controller just before each scrape (control io thread). Label sets are bounded: node and
// deployment names (cluster-sized), kinds, reasons and status codes.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "orchestrator/controller/controller.h"
#include "orchestrator/daemon/gateway.h"

namespace edgesplit::orch {

class OrchestratorMetrics {
 public:
  OrchestratorMetrics();
  prometheus::Registry& registry() { return *registry_; }

  void ObserveRequest(const GatewayResult& r);  // thread-safe
  void ObserveGenerate(const GenerateObservation& g);  // thread-safe
  void ControlMessage(const std::string& kind);
  void BadControlMessage(const std::string& reason);
  // A control connection refused for who it is: handshake | bad_certificate | not_allowed |
  // name_mismatch | older_incarnation.
  void ControlRefused(const std::string& reason);
  void HeartbeatLag(double seconds);
  // Resource limits of the listening ports (port: control | http; bounded reasons, see
  // AcceptGate and HttpServerCounters). Thread-safe.
  void ConnectionRefused(const std::string& port, const char* reason);
  void AcceptError(const std::string& port, const char* reason);
  void HttpRequestRefused(const char* reason);
  // Refreshes gauges and counters from the controller (control io thread).
  void Refresh(const Controller& c, TimePoint now, size_t inflight, const std::map<std::string, uint64_t>& rejected);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* nodes_;
  prometheus::Family<prometheus::Gauge>* node_up_;
  prometheus::Family<prometheus::Gauge>* node_cpu_;
  prometheus::Family<prometheus::Gauge>* node_mem_;
  prometheus::Family<prometheus::Gauge>* node_speed_;
  prometheus::Family<prometheus::Gauge>* node_mem_total_;
  prometheus::Family<prometheus::Gauge>* link_bandwidth_;
  prometheus::Family<prometheus::Gauge>* slo_;
  prometheus::Family<prometheus::Histogram>* request_seconds_;
  prometheus::Family<prometheus::Counter>* requests_total_;
  prometheus::Family<prometheus::Counter>* failures_total_;
  prometheus::Family<prometheus::Gauge>* predicted_;
  prometheus::Family<prometheus::Gauge>* observed_;
  prometheus::Family<prometheus::Gauge>* epoch_;
  prometheus::Family<prometheus::Counter>* reconfigurations_;
  prometheus::Family<prometheus::Gauge>* inflight_;
  prometheus::Family<prometheus::Counter>* rejected_;
  prometheus::Family<prometheus::Counter>* control_msgs_;
  prometheus::Family<prometheus::Counter>* bad_control_;
  prometheus::Family<prometheus::Counter>* control_refused_;
  prometheus::Family<prometheus::Counter>* connections_refused_;
  prometheus::Family<prometheus::Counter>* accept_errors_;
  prometheus::Family<prometheus::Counter>* http_refused_;
  prometheus::Histogram* heartbeat_lag_;
  prometheus::Histogram* adaptation_;
  prometheus::Family<prometheus::Counter>* events_;
  prometheus::Family<prometheus::Counter>* generate_requests_;
  prometheus::Family<prometheus::Histogram>* generate_ttft_;
  prometheus::Family<prometheus::Histogram>* generate_inter_token_;
  prometheus::Family<prometheus::Counter>* generated_tokens_;
  size_t adaptations_seen_ = 0;
  uint64_t last_event_seq_ = 0;
  std::map<std::string, double> counted_;  // counters mirrored from the controller: last value
};

}  // namespace edgesplit::orch
