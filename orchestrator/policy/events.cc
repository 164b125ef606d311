#include "orchestrator/policy/events.h"

namespace edgesplit::orch {

const Event& EventLog::Add(Event e) {
  e.seq = next_seq_++;
  events_.push_back(std::move(e));
  while (events_.size() > capacity_) events_.pop_front();
  return events_.back();
}

std::vector<Event> EventLog::Since(uint64_t after, size_t limit, const std::string& deployment) const {
  std::vector<Event> out;
  for (const auto& e : events_) {
    if (e.seq <= after) continue;
    if (!deployment.empty() && e.deployment != deployment) continue;
    if (out.size() >= limit) break;
    out.push_back(e);
  }
  return out;
}

}  // namespace edgesplit::orch
