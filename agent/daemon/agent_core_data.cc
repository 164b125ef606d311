// AgentCore: the data plane (connections, routing, compute dispatch, result delivery).
#include <thread>

#include "agent/daemon/agent_core.h"
#include "agent/daemon/agent_core_conn.h"
#include "agent/daemon/data_authz.h"
#include "common/base/log.h"
#include "common/base/random_id.h"

namespace edgesplit::agent {

namespace asio = boost::asio;
using transport::Frame;
using transport::FrameError;
using transport::FrameKind;
using transport::RejectReason;
using namespace std::chrono_literals;



void StretchForEmulation(std::chrono::steady_clock::time_point t0, double slowdown, std::vector<double>* layer_ms) {
  if (slowdown <= 1.0) return;
  // Emulated slower node: stretch the measured compute time by waiting.
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  std::this_thread::sleep_for(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed * (slowdown - 1.0)));
  for (double& ms : *layer_ms) ms *= slowdown;
}

namespace {
int64_t UnixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
Duration Ms(int ms) { return std::chrono::milliseconds(ms); }
// The egress cap in bytes/s (0 = off) and its burst: max(64 KiB, 10 ms at the rate).
double EgressRate(double mbps) { return mbps * 1e6 / 8.0; }
double EgressBurst(double mbps) { return std::max(64.0 * 1024, mbps * 1e6 / 8.0 / 100); }
}  // namespace

int AgentCore::CloseRevokedConnections() {
  int n = 0;
  for (auto& [id, w] : conns_) {
    auto c = w.lock();
    if (c && c->socket.peer().authenticated && !tls_->Admit(c->socket.peer()).ok()) {
      LogWarn("revoked_peer_disconnected").Kv("conn", id).Kv("peer", c->socket.PeerLabel());
      c->Close();
      ++n;
    }
  }
  for (auto& [k, p] : peers_) n += p->CloseIfRevoked() ? 1 : 0;
  return n;
}

void AgentCore::SetEmulation(const EmulationConfig& e) {
  const EmulationConfig old = config_.emulation;
  config_.emulation = e;
  egress_.SetRate(EgressRate(e.egress_mbps), EgressBurst(e.egress_mbps));
  // The measurement windows are not reset: a fault is found by measuring it (level_shift.h).
  LogInfo("emulation_changed").Kv("node", config_.node).Kv("compute_slowdown", e.compute_slowdown)
      .Kv("egress_mbps", e.egress_mbps).Kv("old_compute_slowdown", old.compute_slowdown).Kv("old_egress_mbps", old.egress_mbps);
}

AgentCore::AgentCore(asio::io_context& io, AgentConfig config, SegmentLoader loader, AgentMetrics* metrics,
                     WorkerPool* compute, WorkerPool* loader_pool, security::TlsPtr tls)
    : io_(io), config_(std::move(config)), loader_(std::move(loader)), tls_(std::move(tls)), metrics_(metrics), compute_(compute),
      loader_pool_(loader_pool),
      egress_(EgressRate(config_.emulation.egress_mbps), EgressBurst(config_.emulation.egress_mbps)),
      sessions_(SessionLimits{config_.max_sessions, static_cast<uint64_t>(config_.kv_budget_bytes), config_.max_context,
                              std::chrono::milliseconds(config_.session_idle_timeout_ms)}) {
  limits_.max_frame_bytes = static_cast<size_t>(config_.max_frame_bytes);
}

AgentCore::~AgentCore() { *alive_ = false; }

Status AgentCore::Start() {
  ES_ASSIGN_OR_RETURN(auto acc, net::Listen(io_.get_executor(), config_.data_listen));
  acceptor_.emplace(std::move(acc));
  net::AcceptGateOptions gate;
  gate.port_name = "data";
  gate.limits = {static_cast<size_t>(config_.data_max_connections), static_cast<size_t>(config_.data_max_connections_per_peer)};
  gate.on_refused = [m = metrics_](const char* reason) { m->ConnectionRefused("data", reason); };
  gate.on_accept_error = [m = metrics_](const char* reason) { m->AcceptError("data", reason); };
  gate_.emplace(std::move(gate));
  data_address_ = config_.advertise_address.empty() ? net::LocalAddress(*acceptor_) : config_.advertise_address;
  // A measured speed from the registration on (a plan made before the first heartbeat must not
  // price this node with a default): one warm-up run, then three timed probes (a few ms each).
  (void)RunComputeProbe();
  for (int i = 0; i < 3; ++i) speed_.Add(StretchedProbeMs(config_.emulation.compute_slowdown));
  started_ = true;
  asio::co_spawn(io_, AcceptLoop(), asio::detached);
  asio::co_spawn(io_, SweepLoop(), asio::detached);
  asio::co_spawn(io_, ProbeComputeLoop(), asio::detached);
  LogInfo("data_port_listening").Kv("address", data_address_);
  return Status::Ok();
}

void AgentCore::Stop() {
  started_ = false;
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
  }
  for (auto& [id, w] : conns_)
    if (auto c = w.lock()) c->Close();
  for (auto& [a, p] : peers_) p->Close();
}

net::Awaitable<void> AgentCore::AcceptLoop() {
  while (acceptor_ && acceptor_->is_open()) {
    auto accepted = co_await gate_->Next(*acceptor_);  // caps and descriptor backoff
    if (!accepted) break;
    boost::system::error_code ignored;
    accepted->socket.set_option(net::tcp::no_delay(true), ignored);
    auto conn = std::make_shared<InConn>(net::Stream(std::move(accepted->socket), tls_),
                                         static_cast<size_t>(config_.max_queue) * 2 + 16);
    conn->slot = std::move(accepted->slot);
    conn->id = next_conn_id_++;
    conns_[conn->id] = conn;
    asio::co_spawn(io_, ServeConnection(conn), asio::detached);
  }
}

net::Awaitable<void> AgentCore::WriteLoop(std::shared_ptr<InConn> conn) {
  for (;;) {
    auto f = co_await conn->out.Pop();
    if (!f) break;
    Status s = co_await transport::WriteFrame(conn->socket, *f, Ms(config_.frame_deadline_ms));
    if (!s.ok()) {
      LogWarn("client_write_failed").Kv("conn", conn->id).Kv("error", s.ToString());
      conn->Close();
      break;
    }
    metrics_->FrameOut(f->kind, f->has_tensor ? f->tensor.nbytes : 0);
  }
}

net::Awaitable<void> AgentCore::ServeConnection(std::shared_ptr<InConn> conn) {
  // TLS first, within one frame deadline: a peer that never completes it holds nothing else.
  Status hs = co_await conn->socket.Handshake(true, Ms(config_.frame_deadline_ms));
  if (!hs.ok()) {
    metrics_->TlsRefused(hs.code() == StatusCode::kPermissionDenied ? "revoked"
                         : hs.code() == StatusCode::kInvalidArgument ? "bad_certificate"
                                                                      : "handshake");
    LogWarn("data_handshake_failed").Kv("conn", conn->id).Kv("peer", conn->socket.PeerLabel()).Kv("error", hs.ToString());
    conn->Close();
    conns_.erase(conn->id);
    co_return;
  }
  asio::co_spawn(io_, WriteLoop(conn), asio::detached);
  const transport::FrameCheck check = [this, c = conn.get()](const Frame& m) { return CheckFrame(m, *c); };
  while (conn->socket.is_open()) {
    Frame f;
    transport::ReadFrameOutcome outcome;
    Status s = co_await transport::ReadFrame(conn->socket, limits_, Ms(config_.idle_timeout_ms),
                                             Ms(config_.frame_deadline_ms), check, &f, &outcome);
    if (!s.ok()) {
      if (outcome.reject) {
        metrics_->Rejected(*outcome.reject);
        LogWarn("frame_rejected").Kv("conn", conn->id).Kv("reason", transport::RejectReasonName(*outcome.reject))
            .Kv("error", s.ToString());
        if ((f.kind == FrameKind::kRequest || f.kind == FrameKind::kGenerate) && *outcome.reject != RejectReason::kTruncated) {
          // Tell the client why before closing (best effort: the writer may still flush it).
          Frame err = Frame::ErrorFor(f, s, config_.node);
          conn->out.Push(std::move(err));
          asio::steady_timer t(io_, 50ms);
          co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        }
      }
      break;
    }
    metrics_->FrameIn(f.kind, f.has_tensor ? f.tensor.nbytes : 0);
    const bool answer = f.kind == FrameKind::kResult || f.kind == FrameKind::kToken || f.kind == FrameKind::kError;
    if (answer && conn->socket.peer().authenticated && !table_.Find({f.deployment, f.epoch})) {
      // No segment of that epoch here, so nobody can vouch for the sender: late or forged.
      LogDebug("unroutable_answer_dropped").Kv("conn", conn->id).Kv("epoch", f.epoch);
      continue;
    }
    if (outcome.payload_discarded && f.kind != FrameKind::kProbe) {
      if (f.kind == FrameKind::kResult) {
        LogDebug("late_result_dropped").Kv("request", f.request_id);
        continue;
      }
      if (RefuseDiscarded(f, conn)) continue;
    }
    Dispatch(std::move(f), conn);
  }
  conn->Close();
  conns_.erase(conn->id);
  CancelSessionsOf(conn->id);  // a client that hangs up ends its sessions (KV freed on every stage)
}

transport::FrameVerdict AgentCore::CheckFrame(const Frame& m, const InConn& conn) {
  const auto& p = conn.socket.peer();
  const Sender sender{p.authenticated, p.role, p.name};
  if (sender.authenticated) {
    // Pipeline frames for the entry: the entry's segment of the frame's epoch says who may answer.
    const LoadSpec* target = nullptr;
    if (m.kind == FrameKind::kResult || m.kind == FrameKind::kToken || m.kind == FrameKind::kError ||
        m.kind == FrameKind::kKvReady || (m.kind == FrameKind::kSessionEnd && m.session_id != 0)) {
      if (SegmentSlot* s = table_.Find({m.deployment, m.epoch})) target = &s->spec;
    } else if (m.kind == FrameKind::kKvData) {
      if (SegmentSlot* s = table_.Find({m.deployment, m.epoch})) target = &s->spec;
    } else if (m.kind == FrameKind::kActivation || m.kind == FrameKind::kStep || m.kind == FrameKind::kKvPush) {
      std::optional<RejectReason> ignored;
      if (auto r = table_.RouteActivation(m.deployment, m.epoch, m.layer, &ignored); r.ok()) target = &(*r)->spec;
    }
    if (Status a = AuthorizeFrame(sender, m, target); !a.ok()) return FrameError{RejectReason::kUnauthorized, a};
  }
  const transport::PayloadRule rule = transport::PayloadRuleFor(m.kind);
  if (m.has_tensor && !rule.tensor_allowed)
    return FrameError{RejectReason::kBadMeta,
                      InvalidArgument(std::string(transport::FrameKindName(m.kind)) + " frames carry no tensor")};
  std::optional<RejectReason> reason;
  SegmentSlot* slot = nullptr;
  const bool entry_kind = m.kind == FrameKind::kRequest || m.kind == FrameKind::kGenerate;
  if (entry_kind || m.kind == FrameKind::kActivation || m.kind == FrameKind::kStep) {
    if (!m.has_tensor) return FrameError{RejectReason::kBadMeta, InvalidArgument("request without a tensor")};
    if (m.kind == FrameKind::kStep && (m.tensor.shape.size() < 2 || m.session_id == 0))
      return FrameError{RejectReason::kBadMeta, InvalidArgument("step without a session or a sequence dimension")};
    auto r = entry_kind ? table_.RouteRequest(m.deployment, m.epoch, &reason)
                        : table_.RouteActivation(m.deployment, m.epoch, m.layer, &reason);
    if (!r.ok()) {
      if (reason) return FrameError{*reason, r.status()};
      // e.g. draining: not a bad frame; Dispatch answers with an error, the tensor is not needed.
      return transport::FrameVerdict(std::nullopt, transport::PayloadMode::kDiscard);
    }
    slot = *r;
    Status s = SegmentTable::CheckInput(*slot, m.tensor.dtype, m.tensor.shape);
    if (!s.ok()) return FrameError{RejectReason::kSpecMismatch, s};
  }
  if (m.kind == FrameKind::kKvData) {
    bool discard = false;
    if (Status s = CheckKvData(m, &discard); !s.ok()) return FrameError{RejectReason::kSpecMismatch, s};
    if (discard) return transport::FrameVerdict(std::nullopt, transport::PayloadMode::kDiscard);
  }
  // A result nobody waits for (late, or forged) costs no memory: its bytes are dropped.
  if (m.kind == FrameKind::kResult && !pending_.contains(m.request_id))
    return transport::FrameVerdict(std::nullopt, transport::PayloadMode::kDiscard);
  return transport::FrameVerdict(std::nullopt, rule.mode);
}

bool AgentCore::RefuseDiscarded(const Frame& f, const std::shared_ptr<InConn>& conn) {
  // Its segment could not take the frame when the header arrived, so the tensor was dropped.
  // Still so: the handlers refuse it with the route's own error (its code drives retries).
  if (f.kind == FrameKind::kKvData) return true;  // late KV: nobody waits for it
  std::optional<RejectReason> reason;
  const bool entry_kind = f.kind == FrameKind::kRequest || f.kind == FrameKind::kGenerate;
  auto r = entry_kind ? table_.RouteRequest(f.deployment, f.epoch, &reason)
                      : table_.RouteActivation(f.deployment, f.epoch, f.layer, &reason);
  if (!r.ok()) return false;
  // The segment became routable while the bytes arrived: without its tensor the frame cannot run.
  const Status why = Unavailable("segment of '" + f.deployment + "' was not serving when the frame arrived");
  if (entry_kind) {
    metrics_->RequestDone(false);
    ReplyToClient(conn, Frame::ErrorFor(f, why, config_.node));
  } else {
    SendError(f, f.origin, why);
  }
  return true;
}

void AgentCore::Dispatch(Frame f, const std::shared_ptr<InConn>& conn) {
  switch (f.kind) {
    case FrameKind::kRequest: AcceptRequest(std::move(f), conn); break;
    case FrameKind::kActivation: AcceptActivation(std::move(f)); break;
    case FrameKind::kResult:
    case FrameKind::kError:
    case FrameKind::kToken:
    case FrameKind::kKvReady: HandleAtEntry(std::move(f)); break;
    case FrameKind::kGenerate: AcceptGenerate(std::move(f), conn); break;
    case FrameKind::kStep: AcceptStep(std::move(f)); break;
    case FrameKind::kSessionEnd: HandleSessionEnd(std::move(f), conn); break;
    case FrameKind::kKvPush: HandleKvPush(std::move(f)); break;
    case FrameKind::kKvData: ReceiveKv(std::move(f)); break;
    case FrameKind::kProbe: {
      Frame reply;
      reply.kind = FrameKind::kProbeReply;
      reply.request_id = f.request_id;
      ReplyToClient(conn, std::move(reply));
      break;
    }
    default: break;
  }
}

void AgentCore::ReplyToClient(const std::shared_ptr<InConn>& conn, Frame f) {
  if (!conn->out.Push(std::move(f))) {
    LogWarn("client_queue_full").Kv("conn", conn->id);
    conn->Close();
  }
}

void AgentCore::AcceptRequest(Frame f, const std::shared_ptr<InConn>& conn) {
  auto refuse = [&](const Status& s) {
    metrics_->RequestDone(false);
    ReplyToClient(conn, Frame::ErrorFor(f, s, config_.node));
  };
  if (shutting_down_) return refuse(Unavailable("agent is shutting down"));
  std::optional<RejectReason> reason;
  auto r = table_.RouteRequest(f.deployment, f.epoch, &reason);
  if (!r.ok()) return refuse(r.status());
  SegmentSlot* slot = *r;
  uint64_t id = RandomId();  // unguessable: an answer must come from the epoch's last stage *and* name the request
  while (pending_.count(id)) id = RandomId();
  auto p = std::make_unique<Pending>();
  p->conn = conn;
  p->client_request_id = f.request_id;
  p->key = {slot->spec.deployment, slot->spec.epoch};
  Duration timeout = Ms(config_.request_timeout_ms);
  if (f.deadline_unix_ms > 0) timeout = std::min(timeout, Ms(static_cast<int>(std::max<int64_t>(0, f.deadline_unix_ms - UnixMillisNow()))));
  p->sent = SteadyClock::Default()->Now();
  p->accepted = p->sent;
  p->deadline = p->sent + timeout;
  const uint64_t client_id = f.request_id;
  f.request_id = id;
  f.epoch = slot->spec.epoch;
  f.layer = 0;
  f.origin = data_address_;
  if (f.deadline_unix_ms <= 0) f.deadline_unix_ms = UnixMillisNow() + config_.request_timeout_ms;
  p->deadline_unix_ms = f.deadline_unix_ms;
  p->input = f.tensor;
  Status s = SubmitCompute(slot, std::move(f));
  if (!s.ok()) {
    Frame err;
    err.request_id = client_id;
    metrics_->RequestDone(false);
    ReplyToClient(conn, Frame::ErrorFor(err, s, config_.node));
    return;
  }
  slot->in_flight_entry++;
  pending_[id] = std::move(p);
  UpdateGauges();
}

void AgentCore::AcceptActivation(Frame f) {
  std::optional<RejectReason> reason;
  auto r = table_.RouteActivation(f.deployment, f.epoch, f.layer, &reason);
  if (!r.ok()) return SendError(f, f.origin, r.status());
  SegmentSlot* slot = *r;
  const std::string entry = EntryOf(slot->spec, f);
  const Frame meta = f.WithoutTensor();
  Status s = SubmitCompute(slot, std::move(f));
  if (!s.ok()) SendError(meta, entry, s);
}

Status AgentCore::CheckComputeRoom() {
  if (in_compute_ < static_cast<size_t>(config_.max_queue)) return Status::Ok();
  metrics_->Overloaded();
  return ResourceExhausted("overloaded: " + std::to_string(in_compute_) + " requests queued on " + config_.node);
}

Status AgentCore::RunOnCompute(SegmentSlot* slot, std::function<void()> job) {
  if (job) {
    // The segment's busy time (SegmentStats.busy_fraction): wall time on the pool, whatever
    // the job is (a request, a generation step, a batch of steps).
    job = [job = std::move(job), busy = slot->busy_ns] {
      const auto t0 = std::chrono::steady_clock::now();
      job();
      busy->fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count(),
                      std::memory_order_relaxed);
    };
  }
  if (job && !compute_->TrySubmit(std::move(job))) {
    metrics_->Overloaded();
    return ResourceExhausted("overloaded: compute queue full on " + config_.node);
  }
  ++in_compute_;
  slot->in_compute++;
  UpdateGauges();
  return Status::Ok();
}

Status AgentCore::SubmitCompute(SegmentSlot* slot, Frame f) {
  ES_RETURN_IF_ERROR(CheckComputeRoom());
  auto exec = slot->exec;
  LoadSpec spec = slot->spec;
  const double slowdown = config_.emulation.compute_slowdown;
  auto alive = alive_;
  auto job = [this, alive, exec, spec, slowdown, f = std::move(f)]() mutable {
    std::vector<double> layer_ms;
    const auto t0 = std::chrono::steady_clock::now();
    Result<HostTensor> out = exec->Run(f.tensor, &layer_ms);
    StretchForEmulation(t0, slowdown, &layer_ms);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    f.tensor = {};  // the input is no longer needed
    asio::post(io_, [this, alive, spec = std::move(spec), f = std::move(f), out = std::move(out),
                     layer_ms = std::move(layer_ms), seconds]() mutable {
      if (*alive) OnComputed(std::move(spec), std::move(f), std::move(out), std::move(layer_ms), seconds);
    });
  };
  return RunOnCompute(slot, std::move(job));
}

void AgentCore::OnComputed(LoadSpec spec, Frame in, Result<HostTensor> out, std::vector<double> layer_ms,
                           double seconds) {
  --in_compute_;
  metrics_->ComputeSeconds(seconds);
  if (SegmentSlot* slot = table_.Find({spec.deployment, spec.epoch})) {
    slot->in_compute--;
    slot->requests_total++;
    if (out.ok()) slot->RecordRun(std::move(layer_ms));
    else slot->failures_total++;
  }
  UpdateGauges();
  const std::string entry = EntryOf(spec, in);
  if (!out.ok()) return SendError(in, entry, out.status());
  Frame next = in;
  next.has_tensor = true;
  next.tensor = std::move(*out);
  if (spec.is_last()) {
    next.kind = FrameKind::kResult;
    next.layer = spec.num_layers;
    return DeliverToEntry(std::move(next), entry);
  }
  next.kind = FrameKind::kActivation;
  next.layer = spec.end_layer;
  Status s = Peer(spec.downstream_address, spec.downstream_node())->Send(std::move(next));
  if (!s.ok()) SendError(in, entry, s);
}

void AgentCore::DeliverToEntry(Frame f, const std::string& entry) {
  if (entry == data_address_ || entry.empty()) return HandleAtEntry(std::move(f));
  // The entry is named by the segment of the frame's epoch (unknown: any agent may answer there).
  const SegmentSlot* slot = table_.Find({f.deployment, f.epoch});
  Status s = Peer(entry, slot ? slot->spec.entry_node() : "")->Send(std::move(f));
  if (!s.ok()) LogWarn("result_undeliverable").Kv("entry", entry).Kv("error", s.ToString());
}

void AgentCore::SendError(const Frame& req, const std::string& entry, const Status& s) {
  LogWarn("request_failed").Kv("request", req.request_id).Kv("deployment", req.deployment).Kv("epoch", req.epoch)
      .Kv("error", s.ToString());
  DeliverToEntry(Frame::ErrorFor(req, s, config_.node), entry);
}

void AgentCore::CompletePending(Frame f) {
  auto it = pending_.find(f.request_id);
  if (it == pending_.end()) {
    LogDebug("late_result_dropped").Kv("request", f.request_id);
    return;
  }
  if (!f.deployment.empty() && f.deployment != it->second->key.deployment) {
    LogWarn("answer_for_other_deployment_dropped").Kv("request", f.request_id).Kv("deployment", f.deployment);
    return;
  }
  if (f.kind == FrameKind::kError && f.epoch != 0 && f.epoch != it->second->key.epoch) {
    // The failure of an attempt that was already resubmitted: the newer attempt answers.
    LogDebug("superseded_error_dropped").Kv("request", f.request_id).Kv("epoch", f.epoch);
    return;
  }
  if (f.kind == FrameKind::kError && RetryOnActiveEpoch(f, it->second.get())) return;
  std::unique_ptr<Pending> p = std::move(it->second);
  pending_.erase(it);
  if (SegmentSlot* slot = table_.Find(p->key)) {
    slot->in_flight_entry--;
    if (f.kind == FrameKind::kResult && slot->answered_ms.size() < SegmentSlot::kAnsweredMax)
      slot->answered_ms.push_back(ToMillis(SteadyClock::Default()->Now() - p->accepted));
  }
  metrics_->RequestDone(f.kind == FrameKind::kResult);
  UpdateGauges();
  auto conn = p->conn.lock();
  if (!conn) return;
  f.request_id = p->client_request_id;
  f.origin.clear();
  ReplyToClient(conn, std::move(f));
}

net::Awaitable<void> AgentCore::SweepLoop() {
  asio::steady_timer t(io_);
  while (started_) {
    t.expires_after(50ms);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    const TimePoint now = SteadyClock::Default()->Now();
    std::vector<uint64_t> expired;
    for (auto& [id, p] : pending_)
      if (p->deadline <= now) expired.push_back(id);
    for (uint64_t id : expired) {
      Frame err;
      err.kind = FrameKind::kError;
      err.request_id = id;
      err.error_code = StatusCodeName(StatusCode::kDeadlineExceeded);
      err.error = "request deadline exceeded";
      err.stage = config_.node;
      CompletePending(std::move(err));
    }
    RescueRequests(now);
    SweepSessions(now);
  }
}

std::shared_ptr<PeerLink> AgentCore::Peer(const std::string& address, const std::string& node) {
  const std::string key = address + "|" + node;
  auto it = peers_.find(key);
  if (it != peers_.end()) return it->second;
  PeerLink::Options o;
  o.max_queue = static_cast<size_t>(config_.max_peer_queue);
  o.frame_deadline = Ms(config_.frame_deadline_ms);
  o.tls = tls_;
  o.expect_node = node;
  o.on_rate = [this, alive = alive_, address, node](double mbps) {
    if (*alive) OnTrafficRate(node, address, mbps);
  };
  auto link = std::make_shared<PeerLink>(io_.get_executor(), address, o, &egress_, metrics_,
                                         [this, address](const Frame& f, const Status& s) {
                                           if (f.kind == FrameKind::kActivation || f.kind == FrameKind::kStep) {
                                             SendError(f, f.origin, Unavailable("next stage " + address + ": " + s.message()));
                                           }
                                         });
  link->Start();
  peers_[key] = link;
  return link;
}

void AgentCore::UpdateGauges() {
  metrics_->queue_depth->Set(static_cast<double>(in_compute_));
  metrics_->segments_loaded->Set(static_cast<double>(table_.ready_count()));
  metrics_->entry_in_flight->Set(static_cast<double>(pending_.size()));
}

}  // namespace edgesplit::agent
