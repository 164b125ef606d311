// AgentCore's data connection (private to the agent_core_*.cc files).
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <vector>

#include "agent/daemon/agent_core.h"
#include "agent/daemon/gen_stream.h"

namespace edgesplit::agent {

struct AgentCore::InConn {
  InConn(net::Stream s, size_t max_out) : socket(std::move(s)), out(socket.get_executor(), max_out) {}
  net::Stream socket;
  transport::FrameQueue out;
  net::ConnectionLimiter::Slot slot;  // this connection's place under the data port's caps
  uint64_t id = 0;
  void Close() {
    out.Close();
    boost::system::error_code ec;
    socket.close(ec);
  }
};

// A one-shot request this entry accepted and has not answered yet.
struct AgentCore::Pending {
  std::weak_ptr<InConn> conn;
  uint64_t client_request_id = 0;
  SegmentKey key;
  TimePoint sent;  // into key.epoch (the latest attempt)
  TimePoint accepted;  // from the client (the answer's latency counts from here)
  TimePoint deadline;
  int64_t deadline_unix_ms = 0;
  HostTensor input;  // shared with the request frame (no copy): kept for one retry
  int attempts = 1;
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
  TimePoint step_deadline;   // last_progress + request_timeout_ms: restarts do not extend it
  TimePoint step_started;
  TimePoint last_progress;   // session start, then each token
  bool parked = false;  // its epoch lost a stage: waits (until step_deadline) for a newer epoch
  TimePoint parked_at;
  // KV copy (agent_core_kv.cc): the epoch the running step's KV was copied from (0: none), and
  // the epoch whose stages were sent [0, precopied_end) ahead of the move (0: none).
  uint64_t carry_epoch = 0;
  uint64_t precopy_epoch = 0;
  int64_t precopied_end = 0;
  TimePoint precopy_at;
  // The new stages that must hold the pre-copy before the switch, and what each reported
  // (KV_READY) it holds.
  std::map<std::string, int64_t> precopy_ready;
};


// Decode steps waiting for a batched pass of one segment (shared with the compute job).
struct AgentCore::StepBatcher {
  struct Item {
    transport::Frame f;
    std::shared_ptr<SessionHolder> holder;
  };
  std::mutex mu;
  std::deque<Item> items;
  bool scheduled = false;  // a compute job will take the queued items
};

// The last stage's sampling: the token for `f`'s index from [batch, 1, vocab] logits.
Result<int64_t> SampleStepToken(const HostTensor& logits, int64_t vocab, const transport::Frame& f);

// Where results and errors of work on `spec` go: the entry the orchestrator named, else the
// entry that stamped the frame.
inline const std::string& EntryOf(const LoadSpec& spec, const transport::Frame& f) {
  return spec.entry_address.empty() ? f.origin : spec.entry_address;
}

// Emulated slower node (test feature): waits until the job since t0 took `slowdown` times its
// real compute time and scales the per-layer times to match.
void StretchForEmulation(std::chrono::steady_clock::time_point t0, double slowdown, std::vector<double>* layer_ms);
// One compute probe (agent/runtime/compute_probe.h), stretched by an emulated `slowdown` as a
// layer would be; its time in ms.
double StretchedProbeMs(double slowdown);

}  // namespace edgesplit::agent
