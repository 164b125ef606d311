#include "orchestrator/daemon/metrics.h"

namespace edgesplit::orch {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

OrchestratorMetrics::OrchestratorMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  nodes_ = &BuildGauge().Name("edgesplit_orchestrator_nodes").Help("Nodes by liveness state").Register(r);
  node_up_ = &BuildGauge().Name("edgesplit_orchestrator_node_up").Help("1 when the node is alive").Register(r);
  node_cpu_ = &BuildGauge().Name("edgesplit_orchestrator_node_cpu_utilization_ratio").Help("Reported CPU utilisation").Register(r);
  node_mem_ = &BuildGauge().Name("edgesplit_orchestrator_node_memory_available_bytes").Help("Reported available memory").Register(r);
  node_speed_ = &BuildGauge().Name("edgesplit_orchestrator_node_speed_ratio").Help("Effective compute speed vs the reference").Register(r);
  node_mem_total_ = &BuildGauge().Name("edgesplit_orchestrator_node_memory_total_bytes").Help("Reported total memory").Register(r);
  link_bandwidth_ = &BuildGauge().Name("edgesplit_orchestrator_link_bandwidth_bytes_per_second")
                        .Help("Bandwidth the source node measured towards the peer (probes and transfers)").Register(r);
  slo_ = &BuildGauge().Name("edgesplit_orchestrator_slo_latency_seconds").Help("Deployment's latency SLO (only when it has one)").Register(r);
  request_seconds_ = &BuildHistogram().Name("edgesplit_orchestrator_request_duration_seconds")
                          .Help("End-to-end latency of gateway requests (retries included)").Register(r);
  requests_total_ = &BuildCounter().Name("edgesplit_orchestrator_requests_total").Help("Gateway requests finished").Register(r);
  failures_total_ = &BuildCounter().Name("edgesplit_orchestrator_request_failures_total").Help("Gateway requests failed, by reason").Register(r);
  predicted_ = &BuildGauge().Name("edgesplit_orchestrator_predicted_latency_seconds").Help("Planner's latency of the current plan").Register(r);
  observed_ = &BuildGauge().Name("edgesplit_orchestrator_observed_latency_p50_seconds").Help("Median observed latency over the SLO window").Register(r);
  epoch_ = &BuildGauge().Name("edgesplit_orchestrator_deployment_epoch").Help("Committed epoch").Register(r);
  reconfigurations_ = &BuildCounter().Name("edgesplit_orchestrator_reconfigurations_total").Help("Committed reconfigurations by kind and reason").Register(r);
  inflight_ = &BuildGauge().Name("edgesplit_orchestrator_inflight_requests").Help("Gateway requests queued or running").Register(r);
  rejected_ = &BuildCounter().Name("edgesplit_orchestrator_rejected_http_requests_total").Help("REST requests refused, by error code").Register(r);
  control_msgs_ = &BuildCounter().Name("edgesplit_orchestrator_control_messages_total").Help("Control messages received, by kind").Register(r);
  bad_control_ = &BuildCounter().Name("edgesplit_orchestrator_bad_control_messages_total").Help("Control connections closed for bad input, by reason").Register(r);
  control_refused_ = &BuildCounter().Name("edgesplit_orchestrator_control_refused_total")
                         .Help("Control connections refused for their identity (TLS, certificate name, incarnation), by reason").Register(r);
  for (const char* reason : {"handshake", "bad_certificate", "not_allowed", "name_mismatch", "older_incarnation"})
    control_refused_->Add({{"reason", reason}});
  connections_refused_ = &BuildCounter().Name("edgesplit_orchestrator_connections_refused_total")
                              .Help("Connections closed at accept by a connection cap, by port and reason").Register(r);
  accept_errors_ = &BuildCounter().Name("edgesplit_orchestrator_accept_errors_total")
                        .Help("Failed accepts (fd_exhausted: out of file descriptors, the loop backs off), by port and reason")
                        .Register(r);
  http_refused_ = &BuildCounter().Name("edgesplit_orchestrator_http_requests_refused_total")
                       .Help("HTTP requests refused before their body was read (or dropped for a slow header), by reason")
                       .Register(r);
  for (const char* port : {"control", "http"}) {
    for (const char* reason : {"max_connections", "max_per_peer"}) connections_refused_->Add({{"port", port}, {"reason", reason}});
    accept_errors_->Add({{"port", port}, {"reason", "fd_exhausted"}});
  }
  heartbeat_lag_ = &BuildHistogram().Name("edgesplit_orchestrator_heartbeat_lag_seconds")
                        .Help("Heartbeat processed time minus sent time").Register(r)
                        .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1});
  adaptation_ = &BuildHistogram().Name("edgesplit_orchestrator_adaptation_seconds")
                     .Help("Trigger observed to new epoch committed").Register(r)
                     .Add({}, prometheus::Histogram::BucketBoundaries{0.1, 0.25, 0.5, 1, 2, 5, 10, 30});
  events_ = &BuildCounter().Name("edgesplit_orchestrator_events_total").Help("Events recorded, by type and kind").Register(r);
  generate_requests_ = &BuildCounter().Name("edgesplit_orchestrator_generate_requests_total")
                            .Help("Generation sessions through the gateway, by outcome (ok, cancelled or a status code)").Register(r);
  generate_ttft_ = &BuildHistogram().Name("edgesplit_orchestrator_generate_time_to_first_token_seconds")
                        .Help("Gateway submission to first token relayed (queueing and retries included)").Register(r);
  generate_inter_token_ = &BuildHistogram().Name("edgesplit_orchestrator_generate_inter_token_seconds")
                               .Help("Time between consecutive tokens relayed by the gateway").Register(r);
  generated_tokens_ = &BuildCounter().Name("edgesplit_orchestrator_generated_tokens_total")
                           .Help("Tokens relayed to generation clients").Register(r);
}

void OrchestratorMetrics::ObserveGenerate(const GenerateObservation& g) {
  generate_requests_->Add({{"deployment", g.deployment}, {"outcome", g.outcome}}).Increment();
  if (g.tokens > 0) generated_tokens_->Add({{"deployment", g.deployment}}).Increment(static_cast<double>(g.tokens));
  if (g.ttft_ms >= 0) {
    generate_ttft_
        ->Add({{"deployment", g.deployment}},
              prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})
        .Observe(g.ttft_ms / 1e3);
  }
  if (!g.inter_token_ms.empty()) {
    auto& h = generate_inter_token_->Add(
        {{"deployment", g.deployment}},
        prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1});
    for (double ms : g.inter_token_ms) h.Observe(ms / 1e3);
  }
}

void OrchestratorMetrics::ObserveRequest(const GatewayResult& r) {
  requests_total_->Add({{"deployment", r.deployment}}).Increment();
  if (r.ok) {
    request_seconds_
        ->Add({{"deployment", r.deployment}},
              prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})
        .Observe(r.latency_ms / 1e3);
  } else {
    failures_total_->Add({{"deployment", r.deployment}, {"reason", r.error_code}}).Increment();
  }
}

void OrchestratorMetrics::ControlMessage(const std::string& kind) { control_msgs_->Add({{"kind", kind}}).Increment(); }
void OrchestratorMetrics::ControlRefused(const std::string& reason) { control_refused_->Add({{"reason", reason}}).Increment(); }
void OrchestratorMetrics::BadControlMessage(const std::string& reason) { bad_control_->Add({{"reason", reason}}).Increment(); }
void OrchestratorMetrics::HeartbeatLag(double seconds) { heartbeat_lag_->Observe(seconds); }
void OrchestratorMetrics::ConnectionRefused(const std::string& port, const char* reason) {
  connections_refused_->Add({{"port", port}, {"reason", reason}}).Increment();
}
void OrchestratorMetrics::AcceptError(const std::string& port, const char* reason) {
  accept_errors_->Add({{"port", port}, {"reason", reason}}).Increment();
}
void OrchestratorMetrics::HttpRequestRefused(const char* reason) { http_refused_->Add({{"reason", reason}}).Increment(); }

void OrchestratorMetrics::Refresh(const Controller& c, TimePoint now, size_t inflight,
                                  const std::map<std::string, uint64_t>& rejected) {
  for (NodeState s : {NodeState::kAlive, NodeState::kSuspect, NodeState::kDead})
    nodes_->Add({{"state", NodeStateName(s)}}).Set(static_cast<double>(c.registry().CountIn(s)));
  if (c.registry().nodes().size() <= 1000) {
    for (const auto& [name, n] : c.registry().nodes()) {
      node_up_->Add({{"node", name}}).Set(n.state == NodeState::kAlive ? 1 : 0);
      node_cpu_->Add({{"node", name}}).Set(n.profile.cpu_utilization);
      node_mem_->Add({{"node", name}}).Set(static_cast<double>(n.profile.memory_available_bytes));
      node_speed_->Add({{"node", name}}).Set(n.EffectiveSpeed());
      node_mem_total_->Add({{"node", name}}).Set(static_cast<double>(n.profile.memory_total_bytes));
    }
  }
  // Pairs grow with the square of the nodes: exported for sites of at most 64 (4032 series).
  if (c.registry().nodes().size() <= 64) {
    for (const auto& [name, n] : c.registry().nodes()) {
      for (const auto& l : n.profile.links) {
        if (!l.error.empty() || l.bandwidth_mbps <= 0 || l.peer.empty()) continue;
        link_bandwidth_->Add({{"from", name}, {"to", l.peer}}).Set(l.bandwidth_mbps * 1e6 / 8);
      }
    }
  }
  for (const auto& [name, d] : c.deployments()) {
    predicted_->Add({{"deployment", name}}).Set(d.predicted_latency_ms / 1e3);
    observed_->Add({{"deployment", name}}).Set(d.ObservedP50(now, c.policy().slo_window) / 1e3);
    epoch_->Add({{"deployment", name}}).Set(static_cast<double>(d.epoch));
    if (d.spec.slo_latency_ms > 0) slo_->Add({{"deployment", name}}).Set(d.spec.slo_latency_ms / 1e3);
  }
  auto mirror = [&](prometheus::Family<prometheus::Counter>* f, const std::map<std::string, std::string>& labels,
                    const std::string& key, double value) {
    double& last = counted_[key];
    if (value > last) f->Add(labels).Increment(value - last);
    last = value;
  };
  for (const auto& rc : c.reconfigurations())
    mirror(reconfigurations_, {{"kind", rc.kind}, {"reason", rc.reason}}, "reconf/" + rc.kind + "/" + rc.reason,
           static_cast<double>(rc.count));
  for (const auto& [code, n] : rejected) mirror(rejected_, {{"code", code}}, "rej/" + code, static_cast<double>(n));
  inflight_->Add({}).Set(static_cast<double>(inflight));
  const auto& adapt = c.adaptation_ms();
  // adaptation_ms is a bounded deque; observe the entries added since the last refresh.
  size_t total = adaptations_seen_;
  (void)total;
  for (const auto& e : c.events().Since(last_event_seq_, 100000)) {
    events_->Add({{"type", e.type}, {"kind", e.kind}}).Increment();
    if (e.type == "rollout" && e.kind == "draining" && e.reason.rfind("committed", 0) == 0) adaptation_->Observe(e.duration_ms / 1e3);
    last_event_seq_ = e.seq;
  }
  (void)adapt;
}

}  // namespace edgesplit::orch
