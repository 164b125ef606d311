// AgentCore's data connection (private to the agent_core_*.cc files).
#pragma once

#include <chrono>
#include <vector>

#include "agent/daemon/agent_core.h"
#include "agent/daemon/gen_stream.h"

namespace edgesplit::agent {

struct AgentCore::InConn {
  InConn(net::tcp::socket s, size_t max_out) : socket(std::move(s)), out(socket.get_executor(), max_out) {}
  net::tcp::socket socket;
  transport::FrameQueue out;
  uint64_t id = 0;
  void Close() {
    out.Close();
    boost::system::error_code ec;
    socket.close(ec);
  }
};

// A generation session owned by this entry.
struct AgentCore::EntryGen {
  EntryGen(GenerationRequest r, TimePoint now) : stream(std::move(r), now) {}
  GenStream stream;
  uint64_t session = 0;
  SegmentKey key;
  std::weak_ptr<InConn> conn;
  uint64_t conn_id = 0;
  uint64_t client_request_id = 0;
  int64_t context_tokens = 0;
  TimePoint step_deadline;
};

// Emulated slower node (test feature): waits until the job since t0 took `slowdown` times its
// real compute time and scales the per-layer times to match.
void StretchForEmulation(std::chrono::steady_clock::time_point t0, double slowdown, std::vector<double>* layer_ms);

}  // namespace edgesplit::agent
