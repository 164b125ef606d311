#include "agent/daemon/agent_metrics.h"

namespace edgesplit::agent {

using namespace prometheus;

AgentMetrics::AgentMetrics() : registry_(std::make_shared<Registry>()) {
  auto& fin = BuildCounter().Name("edgesplit_agent_frames_in_total").Help("Data frames received, by kind").Register(*registry_);
  auto& fout = BuildCounter().Name("edgesplit_agent_frames_out_total").Help("Data frames sent, by kind").Register(*registry_);
  auto& bin = BuildCounter().Name("edgesplit_agent_bytes_in_total").Help("Data frame payload bytes received, by kind").Register(*registry_);
  auto& bout = BuildCounter().Name("edgesplit_agent_bytes_out_total").Help("Data frame payload bytes sent, by kind").Register(*registry_);
  for (int k = 0; k < kKinds; ++k) {
    const std::string kind = transport::FrameKindName(static_cast<transport::FrameKind>(k));
    frames_in_[k] = &fin.Add({{"kind", kind}});
    frames_out_[k] = &fout.Add({{"kind", kind}});
    bytes_in_[k] = &bin.Add({{"kind", kind}});
    bytes_out_[k] = &bout.Add({{"kind", kind}});
  }
  auto& rej = BuildCounter().Name("edgesplit_agent_rejected_frames_total").Help("Frames rejected (connection closed), by reason").Register(*registry_);
  for (int r = 0; r < transport::kNumRejectReasons; ++r)
    rejected_[r] = &rej.Add({{"reason", transport::RejectReasonName(static_cast<transport::RejectReason>(r))}});
  tls_refused_family_ = &BuildCounter().Name("edgesplit_agent_tls_refused_total")
                             .Help("Data connections refused at the TLS handshake, by reason").Register(*registry_);
  for (const char* r : {"handshake", "bad_certificate", "revoked"}) tls_refused_family_->Add({{"reason", r}});
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
  connections_refused_ = &BuildCounter().Name("edgesplit_agent_connections_refused_total")
                              .Help("Connections closed at accept by a connection cap, by port and reason").Register(*registry_);
  accept_errors_ = &BuildCounter().Name("edgesplit_agent_accept_errors_total")
                        .Help("Failed accepts (fd_exhausted: out of file descriptors, the loop backs off), by port and reason")
                        .Register(*registry_);
  http_refused_ = &BuildCounter().Name("edgesplit_agent_http_requests_refused_total")
                       .Help("HTTP requests refused before their body was read (or dropped for a slow header), by reason")
                       .Register(*registry_);
  for (const char* port : {"data", "http"}) {
    for (const char* r : {"max_connections", "max_per_peer"}) connections_refused_->Add({{"port", port}, {"reason", r}});
    accept_errors_->Add({{"port", port}, {"reason", "fd_exhausted"}});
  }
  refused_family_ = &BuildCounter().Name("edgesplit_agent_sessions_refused_total")
                         .Help("Generation sessions (or their steps) refused here, by reason").Register(*registry_);
  ended_family_ = &BuildCounter().Name("edgesplit_agent_sessions_ended_total")
                       .Help("Generation sessions ended at this entry, by reason").Register(*registry_);
  for (const char* r : {"sessions", "kv_memory", "context", "unknown_session", "bad_position", "invalid"}) refused_family_->Add({{"reason", r}});
  for (const char* r : {"completed", "stopped", "cancelled", "expired", "failed"}) ended_family_->Add({{"reason", r}});
  ttft_family_ = &BuildHistogram().Name("edgesplit_agent_time_to_first_token_seconds")
                      .Help("Entry: from a GENERATE frame to its first token, per deployment").Register(*registry_);
  itl_family_ = &BuildHistogram().Name("edgesplit_agent_inter_token_seconds")
                     .Help("Entry: interval between consecutive tokens of a session, per deployment").Register(*registry_);
  moved_family_ = &BuildCounter().Name("edgesplit_agent_sessions_moved_total")
                       .Help("Entry: live sessions moved to a newer epoch, by how (rebuilt|copied) and reason (planned|lost)")
                       .Register(*registry_);
  for (const char* how : {"rebuilt", "copied"})
    for (const char* r : {"planned", "lost"}) moved_family_->Add({{"how", how}, {"reason", r}});
  stall_family_ = &BuildHistogram().Name("edgesplit_agent_session_stall_seconds")
                       .Help("Entry: extra delay of the first token after a session moved, over its median inter-token interval")
                       .Register(*registry_);
  kv_moved_ = &BuildCounter().Name("edgesplit_agent_kv_moved_bytes_total")
                   .Help("KV cache bytes this agent sent to another agent for a moving session").Register(*registry_).Add({});
  kv_copy_fallbacks_ = &BuildCounter().Name("edgesplit_agent_kv_copy_fallbacks_total")
                           .Help("Entry: live sessions whose KV copy failed and that rebuilt their KV by a prefill instead")
                           .Register(*registry_).Add({});
  tokens_ = &BuildCounter().Name("edgesplit_agent_generated_tokens_total").Help("Tokens streamed by this entry").Register(*registry_).Add({});
  kv_reclaimed_ = &BuildCounter().Name("edgesplit_agent_kv_sessions_reclaimed_total")
                       .Help("Session states freed because no step came within session_idle_timeout_ms").Register(*registry_).Add({});
  sessions_active = &BuildGauge().Name("edgesplit_agent_sessions_active").Help("Entry: generation sessions streaming").Register(*registry_).Add({});
  kv_sessions = &BuildGauge().Name("edgesplit_agent_kv_sessions").Help("Generation sessions whose KV state this agent holds").Register(*registry_).Add({});
  kv_bytes = &BuildGauge().Name("edgesplit_agent_kv_bytes").Help("KV cache bytes reserved by sessions on this agent").Register(*registry_).Add({});
  queue_depth = &BuildGauge().Name("edgesplit_agent_queue_depth").Help("Jobs queued or running on the compute pool").Register(*registry_).Add({});
  segments_loaded = &BuildGauge().Name("edgesplit_agent_segments_loaded").Help("Segments ready or draining").Register(*registry_).Add({});
  heartbeat_lag_seconds = &BuildGauge().Name("edgesplit_agent_heartbeat_lag_seconds").Help("Seconds since the last heartbeat was sent").Register(*registry_).Add({});
  control_connected = &BuildGauge().Name("edgesplit_agent_control_connected").Help("1 while registered with the orchestrator").Register(*registry_).Add({});
  entry_in_flight = &BuildGauge().Name("edgesplit_agent_entry_in_flight").Help("Requests accepted by this entry awaiting their result").Register(*registry_).Add({});
}

namespace {
const Histogram::BucketBoundaries& TokenBuckets() {
  static const Histogram::BucketBoundaries b{0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10};
  return b;
}
}  // namespace

void AgentMetrics::SessionRefused(const char* reason) { refused_family_->Add({{"reason", reason}}).Increment(); }
void AgentMetrics::SessionEnded(const char* reason) { ended_family_->Add({{"reason", reason}}).Increment(); }
double AgentMetrics::SessionsEndedCount(const std::string& reason) const { return ended_family_->Add({{"reason", reason}}).Value(); }
double AgentMetrics::SessionsRefusedCount(const std::string& reason) const {
  return refused_family_->Add({{"reason", reason}}).Value();
}
void AgentMetrics::SessionMoved(const char* how, const char* reason) {
  moved_family_->Add({{"how", how}, {"reason", reason}}).Increment();
}
double AgentMetrics::SessionsMovedCount(const std::string& how, const std::string& reason) const {
  return moved_family_->Add({{"how", how}, {"reason", reason}}).Value();
}
void AgentMetrics::SessionStall(const std::string& deployment, double seconds) {
  stall_family_->Add({{"deployment", deployment}}, TokenBuckets()).Observe(seconds);
}
void AgentMetrics::FirstToken(const std::string& deployment, double seconds) {
  ttft_family_->Add({{"deployment", deployment}}, TokenBuckets()).Observe(seconds);
}
void AgentMetrics::InterToken(const std::string& deployment, double seconds) {
  itl_family_->Add({{"deployment", deployment}}, TokenBuckets()).Observe(seconds);
}

void AgentMetrics::FrameIn(transport::FrameKind k, size_t bytes) {
  const int i = static_cast<int>(k);
  if (i < 0 || i >= kKinds) return;
  frames_in_[i]->Increment();
  bytes_in_[i]->Increment(static_cast<double>(bytes));
}

void AgentMetrics::FrameOut(transport::FrameKind k, size_t bytes) {
  const int i = static_cast<int>(k);
  if (i < 0 || i >= kKinds) return;
  frames_out_[i]->Increment();
  bytes_out_[i]->Increment(static_cast<double>(bytes));
}

double AgentMetrics::TlsRefusedCount(const std::string& reason) const {
  return tls_refused_family_->Add({{"reason", reason}}).Value();
}
void AgentMetrics::ConnectionRefused(const std::string& port, const char* reason) {
  connections_refused_->Add({{"port", port}, {"reason", reason}}).Increment();
}
void AgentMetrics::AcceptError(const std::string& port, const char* reason) {
  accept_errors_->Add({{"port", port}, {"reason", reason}}).Increment();
}
void AgentMetrics::HttpRequestRefused(const char* reason) { http_refused_->Add({{"reason", reason}}).Increment(); }
double AgentMetrics::ConnectionsRefusedCount(const std::string& port, const std::string& reason) const {
  return connections_refused_->Add({{"port", port}, {"reason", reason}}).Value();
}

void AgentMetrics::BlasKernels(const std::string& core, const std::string& detected, const std::string& source) {
  prometheus::BuildGauge()
      .Name("edgesplit_agent_blas_kernels")
      .Help("OpenBLAS kernel set in use (core), the one OpenBLAS picked by itself (detected), and why (source)")
      .Register(*registry_)
      .Add({{"core", core}, {"detected", detected}, {"source", source}})
      .Set(1);
}

}  // namespace edgesplit::agent
