// The generation sessions whose state (KV cache) this agent holds for its segments, keyed by
// (deployment, epoch, session id), with the agent's limits: sessions, context length and KV
// bytes. Pure (time is passed in); owned by the io thread. The state object itself is created
// and used on the compute pool, one step at a time, through the shared SessionHolder.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/runtime/segment.h"
#include "common/base/clock.h"
#include "common/base/status.h"

namespace edgesplit::agent {

struct StageSessionKey {
  std::string deployment;
  uint64_t epoch = 0;
  uint64_t session = 0;
  auto operator<=>(const StageSessionKey&) const = default;
};

// The session state of one segment; created by the first step's compute job.
struct SessionHolder {
  std::unique_ptr<SessionState> state;
};

struct StageSession {
  std::shared_ptr<SessionHolder> holder = std::make_shared<SessionHolder>();
  int64_t capacity = 0;         // tokens reserved
  uint64_t reserved_bytes = 0;  // counted against the KV budget
  int64_t next_position = 0;    // positions [0, next_position) are in the cache
  TimePoint last_used;
  bool busy = false;            // a step is queued or running
  // KV copy: created to receive its KV from the previous epoch's holders (KV_DATA) before its
  // first step here; per model layer, the end of the positions received so far.
  bool carrying = false;
  std::map<int, int64_t> received;
  int64_t reported = 0;  // the last ReceivedUpTo told to the entry (KV_READY)
  // Positions every one of `stateful` layers has received ([0, result)); INT64_MAX for none.
  int64_t ReceivedUpTo(const std::vector<int>& stateful) const;
};

struct SessionLimits {
  int max_sessions = 64;                        // per agent, all deployments
  uint64_t kv_budget_bytes = uint64_t{1} << 30; // KV reserved by all sessions
  int64_t max_context = 0;                      // 0: the model's own limit only
  Duration idle_timeout = std::chrono::seconds(60);
};

// Why a session could not start (bounded label set for metrics).
enum class RefuseReason { kSessions, kKvMemory, kContext, kUnknownSession, kBadPosition };
const char* RefuseReasonName(RefuseReason r);

class SessionTable {
 public:
  explicit SessionTable(SessionLimits limits) : limits_(limits) {}

  // The session for a step at `position` covering `tokens` positions. Position 0 of an unknown
  // session reserves `capacity` × `bytes_per_token` (resource_exhausted past a limit, with the
  // reason). A later position must continue the cache exactly (failed_precondition otherwise:
  // the state was reclaimed or never existed here).
  Result<StageSession*> Acquire(const StageSessionKey& key, int64_t position, int64_t tokens, int64_t capacity,
                                uint64_t bytes_per_token, TimePoint now, RefuseReason* why);
  // KV copy: the session of `key` that receives its KV from an older epoch; created (reserving
  // `capacity` tokens like a first step, refused past the same limits) by whichever arrives
  // first, a KV_DATA frame or the carried step. An existing session is returned as it is.
  Result<StageSession*> AcquireCarried(const StageSessionKey& key, int64_t capacity, uint64_t bytes_per_token,
                                       TimePoint now, RefuseReason* why);
  StageSession* Find(const StageSessionKey& key);
  // A step finished: the cache now holds [0, end_position).
  void StepDone(const StageSessionKey& key, int64_t end_position, TimePoint now);
  // Frees the session; false if it was not held.
  bool Release(const StageSessionKey& key);
  // Frees every session of an epoch (its segment was unloaded); returns how many.
  size_t ReleaseEpoch(const std::string& deployment, uint64_t epoch);
  // Sessions idle (no step running) for longer than the idle timeout.
  std::vector<StageSessionKey> Idle(TimePoint now) const;

  size_t count() const { return sessions_.size(); }
  uint64_t reserved_bytes() const { return reserved_; }
  const SessionLimits& limits() const { return limits_; }

 private:
  // A new session after the limits are checked (tokens: those of its first step).
  Result<StageSession*> Reserve(const StageSessionKey& key, int64_t tokens, int64_t capacity, uint64_t bytes_per_token,
                                TimePoint now, RefuseReason* why);
  SessionLimits limits_;
  std::map<StageSessionKey, StageSession> sessions_;
  uint64_t reserved_ = 0;
};

}  // namespace edgesplit::agent
