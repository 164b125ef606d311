// AgentCore: control commands (load/activate/drain/unload/probe), profile, shutdown.
#include "agent/daemon/agent_core.h"
#include "agent/daemon/agent_core_conn.h"

#include <algorithm>

#include "common/base/log.h"
#include "common/model/manifest.h"

namespace edgesplit::agent {

namespace asio = boost::asio;
using transport::Frame;
using transport::FrameKind;
using namespace std::chrono_literals;

SegmentLoader MakePackageLoader(std::string models_dir, bool verify_sha256) {
  return [models_dir, verify_sha256](const LoadSpec& spec) -> Result<std::shared_ptr<SegmentExecutor>> {
    if (spec.model.find('/') != std::string::npos || spec.model.find("..") != std::string::npos)
      return InvalidArgument("model name '" + spec.model + "' must be a plain package name");
    const std::string dir = models_dir + "/" + spec.model;
    ES_ASSIGN_OR_RETURN(Manifest m, LoadManifest(dir));
    if (spec.num_layers != m.num_layers())
      return InvalidArgument("model '" + spec.model + "' has " + std::to_string(m.num_layers()) + " layers, not " +
                             std::to_string(spec.num_layers));
    SegmentOptions o;
    o.verify_sha256 = verify_sha256;
    ES_ASSIGN_OR_RETURN(auto seg, Segment::Load(dir, m, spec.first_layer, spec.end_layer, o));
    // Before the segment reports ready: the first runs of a TorchScript method are slow.
    const auto t0 = std::chrono::steady_clock::now();
    if (Status w = seg->WarmUp(); !w.ok())
      LogWarn("segment_warmup_failed").Kv("deployment", spec.deployment).Kv("epoch", spec.epoch).Kv("error", w.ToString());
    LogInfo("segment_warmed_up").Kv("deployment", spec.deployment).Kv("epoch", spec.epoch)
        .Kv("ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    return std::shared_ptr<SegmentExecutor>(std::move(seg));
  };
}

namespace {

LoadSpec FromProto(const v1::LoadSegment& l) {
  LoadSpec s;
  s.deployment = l.deployment();
  s.epoch = l.epoch();
  s.model = l.model();
  s.first_layer = l.first_layer();
  s.end_layer = l.end_layer();
  s.num_layers = l.num_layers();
  s.downstream_address = l.downstream_address();
  s.stage_nodes.assign(l.stage_nodes().begin(), l.stage_nodes().end());
  s.stage_index = l.stage_index();
  s.entry_address = l.entry_address();
  s.is_entry = l.is_entry();
  auto ranges = [](const auto& refs) {
    std::vector<transport::StageRange> v;
    for (const auto& r : refs) v.push_back({r.node(), r.data_address(), r.first_layer(), r.end_layer()});
    return v;
  };
  s.stages = ranges(l.stages());
  s.carry_from_epoch = l.carry_from_epoch();
  s.carry_from = ranges(l.carry_from());
  return s;
}

void SetError(v1::CommandAck* ack, const Status& s) {
  ack->set_ok(s.ok());
  if (!s.ok()) {
    ack->set_error_code(StatusCodeName(s.code()));
    ack->set_error(s.message());
  }
}

}  // namespace

void AgentCore::FillSegment(const SegmentSlot& s, v1::SegmentStats* out, double period_s) {
  out->set_deployment(s.spec.deployment);
  out->set_epoch(s.spec.epoch);
  out->set_model(s.spec.model);
  out->set_first_layer(s.spec.first_layer);
  out->set_end_layer(s.spec.end_layer);
  for (double ms : s.MedianLayerMs()) out->add_layer_ms(ms);
  out->set_queue_depth(s.in_compute);
  if (period_s > 0) {
    out->set_request_rate(static_cast<double>(s.requests_total - s.requests_at_last_report) / period_s);
    const int64_t busy = s.busy_ns->load(std::memory_order_relaxed) - s.busy_ns_at_last_report;
    out->set_busy_fraction(static_cast<double>(std::max<int64_t>(0, busy)) * 1e-9 / period_s);
  }
  if (s.spec.is_entry) {
    // What clients see: the requests answered since the last report and, counted at their age
    // so far, the ones still waiting (a stalled stage answers nothing: only its waiting
    // requests show it).
    std::vector<double> v = s.answered_ms;
    const TimePoint now = SteadyClock::Default()->Now();
    for (const auto& [id, p] : pending_)
      if (p->key.deployment == s.spec.deployment && p->key.epoch == s.spec.epoch && v.size() < 2 * SegmentSlot::kAnsweredMax)
        v.push_back(ToMillis(now - p->accepted));
    if (!v.empty()) {
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      out->set_answered_p50_ms(v[v.size() / 2]);
      out->set_answered(static_cast<uint32_t>(v.size()));
    }
  }
  out->set_state(SegmentStateName(s.state));
  out->set_downstream_address(s.spec.downstream_address);
  out->set_active(s.active);
  out->set_requests_total(s.requests_total);
  out->set_failures_total(s.failures_total);
  if (s.spec.is_entry) {
    uint32_t n = 0;
    uint64_t tokens = 0;
    for (const auto& [id, g] : gens_)
      if (g->key.deployment == s.spec.deployment && g->key.epoch == s.spec.epoch) ++n, tokens += g->stream.history().size();
    out->set_live_sessions(n);
    out->set_session_tokens(tokens);
  }
}

void AgentCore::FillProfile(v1::CapacityProfile* p, double period_s) {
  for (auto& [key, slot] : table_.slots()) {
    FillSegment(slot, p->add_segments(), period_s);
    const_cast<SegmentSlot&>(slot).requests_at_last_report = slot.requests_total;
    const_cast<SegmentSlot&>(slot).busy_ns_at_last_report = slot.busy_ns->load(std::memory_order_relaxed);
    const_cast<SegmentSlot&>(slot).answered_ms.clear();
  }
  for (const auto& l : links_) *p->add_links() = l;
  p->set_active_sessions(static_cast<uint32_t>(sessions_.count()));
  p->set_kv_bytes(sessions_.reserved_bytes());
  p->set_kv_budget_bytes(static_cast<uint64_t>(config_.kv_budget_bytes));
  p->set_speed_factor(speed_.speed());  // measured (0 until the first probe): see ProbeComputeLoop
  // The emulation settings, for display only: nothing in the orchestrator plans with them.
  p->set_compute_slowdown(config_.emulation.compute_slowdown);
  p->set_egress_mbps(config_.emulation.egress_mbps);
}

void AgentCore::HandleCommand(const v1::Command& cmd, std::function<void(v1::CommandAck)> done) {
  v1::CommandAck ack;
  ack.set_command_id(cmd.command_id());
  auto finish = [&](const Status& s, const SegmentKey* key) {
    SetError(&ack, s);
    if (key)
      if (SegmentSlot* slot = table_.Find(*key)) FillSegment(*slot, ack.mutable_segment(), 0);
    UpdateGauges();
    done(std::move(ack));
  };
  switch (cmd.kind_case()) {
    case v1::Command::kLoad: {
      LoadSpec spec = FromProto(cmd.load());
      SegmentKey key{spec.deployment, spec.epoch};
      Status s = table_.BeginLoad(spec);
      LogInfo("segment_loading").Kv("deployment", spec.deployment).Kv("epoch", spec.epoch).Kv("model", spec.model)
          .Kv("first", spec.first_layer).Kv("end", spec.end_layer).Kv("downstream", spec.downstream_address)
          .Kv("status", s.ToString());
      if (!s.ok()) return finish(s, nullptr);
      auto alive = alive_;
      bool queued = loader_pool_->TrySubmit([this, alive, spec, key, ack, done]() mutable {
        auto loaded = loader_(spec);
        asio::post(io_, [this, alive, key, ack = std::move(ack), done = std::move(done), loaded = std::move(loaded)]() mutable {
          if (!*alive) return;
          Status st = table_.FinishLoad(key, std::move(loaded));
          const SegmentSlot* slot = table_.Find(key);
          LogInfo("segment_state").Kv("deployment", key.deployment).Kv("epoch", key.epoch)
              .Kv("state", slot ? SegmentStateName(slot->state) : "unloaded").Kv("status", st.ToString());
          SetError(&ack, st);
          if (slot) FillSegment(*slot, ack.mutable_segment(), 0);
          UpdateGauges();
          done(std::move(ack));
        });
      });
      if (!queued) {
        (void)table_.FinishLoad(key, ResourceExhausted("loader queue full"));
        return finish(ResourceExhausted("loader queue full"), &key);
      }
      return;
    }
    case v1::Command::kActivate: {
      SegmentKey key{cmd.activate().deployment(), cmd.activate().epoch()};
      Status s = table_.Activate(key);
      int retried = 0;
      if (s.ok() && cmd.activate().retry_in_flight()) retried = ResubmitInFlight(key.deployment, key.epoch);
      const int carried = s.ok() ? CarrySessions(key.deployment, key.epoch, cmd.activate().retry_in_flight()) : 0;
      LogInfo("segment_activate").Kv("deployment", key.deployment).Kv("epoch", key.epoch).Kv("status", s.ToString())
          .Kv("retried", retried).Kv("sessions_moved_now", carried);
      return finish(s, &key);
    }
    case v1::Command::kDrain: {
      SegmentKey key{cmd.drain().deployment(), cmd.drain().epoch()};
      Status s = table_.Drain(key);
      LogInfo("segment_draining").Kv("deployment", key.deployment).Kv("epoch", key.epoch).Kv("status", s.ToString());
      if (!s.ok()) return finish(s, &key);
      // The ack waits until the epoch's in-flight work here is done.
      WaitDrained(key, SteadyClock::Default()->Now() + std::chrono::milliseconds(config_.drain_timeout_ms),
                  [this, key, ack, done](Status st) mutable {
                    SetError(&ack, st);
                    if (SegmentSlot* slot = table_.Find(key)) FillSegment(*slot, ack.mutable_segment(), 0);
                    done(std::move(ack));
                  });
      return;
    }
    case v1::Command::kUnload: {
      SegmentKey key{cmd.unload().deployment(), cmd.unload().epoch()};
      Status s = table_.Unload(key);
      batchers_.erase(key);  // a running batch job keeps its own reference
      if (size_t n = sessions_.ReleaseEpoch(key.deployment, key.epoch); n > 0) {
        LogInfo("session_states_released").Kv("deployment", key.deployment).Kv("epoch", key.epoch).Kv("sessions", n);
        UpdateSessionGauges();
      }
      LogInfo("segment_unloaded").Kv("deployment", key.deployment).Kv("epoch", key.epoch).Kv("status", s.ToString());
      ack.mutable_segment()->set_deployment(key.deployment);
      ack.mutable_segment()->set_epoch(key.epoch);
      ack.mutable_segment()->set_state("unloaded");
      return finish(s, nullptr);
    }
    case v1::Command::kProbe: {
      asio::co_spawn(io_, RunProbe(cmd.probe(), std::move(done), std::move(ack)), asio::detached);
      return;
    }
    default: return finish(InvalidArgument("unknown command"), nullptr);
  }
}

void AgentCore::WaitDrained(SegmentKey key, TimePoint deadline, std::function<void(Status)> done) {
  SegmentSlot* slot = table_.Find(key);
  if (!slot || (slot->in_compute == 0 && slot->in_flight_entry == 0)) return done(Status::Ok());
  if (SteadyClock::Default()->Now() >= deadline)
    return done(DeadlineExceeded("drain: " + std::to_string(slot->in_compute + slot->in_flight_entry) +
                                 " requests still in flight"));
  auto t = std::make_shared<asio::steady_timer>(io_, 5ms);
  auto alive = alive_;
  t->async_wait([this, alive, t, key, deadline, done = std::move(done)](boost::system::error_code) mutable {
    if (*alive) WaitDrained(key, deadline, std::move(done));
  });
}

net::Awaitable<void> AgentCore::RunProbe(v1::ProbeLinks probe, std::function<void(v1::CommandAck)> done,
                                         v1::CommandAck ack) {
  const size_t bytes = probe.probe_bytes() ? probe.probe_bytes() : (1u << 20);
  const Duration deadline = std::chrono::milliseconds(config_.frame_deadline_ms);
  std::vector<v1::LinkMeasurement> results;
  for (const auto& peer : probe.peers()) {
    v1::LinkMeasurement m;
    m.set_peer(peer.node());
    m.set_peer_address(peer.data_address());
    Status status;
    net::PeerRequirement want;  // the probed address must answer as the node the orchestrator named
    want.roles = {security::Role::kAgent};
    want.name = peer.node();
    auto sock = co_await net::Connect(peer.data_address(), 5s, tls_, want);
    if (!sock.ok()) {
      status = sock.status();
    } else {
      double times[2] = {0, 0};
      for (int round = 0; round < 2 && status.ok(); ++round) {
        Frame f;
        f.kind = FrameKind::kProbe;
        f.request_id = static_cast<uint64_t>(round + 1);
        if (round == 1) {
          f.has_tensor = true;
          f.tensor = HostTensor::Allocate(DType::kFloat32, {static_cast<int64_t>(std::max<size_t>(bytes / 4, 1))});
          std::fill(f.tensor.data, f.tensor.data + f.tensor.nbytes, std::byte{0});
        }
        const auto t0 = std::chrono::steady_clock::now();
        status = co_await transport::WriteFrame(*sock, f, deadline, &egress_);
        if (!status.ok()) break;
        Frame reply;
        transport::ReadFrameOutcome out;
        status = co_await transport::ReadFrame(*sock, limits_, deadline, deadline, nullptr, &reply, &out);
        times[round] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      }
      if (status.ok()) {
        m.set_rtt_ms(times[0]);
        m.set_bandwidth_mbps(ProbeBandwidthMbps(static_cast<double>(bytes), times[0], times[1]));  // 0: unresolved
      }
    }
    if (!status.ok()) m.set_error(status.ToString());
    m.set_source("probe");
    m.set_measured_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count());
    LogInfo("link_probed").Kv("peer", peer.node()).Kv("rtt_ms", m.rtt_ms()).Kv("mbps", m.bandwidth_mbps())
        .Kv("error", m.error());
    results.push_back(m);
  }
  // Replace measurements of the probed peers, keep the others.
  for (const auto& r : results) {
    *ack.add_links() = r;
    if (r.error().empty() && !(r.bandwidth_mbps() > 0)) continue;  // unresolved: keep what we had
    bool replaced = false;
    for (auto& l : links_)
      if (l.peer_address() == r.peer_address()) l = r, replaced = true;
    if (!replaced) links_.push_back(r);
  }
  ack.set_ok(true);
  done(std::move(ack));
}

void AgentCore::BeginShutdown(std::function<void()> drained) {
  shutting_down_ = true;
  LogInfo("agent_draining").Kv("in_flight", pending_.size()).Kv("sessions", gens_.size()).Kv("in_compute", in_compute_);
  const TimePoint deadline = SteadyClock::Default()->Now() + std::chrono::milliseconds(config_.drain_timeout_ms);
  auto alive = alive_;
  asio::co_spawn(
      io_,
      [this, alive, deadline, drained]() -> net::Awaitable<void> {
        asio::steady_timer t(io_);
        // Live generation sessions finish too (new ones are refused while shutting down).
        while (*alive && !(pending_.empty() && gens_.empty() && in_compute_ == 0) &&
               SteadyClock::Default()->Now() < deadline) {
          t.expires_after(5ms);
          co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        if (!*alive) co_return;
        LogInfo("agent_drained").Kv("in_flight", pending_.size()).Kv("in_compute", in_compute_);
        drained();
      },
      asio::detached);
}

double StretchedProbeMs(double slowdown) {
  std::vector<double> ms(1);
  const auto t0 = std::chrono::steady_clock::now();
  ms[0] = RunComputeProbe();
  StretchForEmulation(t0, slowdown, &ms);
  return ms[0];
}

net::Awaitable<void> AgentCore::ProbeComputeLoop() {
  // The probe runs where the layers run (the compute pool, stretched by an emulated slowdown
  // like they are), so its time is what a layer would see on this node now. Only when the pool
  // is idle: it must never take a request's place in the bounded queue (a busy node's layers
  // are measured directly, and its speed figure waits for a quiet moment).
  asio::steady_timer t(io_);
  auto alive = alive_;
  while (started_) {
    const double slowdown = config_.emulation.compute_slowdown;
    const bool idle = in_compute_ == 0 && compute_->busy() == 0 && compute_->queued() == 0;
    if (idle) {
      compute_->TrySubmit([this, alive, slowdown] {
        asio::post(io_, [this, alive, v = StretchedProbeMs(slowdown)] {
          if (*alive) speed_.Add(v);
        });
      });
    }
    t.expires_after(std::chrono::seconds(1));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void AgentCore::OnTrafficRate(const std::string& node, const std::string& address, double mbps) {
  v1::LinkMeasurement* m = nullptr;
  for (auto& l : links_)
    if ((!node.empty() && l.peer() == node) || (node.empty() && l.peer_address() == address)) m = &l;
  if (!m) {
    if (node.empty()) return;  // a link report names its peer
    m = &links_.emplace_back();
    m->set_peer(node);
  }
  m->set_peer_address(address);
  m->set_bandwidth_mbps(mbps);
  m->clear_error();
  m->set_source("traffic");
  m->set_measured_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace edgesplit::agent
