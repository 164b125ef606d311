#include "agent/daemon/agent_metrics.h"

namespace edgesplit::agent {

using namespace prometheus;

AgentMetrics::AgentMetrics() : registry_(std::make_shared<Registry>()) {
  auto& fin = BuildCounter().Name("edgesplit_agent_frames_in_total").Help("Data frames received, by kind").Register(*registry_);
  auto& fout = BuildCounter().Name("edgesplit_agent_frames_out_total").Help("Data frames sent, by kind").Register(*registry_);
  auto& bin = BuildCounter().Name("edgesplit_agent_bytes_in_total").Help("Data frame payload bytes received, by kind").Register(*registry_);
  auto& bout = BuildCounter().Name("edgesplit_agent_bytes_out_total").Help("Data frame payload bytes sent, by kind").Register(*registry_);
  for (int k = 0; k < 7; ++k) {
    const std::string kind = transport::FrameKindName(static_cast<transport::FrameKind>(k));
    frames_in_[k] = &fin.Add({{"kind", kind}});
    frames_out_[k] = &fout.Add({{"kind", kind}});
    bytes_in_[k] = &bin.Add({{"kind", kind}});
    bytes_out_[k] = &bout.Add({{"kind", kind}});
  }
  auto& rej = BuildCounter().Name("edgesplit_agent_rejected_frames_total").Help("Frames rejected (connection closed), by reason").Register(*registry_);
  for (int r = 0; r < transport::kNumRejectReasons; ++r)
    rejected_[r] = &rej.Add({{"reason", transport::RejectReasonName(static_cast<transport::RejectReason>(r))}});
  compute_ = &BuildHistogram().Name("edgesplit_agent_compute_seconds").Help("Segment compute time per stage run (emulated slowdown included)")
                  .Register(*registry_)
                  .Add({}, Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  auto& req = BuildCounter().Name("edgesplit_agent_requests_total").Help("Client requests finished at this entry, by outcome").Register(*registry_);
  requests_ok_ = &req.Add({{"outcome", "ok"}});
  requests_failed_ = &req.Add({{"outcome", "error"}});
  retried_ = &BuildCounter().Name("edgesplit_agent_requests_retried_total")
                  .Help("Entry requests resubmitted to a newer epoch (a stage of the old one failed or was lost)")
                  .Register(*registry_).Add({});
  overloaded_ = &BuildCounter().Name("edgesplit_agent_overloaded_total").Help("Work refused because the compute queue was full").Register(*registry_).Add({});
  auto& emu = BuildCounter().Name("edgesplit_agent_emulation_updates_total")
                  .Help("PUT /v1/emulation requests (test feature), by outcome").Register(*registry_);
  emulation_applied_ = &emu.Add({{"outcome", "applied"}});
  emulation_rejected_ = &emu.Add({{"outcome", "rejected"}});
  queue_depth = &BuildGauge().Name("edgesplit_agent_queue_depth").Help("Jobs queued or running on the compute pool").Register(*registry_).Add({});
  segments_loaded = &BuildGauge().Name("edgesplit_agent_segments_loaded").Help("Segments ready or draining").Register(*registry_).Add({});
  heartbeat_lag_seconds = &BuildGauge().Name("edgesplit_agent_heartbeat_lag_seconds").Help("Seconds since the last heartbeat was sent").Register(*registry_).Add({});
  control_connected = &BuildGauge().Name("edgesplit_agent_control_connected").Help("1 while registered with the orchestrator").Register(*registry_).Add({});
  entry_in_flight = &BuildGauge().Name("edgesplit_agent_entry_in_flight").Help("Requests accepted by this entry awaiting their result").Register(*registry_).Add({});
}

void AgentMetrics::FrameIn(transport::FrameKind k, size_t bytes) {
  const int i = static_cast<int>(k);
  if (i < 0 || i >= 7) return;
  frames_in_[i]->Increment();
  bytes_in_[i]->Increment(static_cast<double>(bytes));
}

void AgentMetrics::FrameOut(transport::FrameKind k, size_t bytes) {
  const int i = static_cast<int>(k);
  if (i < 0 || i >= 7) return;
  frames_out_[i]->Increment();
  bytes_out_[i]->Increment(static_cast<double>(bytes));
}

}  // namespace edgesplit::agent
