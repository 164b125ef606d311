// The agent's Prometheus metrics (names edgesplit_agent_<thing>_<unit>, bounded label sets).
// Thread-safe (prometheus-cpp metrics are atomic).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>

#include "agent/transport/frame.h"
#include "agent/transport/frame_header.h"

namespace edgesplit::agent {

class AgentMetrics {
 public:
  AgentMetrics();
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  void FrameIn(transport::FrameKind k, size_t bytes);
  void FrameOut(transport::FrameKind k, size_t bytes);
  void Rejected(transport::RejectReason r) { rejected_[static_cast<int>(r)]->Increment(); }
  void ComputeSeconds(double s) { compute_->Observe(s); }
  void RequestDone(bool ok) { (ok ? requests_ok_ : requests_failed_)->Increment(); }
  void Overloaded() { overloaded_->Increment(); }
  void RequestRetried() { retried_->Increment(); }
  double RetriedCount() const { return retried_->Value(); }
  void EmulationUpdate(bool applied) { (applied ? emulation_applied_ : emulation_rejected_)->Increment(); }
  double EmulationUpdates(bool applied) const { return (applied ? emulation_applied_ : emulation_rejected_)->Value(); }

  prometheus::Gauge* queue_depth;
  prometheus::Gauge* segments_loaded;
  prometheus::Gauge* heartbeat_lag_seconds;
  prometheus::Gauge* control_connected;
  prometheus::Gauge* entry_in_flight;
  double RejectedCount(transport::RejectReason r) const { return rejected_[static_cast<int>(r)]->Value(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::array<prometheus::Counter*, 7> frames_in_{}, frames_out_{}, bytes_in_{}, bytes_out_{};
  std::array<prometheus::Counter*, transport::kNumRejectReasons> rejected_{};
  prometheus::Histogram* compute_;
  prometheus::Counter* requests_ok_;
  prometheus::Counter* requests_failed_;
  prometheus::Counter* overloaded_;
  prometheus::Counter* retried_;
  prometheus::Counter* emulation_applied_;
  prometheus::Counter* emulation_rejected_;
};

}  // namespace edgesplit::agent
