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
  // A TLS connection refused before any frame: handshake | bad_certificate | revoked.
  void TlsRefused(const std::string& reason) { tls_refused_family_->Add({{"reason", reason}}).Increment(); }
  double TlsRefusedCount(const std::string& reason) const;
  void ComputeSeconds(double s) { compute_->Observe(s); }
  void RequestDone(bool ok) { (ok ? requests_ok_ : requests_failed_)->Increment(); }
  void Overloaded() { overloaded_->Increment(); }
  // edgesplit_agent_blas_kernels{core, detected, source} 1: the OpenBLAS kernels in use.
  void BlasKernels(const std::string& core, const std::string& detected, const std::string& source);
  void RequestRetried() { retried_->Increment(); }
  double RetriedCount() const { return retried_->Value(); }
  void EmulationUpdate(bool applied) { (applied ? emulation_applied_ : emulation_rejected_)->Increment(); }
  double EmulationUpdates(bool applied) const { return (applied ? emulation_applied_ : emulation_rejected_)->Value(); }

  // Resource limits of the listening ports (port: data | http; bounded reasons, see AcceptGate
  // and HttpServerCounters).
  void ConnectionRefused(const std::string& port, const char* reason);
  void AcceptError(const std::string& port, const char* reason);
  void HttpRequestRefused(const char* reason);
  double ConnectionsRefusedCount(const std::string& port, const std::string& reason) const;

  // Generation sessions.
  void SessionRefused(const char* reason);  // bounded: RefuseReasonName values and "invalid"
  void SessionEnded(const char* reason);    // completed | stopped | cancelled | expired | failed
  void TokensGenerated(double n) { tokens_->Increment(n); }
  void FirstToken(const std::string& deployment, double seconds);
  void InterToken(const std::string& deployment, double seconds);
  void KvReclaimed(double n) { kv_reclaimed_->Increment(n); }
  // A live session moved to another epoch: how (rebuilt: prefill of its history; copied: KV
  // sent between agents) and why (planned: a migration or re-split; lost: a stage node was lost).
  void SessionMoved(const char* how, const char* reason);
  double SessionsMovedCount(const std::string& how, const std::string& reason) const;
  void SessionStall(const std::string& deployment, double seconds);
  void KvMoved(double bytes) { kv_moved_->Increment(bytes); }
  // Entry: a session's KV copy failed (an old holder did not deliver in time) and the session
  // rebuilt its KV by a prefill instead.
  void KvCopyFallback() { kv_copy_fallbacks_->Increment(); }
  double KvMovedBytes() const { return kv_moved_->Value(); }
  double SessionsEndedCount(const std::string& reason) const;
  double SessionsRefusedCount(const std::string& reason) const;

  prometheus::Gauge* sessions_active;  // entry: sessions streaming to clients
  prometheus::Gauge* kv_sessions;      // sessions whose state this agent holds
  prometheus::Gauge* kv_bytes;         // KV bytes reserved
  prometheus::Gauge* queue_depth;
  prometheus::Gauge* segments_loaded;
  prometheus::Gauge* heartbeat_lag_seconds;
  prometheus::Gauge* control_connected;
  prometheus::Gauge* entry_in_flight;
  double RejectedCount(transport::RejectReason r) const { return rejected_[static_cast<int>(r)]->Value(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  static constexpr int kKinds = 15;
  std::array<prometheus::Counter*, kKinds> frames_in_{}, frames_out_{}, bytes_in_{}, bytes_out_{};
  prometheus::Family<prometheus::Counter>* refused_family_;
  prometheus::Family<prometheus::Counter>* tls_refused_family_;
  prometheus::Family<prometheus::Counter>* connections_refused_;
  prometheus::Family<prometheus::Counter>* accept_errors_;
  prometheus::Family<prometheus::Counter>* http_refused_;
  prometheus::Family<prometheus::Counter>* ended_family_;
  prometheus::Family<prometheus::Histogram>* ttft_family_;
  prometheus::Family<prometheus::Histogram>* itl_family_;
  prometheus::Family<prometheus::Counter>* moved_family_;
  prometheus::Family<prometheus::Histogram>* stall_family_;
  prometheus::Counter* kv_moved_;
  prometheus::Counter* kv_copy_fallbacks_;
  prometheus::Counter* tokens_;
  prometheus::Counter* kv_reclaimed_;
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
