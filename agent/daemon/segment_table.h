// The segments an agent holds, keyed by (deployment, epoch), and the routing of incoming work
// to them (pure: no sockets, threads or protobuf). Several epochs of one deployment live side by
// side during a make-before-break switch; the entry routes new requests to the active epoch.
// Not thread-safe: owned by the agent's io thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/daemon/segment_lifecycle.h"
#include "agent/runtime/segment.h"
#include "agent/transport/frame.h"
#include "agent/transport/frame_header.h"

namespace edgesplit::agent {

struct SegmentKey {
  std::string deployment;
  uint64_t epoch = 0;
  auto operator<=>(const SegmentKey&) const = default;
};

// What the orchestrator asked for (LoadSegment, as a plain struct).
struct LoadSpec {
  std::string deployment;
  uint64_t epoch = 0;
  std::string model;
  int first_layer = 0;
  int end_layer = 0;
  int num_layers = 0;
  std::string downstream_address;  // empty for the last stage
  std::string entry_address;       // where the last stage returns results (empty: frame origin)
  bool is_entry = false;
  // The epoch's stage nodes in order (entry first) and this stage's index; empty when the
  // orchestrator did not say (plaintext test controllers): no name checks are possible then.
  std::vector<std::string> stage_nodes;
  int stage_index = 0;
  // KV copy (docs/agent.md): this epoch's stages with addresses and layer ranges, and the epoch
  // it replaces with its stages (empty/0: the orchestrator offered no copy).
  std::vector<transport::StageRange> stages;
  uint64_t carry_from_epoch = 0;
  std::vector<transport::StageRange> carry_from;
  // The node that held model layer `layer` in carry_from (empty: none).
  std::string CarrySourceOf(int layer) const;
  // The node expected at the previous stage / the last stage / the entry (empty: unknown).
  std::string NodeAt(int index) const;
  std::string upstream_node() const { return NodeAt(stage_index - 1); }
  std::string downstream_node() const { return NodeAt(stage_index + 1); }
  std::string entry_node() const { return NodeAt(0); }
  std::string last_node() const { return stage_nodes.empty() ? "" : stage_nodes.back(); }
  bool is_last() const { return end_layer == num_layers; }
};
Status ValidateLoadSpec(const LoadSpec& s);

struct SegmentSlot {
  LoadSpec spec;
  SegmentState state = SegmentState::kLoading;
  std::shared_ptr<SegmentExecutor> exec;  // set once ready; jobs hold a reference
  std::string error;                      // when failed
  bool active = false;                    // entry: receives new requests
  uint32_t in_compute = 0;                // queued or running on the compute pool
  uint32_t in_flight_entry = 0;           // entry: accepted requests awaiting their result
  uint64_t requests_total = 0;
  uint64_t failures_total = 0;
  uint64_t requests_at_last_report = 0;
  // Nanoseconds the compute pool spent on this segment's jobs (shared with the running jobs,
  // which may outlive the slot), and its value at the last report.
  std::shared_ptr<std::atomic<int64_t>> busy_ns = std::make_shared<std::atomic<int64_t>>(0);
  int64_t busy_ns_at_last_report = 0;
  // Entry: latencies (ms, from the client's request to its answer) of the requests answered
  // since the last report (SegmentStats.answered_p50_ms), at most kAnsweredMax of them.
  std::vector<double> answered_ms;
  static constexpr size_t kAnsweredMax = 4096;
  std::deque<std::vector<double>> recent_layer_ms;  // last kLayerWindow runs

  static constexpr size_t kLayerWindow = 32;
  // A level shift of the run's total time over the last kShiftRuns runs (level_shift.h)
  // restarts the window from them: a node that got slower reads as slower within those runs.
  static constexpr size_t kShiftRuns = 6;
  static constexpr double kShiftFactor = 1.5;
  void RecordRun(std::vector<double> layer_ms);
  std::vector<double> MedianLayerMs() const;
};

class SegmentTable {
 public:
  // Adds a slot in `loading`. already_exists if the key is held and not failed/unloaded.
  Status BeginLoad(const LoadSpec& spec);
  // loading -> ready (with the executor) or failed. not_found if the slot was unloaded meanwhile.
  Status FinishLoad(const SegmentKey& key, Result<std::shared_ptr<SegmentExecutor>> loaded);
  // Entry: makes `epoch` the one new requests go to. Other epochs stay loaded.
  Status Activate(const SegmentKey& key);
  // ready -> draining; the entry stops routing new requests to it.
  Status Drain(const SegmentKey& key);
  // Removes the slot (running jobs keep the executor alive until they finish).
  Status Unload(const SegmentKey& key);

  SegmentSlot* Find(const SegmentKey& key);
  // The active epoch of `deployment` at this entry, if any.
  std::optional<uint64_t> ActiveEpoch(const std::string& deployment) const;

  // Routing of a client request at the entry (epoch 0 = active). Errors carry the reject reason
  // (unknown_epoch, spec_mismatch) or unavailable (draining / not ready).
  Result<SegmentSlot*> RouteRequest(const std::string& deployment, uint64_t epoch, std::optional<transport::RejectReason>* reason);
  // Routing of an activation from the previous stage: the (deployment, epoch) must be held,
  // ready or draining, and start at `layer`.
  Result<SegmentSlot*> RouteActivation(const std::string& deployment, uint64_t epoch, int layer,
                                       std::optional<transport::RejectReason>* reason);
  // Checks the frame's tensor against what the slot's segment expects.
  static Status CheckInput(const SegmentSlot& slot, DType dtype, const std::vector<int64_t>& shape);

  const std::map<SegmentKey, SegmentSlot>& slots() const { return slots_; }
  size_t ready_count() const;

 private:
  std::map<SegmentKey, SegmentSlot> slots_;
  std::map<std::string, uint64_t> active_;  // deployment -> active epoch (entry)
};

}  // namespace edgesplit::agent
