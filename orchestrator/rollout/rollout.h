// Make-before-break reconfiguration of one deployment from epoch e to e+1 (DESIGN.md
// "Reconfiguration"): prepare (load e+1's segments next to e's, every stage acks ready) →
// commit (the entry activates e+1: new requests go there) → drain (e's stages finish their
// in-flight requests, one stage at a time in pipeline order) → release (e's segments are unloaded). Any failure, timeout or loss of a
// new stage's node before commit aborts: e+1's segments are unloaded and e keeps serving.
// After commit the rollout always completes (a lost old node is simply skipped).
// Pure state machine: inputs are Start/OnAck/OnNodeLost/Tick with the time passed in; outputs
// are the commands to send. Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/base/clock.h"
#include "common/base/status.h"

namespace edgesplit::orch {

struct StageTarget {
  std::string node;
  std::string data_address;
  int first_layer = 0;
  int end_layer = 0;
};

enum class CommandKind { kLoad, kActivate, kDrain, kUnload, kProbe };
const char* CommandKindName(CommandKind k);

// One command for one agent (converted to the wire Command by the daemon).
struct AgentCommand {
  uint64_t id = 0;
  std::string node;
  CommandKind kind = CommandKind::kLoad;
  std::string deployment;
  uint64_t epoch = 0;
  // kLoad only:
  std::string model;
  int first_layer = 0;
  int end_layer = 0;
  int num_layers = 0;
  std::string downstream_address;
  std::string entry_address;
  bool is_entry = false;
  std::vector<std::string> stage_nodes;  // the epoch's nodes in order (entry first)
  int stage_index = 0;
  // The epoch's stages, and the epoch it replaces with its stages (a live session's KV is
  // copied from those to these; docs/agent.md "KV copy"). Empty when there is no old epoch.
  std::vector<StageTarget> stages;
  uint64_t carry_from_epoch = 0;
  std::vector<StageTarget> carry_from;
  // kProbe only: (node, data address) of the peers to measure.
  std::vector<std::pair<std::string, std::string>> peers;
  uint32_t probe_bytes = 0;  // 0: the agent's default
  // kActivate only: the entry resubmits requests in flight on older epochs (a node was lost).
  bool retry_in_flight = false;
};

enum class RolloutPhase { kPreparing, kCommitting, kDraining, kReleasing, kDone, kAborted };
const char* RolloutPhaseName(RolloutPhase p);

struct RolloutOptions {
  Duration prepare_timeout = std::chrono::seconds(30);
  Duration commit_timeout = std::chrono::seconds(5);
  Duration drain_timeout = std::chrono::seconds(10);
  // Extra wait after every old stage acked Drain, before unloading (in-flight stragglers).
  Duration drain_grace = std::chrono::milliseconds(200);
  Duration release_timeout = std::chrono::seconds(5);
  Status Validate() const;
};

// Shared monotonically increasing command ids (one per orchestrator).
struct CommandIds {
  uint64_t next = 1;
  uint64_t Take() { return next++; }
};

struct RolloutSpec {
  std::string deployment;
  std::string model;
  int num_layers = 0;
  uint64_t from_epoch = 0;           // 0: nothing deployed yet (initial placement)
  std::vector<StageTarget> from;     // stages of from_epoch (empty when initial)
  uint64_t to_epoch = 0;
  std::vector<StageTarget> to;
  // A stage node of from_epoch is lost: at commit the entry resubmits from_epoch's in-flight
  // requests to to_epoch (they would otherwise wait for their deadline).
  bool retry_in_flight = false;
  // Offer the new stages the old epoch's layout so live sessions copy their KV (false: the
  // policy priced rebuilding them cheaper, or there is no old epoch).
  bool kv_copy = true;
};

class Rollout {
 public:
  Rollout(RolloutSpec spec, RolloutOptions options, CommandIds* ids);

  std::vector<AgentCommand> Start(TimePoint now);
  // Ack of a command this rollout sent (others are ignored and return {}).
  std::vector<AgentCommand> OnAck(uint64_t command_id, bool ok, const std::string& error, TimePoint now);
  std::vector<AgentCommand> OnNodeLost(const std::string& node, TimePoint now);
  std::vector<AgentCommand> Tick(TimePoint now);
  // Operator or policy abort; only before commit. Errors: failed_precondition after commit.
  Result<std::vector<AgentCommand>> Abort(const std::string& reason, TimePoint now);

  RolloutPhase phase() const { return phase_; }
  bool committed() const { return committed_; }
  bool finished() const { return phase_ == RolloutPhase::kDone || phase_ == RolloutPhase::kAborted; }
  const std::string& abort_reason() const { return abort_reason_; }
  const RolloutSpec& spec() const { return spec_; }
  TimePoint started_at() const { return started_at_; }
  TimePoint committed_at() const { return committed_at_; }
  // Whether this rollout owns command `id`.
  bool Owns(uint64_t id) const { return pending_.count(id) > 0; }
  // Phase changes since the last call (for events and logs).
  std::vector<RolloutPhase> TakePhaseChanges();
  // Non-fatal problems after commit (failed drain or unload acks).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  AgentCommand Make(const std::string& node, CommandKind kind, uint64_t epoch);
  std::vector<AgentCommand> EnterCommit(TimePoint now);
  std::vector<AgentCommand> EnterDrain(TimePoint now);
  std::vector<AgentCommand> NextDrain(TimePoint now);
  std::vector<AgentCommand> EnterRelease(TimePoint now);
  std::vector<AgentCommand> AbortNow(const std::string& reason, TimePoint now);
  void SetPhase(RolloutPhase p, TimePoint now);
  bool Waiting() const;

  RolloutSpec spec_;
  RolloutOptions options_;
  CommandIds* ids_;
  RolloutPhase phase_ = RolloutPhase::kPreparing;
  bool committed_ = false;
  std::string abort_reason_;
  TimePoint started_at_{}, phase_at_{}, committed_at_{}, drained_at_{};
  bool drain_acked_ = false;
  size_t next_drain_ = 0;
  std::map<uint64_t, AgentCommand> pending_;  // sent in the current phase, not yet acked
  std::set<std::string> loaded_nodes_;        // nodes sent a Load of to_epoch
  std::set<std::string> lost_;
  std::vector<RolloutPhase> changes_;
  std::vector<std::string> warnings_;
};

}  // namespace edgesplit::orch
