#include "orchestrator/daemon/proto_convert.h"

namespace edgesplit::orch {

namespace {
LinkReport LinkFromProto(const v1::LinkMeasurement& l) {
  return {l.peer(), l.peer_address(), l.rtt_ms(), l.bandwidth_mbps(), l.error(), l.source(), l.measured_unix_ms()};
}
void LinkToProto(const LinkReport& l, v1::LinkMeasurement* p) {
  p->set_peer(l.peer);
  p->set_peer_address(l.peer_address);
  p->set_rtt_ms(l.rtt_ms);
  p->set_bandwidth_mbps(l.bandwidth_mbps);
  p->set_error(l.error);
  p->set_source(l.source);
  p->set_measured_unix_ms(l.measured_unix_ms);
}
}  // namespace

CapacityReport FromProto(const v1::CapacityProfile& p) {
  CapacityReport c;
  c.version = p.version();
  c.cores = p.cores();
  c.cpu_utilization = p.cpu_utilization();
  c.memory_total_bytes = p.memory_total_bytes();
  c.memory_available_bytes = p.memory_available_bytes();
  c.compute_slowdown = p.compute_slowdown() > 0 ? p.compute_slowdown() : 1.0;
  c.egress_mbps = p.egress_mbps();
  c.speed_factor = p.speed_factor();
  c.active_sessions = p.active_sessions();
  c.kv_bytes = p.kv_bytes();
  c.kv_budget_bytes = p.kv_budget_bytes();
  for (const auto& s : p.segments()) {
    SegmentReport r;
    r.deployment = s.deployment();
    r.epoch = s.epoch();
    r.model = s.model();
    r.first_layer = s.first_layer();
    r.end_layer = s.end_layer();
    r.layer_ms.assign(s.layer_ms().begin(), s.layer_ms().end());
    r.queue_depth = s.queue_depth();
    r.request_rate = s.request_rate();
    r.state = s.state();
    r.downstream_address = s.downstream_address();
    r.active = s.active();
    r.requests_total = s.requests_total();
    r.failures_total = s.failures_total();
    r.live_sessions = s.live_sessions();
    r.session_tokens = s.session_tokens();
    r.busy_fraction = s.busy_fraction();
    r.answered = s.answered();
    r.answered_p50_ms = s.answered_p50_ms();
    c.segments.push_back(std::move(r));
  }
  for (const auto& l : p.links()) c.links.push_back(LinkFromProto(l));
  return c;
}

void ToProto(const CapacityReport& c, v1::CapacityProfile* p) {
  p->set_version(c.version);
  p->set_cores(c.cores);
  p->set_cpu_utilization(c.cpu_utilization);
  p->set_memory_total_bytes(c.memory_total_bytes);
  p->set_memory_available_bytes(c.memory_available_bytes);
  p->set_compute_slowdown(c.compute_slowdown);
  p->set_egress_mbps(c.egress_mbps);
  p->set_speed_factor(c.speed_factor);
  p->set_active_sessions(c.active_sessions);
  p->set_kv_bytes(c.kv_bytes);
  p->set_kv_budget_bytes(c.kv_budget_bytes);
  for (const auto& r : c.segments) {
    auto* s = p->add_segments();
    s->set_deployment(r.deployment);
    s->set_epoch(r.epoch);
    s->set_model(r.model);
    s->set_first_layer(r.first_layer);
    s->set_end_layer(r.end_layer);
    for (double d : r.layer_ms) s->add_layer_ms(d);
    s->set_queue_depth(r.queue_depth);
    s->set_request_rate(r.request_rate);
    s->set_state(r.state);
    s->set_downstream_address(r.downstream_address);
    s->set_active(r.active);
    s->set_requests_total(r.requests_total);
    s->set_failures_total(r.failures_total);
    s->set_busy_fraction(r.busy_fraction);
    s->set_answered(r.answered);
    s->set_answered_p50_ms(r.answered_p50_ms);
    s->set_live_sessions(r.live_sessions);
    s->set_session_tokens(r.session_tokens);
  }
  for (const auto& l : c.links) LinkToProto(l, p->add_links());
}

RegisterInfo FromProto(const v1::Register& r) {
  RegisterInfo i;
  i.node = r.node();
  i.version = r.version();
  i.capacity = FromProto(r.capacity());
  i.data_address = r.data_address();
  i.trusted = r.trusted();
  i.models.assign(r.models().begin(), r.models().end());
  i.incarnation = r.incarnation();
  return i;
}

void ToProto(const RegisterInfo& r, v1::Register* p) {
  p->set_node(r.node);
  p->set_version(r.version);
  ToProto(r.capacity, p->mutable_capacity());
  p->set_data_address(r.data_address);
  p->set_trusted(r.trusted);
  for (const auto& m : r.models) p->add_models(m);
  p->set_incarnation(r.incarnation);
}

AckInfo FromProto(const v1::CommandAck& a) {
  AckInfo i;
  i.command_id = a.command_id();
  i.ok = a.ok();
  i.error_code = a.error_code();
  i.error = a.error();
  for (const auto& l : a.links()) i.links.push_back(LinkFromProto(l));
  return i;
}

void ToProto(const AckInfo& a, v1::CommandAck* p) {
  p->set_command_id(a.command_id);
  p->set_ok(a.ok);
  p->set_error_code(a.error_code);
  p->set_error(a.error);
  for (const auto& l : a.links) LinkToProto(l, p->add_links());
}

namespace {
void StageToProto(const StageTarget& t, v1::StageRef* r) {
  r->set_node(t.node);
  r->set_data_address(t.data_address);
  r->set_first_layer(t.first_layer);
  r->set_end_layer(t.end_layer);
}
StageTarget StageFromProto(const v1::StageRef& r) { return {r.node(), r.data_address(), r.first_layer(), r.end_layer()}; }
}  // namespace

void ToProto(const AgentCommand& c, v1::Command* p) {
  p->set_command_id(c.id);
  switch (c.kind) {
    case CommandKind::kLoad: {
      auto* l = p->mutable_load();
      l->set_deployment(c.deployment);
      l->set_epoch(c.epoch);
      l->set_model(c.model);
      l->set_first_layer(c.first_layer);
      l->set_end_layer(c.end_layer);
      l->set_downstream_address(c.downstream_address);
      l->set_entry_address(c.entry_address);
      l->set_is_entry(c.is_entry);
      l->set_num_layers(c.num_layers);
      for (const auto& n : c.stage_nodes) l->add_stage_nodes(n);
      l->set_stage_index(c.stage_index);
      for (const auto& t : c.stages) StageToProto(t, l->add_stages());
      l->set_carry_from_epoch(c.carry_from_epoch);
      for (const auto& t : c.carry_from) StageToProto(t, l->add_carry_from());
      break;
    }
    case CommandKind::kActivate:
      p->mutable_activate()->set_deployment(c.deployment);
      p->mutable_activate()->set_epoch(c.epoch);
      p->mutable_activate()->set_retry_in_flight(c.retry_in_flight);
      break;
    case CommandKind::kDrain:
      p->mutable_drain()->set_deployment(c.deployment);
      p->mutable_drain()->set_epoch(c.epoch);
      break;
    case CommandKind::kUnload:
      p->mutable_unload()->set_deployment(c.deployment);
      p->mutable_unload()->set_epoch(c.epoch);
      break;
    case CommandKind::kProbe: {
      auto* pr = p->mutable_probe();
      pr->set_probe_bytes(c.probe_bytes);
      for (const auto& [node, addr] : c.peers) {
        auto* peer = pr->add_peers();
        peer->set_node(node);
        peer->set_data_address(addr);
      }
      break;
    }
  }
}

AgentCommand FromProto(const v1::Command& p) {
  AgentCommand c;
  c.id = p.command_id();
  switch (p.kind_case()) {
    case v1::Command::kLoad:
      c.kind = CommandKind::kLoad;
      c.deployment = p.load().deployment();
      c.epoch = p.load().epoch();
      c.model = p.load().model();
      c.first_layer = p.load().first_layer();
      c.end_layer = p.load().end_layer();
      c.downstream_address = p.load().downstream_address();
      c.entry_address = p.load().entry_address();
      c.is_entry = p.load().is_entry();
      c.num_layers = p.load().num_layers();
      c.stage_nodes.assign(p.load().stage_nodes().begin(), p.load().stage_nodes().end());
      c.stage_index = p.load().stage_index();
      for (const auto& r : p.load().stages()) c.stages.push_back(StageFromProto(r));
      c.carry_from_epoch = p.load().carry_from_epoch();
      for (const auto& r : p.load().carry_from()) c.carry_from.push_back(StageFromProto(r));
      break;
    case v1::Command::kActivate:
      c.kind = CommandKind::kActivate;
      c.deployment = p.activate().deployment();
      c.epoch = p.activate().epoch();
      c.retry_in_flight = p.activate().retry_in_flight();
      break;
    case v1::Command::kDrain:
      c.kind = CommandKind::kDrain;
      c.deployment = p.drain().deployment();
      c.epoch = p.drain().epoch();
      break;
    case v1::Command::kUnload:
      c.kind = CommandKind::kUnload;
      c.deployment = p.unload().deployment();
      c.epoch = p.unload().epoch();
      break;
    case v1::Command::kProbe:
      c.kind = CommandKind::kProbe;
      c.probe_bytes = p.probe().probe_bytes();
      for (const auto& peer : p.probe().peers()) c.peers.emplace_back(peer.node(), peer.data_address());
      break;
    default:
      break;
  }
  return c;
}

}  // namespace edgesplit::orch
