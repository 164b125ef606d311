// The accept policy of one listening port, behind the one call every accept loop makes
// (HTTP, the orchestrator's control port, the agent's data port): connection caps in total
// and per peer address (ConnectionLimiter; refused connections are closed at once and
// counted), and a backoff when descriptors run out (AcceptBackoff; counted, logged once per
// episode). The loop keeps the returned slot for the connection's life.
// Not thread-safe: one gate per accept loop, used on the acceptor's executor.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/net/accept_backoff.h"
#include "common/net/async_io.h"
#include "common/net/connection_limiter.h"

namespace edgesplit::net {

struct AcceptGateOptions {
  std::string port_name = "port";  // "http", "control", "data": the port label in logs and metrics
  ConnectionLimits limits;
  AcceptBackoffOptions backoff;
  // Called on the accept loop's executor with bounded reasons. Refused: "max_connections" |
  // "max_per_peer". Accept error: "fd_exhausted" (EMFILE, ENFILE, ENOBUFS, ENOMEM) | "other".
  std::function<void(const char* reason)> on_refused;
  std::function<void(const char* reason)> on_accept_error;
};

struct Accepted {
  tcp::socket socket;
  ConnectionLimiter::Slot slot;  // hold until the connection is closed
  std::string peer;              // "ip:port"
};

class AcceptGate {
 public:
  explicit AcceptGate(AcceptGateOptions options);
  // The next admitted connection; nullopt once the acceptor is closed.
  Awaitable<std::optional<Accepted>> Next(tcp::acceptor& acceptor);
  const ConnectionLimiter& limiter() const { return limiter_; }

 private:
  AcceptGateOptions options_;
  ConnectionLimiter limiter_;
  AcceptBackoff backoff_;
};

// Runs `session` while holding `slot` (for accept loops whose sessions take only the socket).
inline Awaitable<void> WithSlot(ConnectionLimiter::Slot slot, Awaitable<void> session) {
  co_await std::move(session);
}

}  // namespace edgesplit::net
