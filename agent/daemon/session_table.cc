#include "agent/daemon/session_table.h"

#include <algorithm>

namespace edgesplit::agent {

const char* RefuseReasonName(RefuseReason r) {
  switch (r) {
    case RefuseReason::kSessions: return "sessions";
    case RefuseReason::kKvMemory: return "kv_memory";
    case RefuseReason::kContext: return "context";
    case RefuseReason::kUnknownSession: return "unknown_session";
    case RefuseReason::kBadPosition: return "bad_position";
  }
  return "unknown";
}

Result<StageSession*> SessionTable::Acquire(const StageSessionKey& key, int64_t position, int64_t tokens,
                                            int64_t capacity, uint64_t bytes_per_token, TimePoint now,
                                            RefuseReason* why) {
  auto it = sessions_.find(key);
  if (it != sessions_.end()) {
    StageSession& s = it->second;
    if (s.busy || position != s.next_position || position + tokens > s.capacity) {
      *why = RefuseReason::kBadPosition;
      return FailedPrecondition("session " + std::to_string(key.session) + ": step at position " + std::to_string(position) +
                                " does not continue its cache (holds " + std::to_string(s.next_position) + " of " +
                                std::to_string(s.capacity) + " positions" + (s.busy ? ", a step is running" : "") + ")");
    }
    s.busy = true;
    s.last_used = now;
    return &s;
  }
  if (position != 0) {
    *why = RefuseReason::kUnknownSession;
    return FailedPrecondition("session " + std::to_string(key.session) + " holds no state here (expired or never started)");
  }
  auto r = Reserve(key, tokens, capacity, bytes_per_token, now, why);
  if (r.ok()) (*r)->busy = true;
  return r;
}

Result<StageSession*> SessionTable::AcquireCarried(const StageSessionKey& key, int64_t capacity, uint64_t bytes_per_token,
                                                   TimePoint now, RefuseReason* why) {
  if (StageSession* s = Find(key)) return s;
  auto r = Reserve(key, 1, capacity, bytes_per_token, now, why);
  if (r.ok()) (*r)->carrying = true;
  return r;
}

int64_t StageSession::ReceivedUpTo(const std::vector<int>& stateful) const {
  int64_t upto = std::numeric_limits<int64_t>::max();
  for (int l : stateful) {
    auto it = received.find(l);
    upto = std::min(upto, it == received.end() ? int64_t{0} : it->second);
  }
  return upto;
}

Result<StageSession*> SessionTable::Reserve(const StageSessionKey& key, int64_t tokens, int64_t capacity,
                                            uint64_t bytes_per_token, TimePoint now, RefuseReason* why) {
  if (capacity < tokens || capacity < 1 || (limits_.max_context > 0 && capacity > limits_.max_context)) {
    *why = RefuseReason::kContext;
    return ResourceExhausted("session context of " + std::to_string(capacity) + " tokens exceeds this agent's max_context " +
                             std::to_string(limits_.max_context));
  }
  if (static_cast<int>(sessions_.size()) >= limits_.max_sessions) {
    *why = RefuseReason::kSessions;
    return ResourceExhausted("too many generation sessions (" + std::to_string(sessions_.size()) + " of max_sessions " +
                             std::to_string(limits_.max_sessions) + "); retry later");
  }
  const uint64_t bytes = static_cast<uint64_t>(capacity) * bytes_per_token;
  if (reserved_ + bytes > limits_.kv_budget_bytes) {
    *why = RefuseReason::kKvMemory;
    return ResourceExhausted("KV budget exhausted: the session needs " + std::to_string(bytes) + " bytes, " +
                             std::to_string(limits_.kv_budget_bytes - reserved_) + " of kv_budget_bytes " +
                             std::to_string(limits_.kv_budget_bytes) + " are free; retry later");
  }
  StageSession s;
  s.capacity = capacity;
  s.reserved_bytes = bytes;
  s.last_used = now;
  reserved_ += bytes;
  return &sessions_.emplace(key, std::move(s)).first->second;
}

StageSession* SessionTable::Find(const StageSessionKey& key) {
  auto it = sessions_.find(key);
  return it == sessions_.end() ? nullptr : &it->second;
}

void SessionTable::StepDone(const StageSessionKey& key, int64_t end_position, TimePoint now) {
  if (StageSession* s = Find(key)) {
    s->busy = false;
    s->next_position = end_position;
    s->last_used = now;
  }
}

bool SessionTable::Release(const StageSessionKey& key) {
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return false;
  reserved_ -= it->second.reserved_bytes;
  sessions_.erase(it);
  return true;
}

size_t SessionTable::ReleaseEpoch(const std::string& deployment, uint64_t epoch) {
  size_t n = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->first.deployment == deployment && it->first.epoch == epoch) {
      reserved_ -= it->second.reserved_bytes;
      it = sessions_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

std::vector<StageSessionKey> SessionTable::Idle(TimePoint now) const {
  std::vector<StageSessionKey> out;
  for (const auto& [k, s] : sessions_)
    if (!s.busy && now - s.last_used > limits_.idle_timeout) out.push_back(k);
  return out;
}

}  // namespace edgesplit::agent
