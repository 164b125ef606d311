// Admission of connections on one listening port: at most `max_connections` open at once and
// at most `max_per_peer` from one peer address (the IP, without the port), so one host cannot
// take every slot. Pure (no sockets, no clock): the accept loop asks, the connection holds the
// returned slot for its whole life and the slot gives the place back when it is destroyed.
// Thread-safe: slots may be released from any thread (HTTP sessions run on their own strands).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/base/status.h"

namespace edgesplit::net {

struct ConnectionLimits {
  size_t max_connections = 512;  // open connections on the port
  size_t max_per_peer = 64;      // open connections from one peer address
  Status Validate(const std::string& what) const;
};

enum class Admission { kAdmitted, kRefusedTotal, kRefusedPerPeer };
// "admitted", "max_connections", "max_per_peer": the reason label of the refused-connections metric.
const char* AdmissionName(Admission a);

class ConnectionLimiter {
  struct State;

 public:
  // Move-only; an empty slot (default-constructed or moved from) holds nothing.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept;
    Slot& operator=(Slot&& o) noexcept;
    ~Slot();
    bool held() const { return state_ != nullptr; }

   private:
    friend class ConnectionLimiter;
    Slot(std::shared_ptr<State> s, std::string peer) : state_(std::move(s)), peer_(std::move(peer)) {}
    void Release();
    std::shared_ptr<State> state_;
    std::string peer_;
  };

  explicit ConnectionLimiter(ConnectionLimits limits);
  // On kAdmitted `*slot` holds the place; otherwise it is left empty.
  Admission TryAdmit(const std::string& peer, Slot* slot);
  size_t open() const;
  size_t open_from(const std::string& peer) const;
  const ConnectionLimits& limits() const { return limits_; }

 private:
  ConnectionLimits limits_;
  std::shared_ptr<State> state_;  // shared with the slots: they may outlive the limiter
};

}  // namespace edgesplit::net
