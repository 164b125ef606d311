// Decision and lifecycle events: every decision ("kept the plan" included) with its reason, the
// predicted gain and the cost, readable through the API. Bounded ring. Thread-compatible.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/base/clock.h"

namespace edgesplit::orch {

struct Event {
  uint64_t seq = 0;
  TimePoint at{};
  std::string type;        // "decision" | "rollout" | "node" | "deployment"
  std::string deployment;  // empty for node events
  std::string node;        // node events
  std::string kind;        // decision: keep|place|migrate|resplit|none; rollout: phase; node: state
  std::string trigger;     // what prompted it (node_lost, profile_drift, ...)
  std::string reason;      // human-readable why
  double predicted_gain_ms = 0;  // per request
  double cost_ms = 0;            // migration cost (weight fetch time)
  double current_ms = 0;         // fresh cost of the current plan
  double candidate_ms = 0;       // cost of the best alternative
  uint64_t epoch = 0;
  double duration_ms = 0;        // rollout events: time since the rollout started
  std::string stages;            // decisions that adopt a plan: "n1[0,4) -> n2[4,9)"
  int live_sessions = 0;         // decisions: generation sessions that move with the plan
  double session_cost_ms = 0;    // decisions: their predicted stall, summed (part of cost_ms)
  std::string session_move;      // decisions with live sessions: "copy" | "rebuild"
  double kv_bytes = 0;           // decisions: KV bytes the copy moves (0 for a rebuild)
};

class EventLog {
 public:
  explicit EventLog(size_t capacity = 4096) : capacity_(capacity) {}
  const Event& Add(Event e);
  // Events with seq > after, oldest first, at most `limit`; optionally only one deployment.
  std::vector<Event> Since(uint64_t after, size_t limit, const std::string& deployment = "") const;
  uint64_t last_seq() const { return next_seq_ - 1; }
  size_t size() const { return events_.size(); }

 private:
  size_t capacity_;
  uint64_t next_seq_ = 1;
  std::deque<Event> events_;
};

}  // namespace edgesplit::orch
