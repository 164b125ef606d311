#include "orchestrator/daemon/app.h"

#include <chrono>
#include <csignal>
#include <future>

#include "common/base/log.h"
#include "common/http/metrics_text.h"
#include "common/net/accept_gate.h"
#include "common/net/async_io.h"
#include "common/net/framed_message.h"
#include "common/proto/control.pb.h"
#include "orchestrator/daemon/proto_convert.h"

namespace edgesplit::orch {

namespace asio = boost::asio;
using asio::ip::tcp;

struct OrchestratorApp::Conn {
  explicit Conn(net::Stream s) : socket(std::move(s)), outbox(socket, {}) {}
  net::Stream socket;
  net::MessageOutbox outbox;
  std::string node;
  uint64_t id = 0;
  uint64_t incarnation = 0;
};

namespace {
int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
TimePoint Now() { return SteadyClock::Default()->Now(); }
}  // namespace

OrchestratorApp::OrchestratorApp(OrchestratorConfig config) : config_(std::move(config)) {}

Result<std::unique_ptr<OrchestratorApp>> OrchestratorApp::Create(OrchestratorConfig config) {
  ES_RETURN_IF_ERROR(config.Validate());
  LogLevel level;
  if (ParseLogLevel(config.log_level, &level)) SetLogLevel(level);
  ModelCatalog catalog;
  {
    auto c = LoadCatalogDir(config.models_dir);
    if (!c.ok() && c.status().code() != StatusCode::kNotFound) return c.status();
    if (c.ok()) catalog = std::move(*c);
    else LogWarn("models_dir_missing").Kv("dir", config.models_dir);
  }
  ES_ASSIGN_OR_RETURN(security::TlsPtr tls, security::TlsContext::Create(config.tls));
  if (tls->enabled() && tls->self().role != security::Role::kOrchestrator)
    return InvalidArgument("tls.cert " + config.tls.cert + " has role " + security::RoleName(tls->self().role) +
                           ", the orchestrator needs role orchestrator");
  if (!tls->enabled())
    LogWarn("tls_off").Kv("note", "plaintext control channel and gateway (tls: {mode: off}): any process can register as any node");
  config.gateway.tls = tls;
  std::unique_ptr<OrchestratorApp> app(new OrchestratorApp(config));
  app->tls_ = tls;
  app->tokenizers_ = std::make_unique<TokenizerSet>(catalog);  // the tokenizer runs here, never on an agent
  ControllerOptions controller_options = config.controller;
  controller_options.planner_clock = SteadyClock::Default();  // time limits in real milliseconds
  app->controller_ = std::make_unique<Controller>(controller_options, std::move(catalog));
  app->metrics_ = std::make_unique<OrchestratorMetrics>();
  app->controller_->Tick(Now());
  if (!config.state_dir.empty()) {
    app->store_ = std::make_unique<StateStore>(config.state_dir);
    auto text = app->store_->Load();
    if (text.ok()) {
      auto st = StateFromJson(*text, config.controller.policy);
      if (!st.ok()) return Status(st.status().code(), app->store_->path() + ": " + st.status().message());
      ES_RETURN_IF_ERROR(app->controller_->SetPolicy(st->policy));
      ES_RETURN_IF_ERROR(app->controller_->RestoreTrust(st->trust));
      for (const auto& [node, trusted] : st->trust) {
        // A persisted decision outranks trusted_nodes: say so when they disagree.
        if (trusted != (app->controller_->registry().trust().configured().count(node) > 0))
          LogWarn("trust_decision_overrides_config").Kv("node", node).Kv("trusted", trusted ? "true" : "false");
      }
      LogInfo("state_loaded").Kv("path", app->store_->path()).Kv("deployments", st->deployments.size());
      app->controller_->Restore(std::move(st->deployments), Now());
      (void)app->controller_->TakeDirty();
    } else if (text.status().code() != StatusCode::kNotFound) {
      return text.status();
    }
  }
  // Control port.
  auto acc = net::Listen(app->io_.get_executor(), config.control_listen);
  if (!acc.ok()) return Status(acc.status().code(), "control_listen " + config.control_listen + ": " + acc.status().message());
  app->control_address_ = net::LocalAddress(*acc);
  app->acceptor_.emplace(std::move(*acc));
  OrchestratorMetrics* m = app->metrics_.get();
  net::AcceptGateOptions gate;
  gate.port_name = "control";
  gate.limits = config.control_limits;
  gate.on_refused = [m](const char* reason) { m->ConnectionRefused("control", reason); };
  gate.on_accept_error = [m](const char* reason) { m->AcceptError("control", reason); };
  app->control_gate_.emplace(std::move(gate));
  // Gateway and REST.
  OrchestratorApp* self = app.get();
  app->gateway_ = std::make_unique<Gateway>(
      config.gateway, &app->routes_,
      [self](const GatewayResult& r) {
        self->metrics_->ObserveRequest(r);
        asio::post(self->io_, [self, r] { self->controller_->ObserveRequest(r.deployment, r.latency_ms, r.ok, Now()); });
      },
      // Not fed to the controller: a stream's duration is no per-request latency the planner models.
      [self](const GenerateObservation& g) { self->metrics_->ObserveGenerate(g); });
  RestApiOptions api_options = config.api;
  api_options.origin_unix_ms = UnixMs();
  app->api_ = std::make_unique<RestApi>(
      api_options, app->controller_.get(), SteadyClock::Default(),
      [self](const std::string& d, HostTensor in, Duration deadline, InferDone done) {
        self->gateway_->Submit(d, std::move(in), deadline, std::move(done));
      },
      [self] {
        self->metrics_->Refresh(*self->controller_, Now(), self->gateway_->inflight(), self->api_->rejected());
        return RenderMetricsText(self->metrics_->registry());
      },
      [self] { return self->ready_; });
  app->api_->SetGenerate([self](const std::string& d, GenerationRequest req, TokenFn on_token, GenerateDone done) {
    self->gateway_->SubmitGenerate(d, std::move(req), std::move(on_token), std::move(done));
  });
  app->api_->SetTokenizers([self](const CatalogModel& model) { return self->tokenizers_->Find(model.name); });
  auto hp = config.http_listen.rfind(':');
  HttpServerOptions ho;
  ho.bind_address = config.http_listen.substr(0, hp);
  try {
    ho.port = static_cast<uint16_t>(std::stoi(config.http_listen.substr(hp + 1)));
  } catch (const std::exception&) {
    return InvalidArgument("http_listen: bad port in " + config.http_listen);
  }
  ho.max_body_bytes = config.max_body_bytes;
  ho.max_connections = config.http_limits.max_connections;
  ho.max_connections_per_peer = config.http_limits.max_per_peer;
  ho.header_timeout = std::chrono::milliseconds(config.http_header_timeout_ms);
  // The token and the body size are checked on the header: a refused body is never read.
  ho.check_headers = [self](const HttpRequest& head) { return self->api_->CheckHeaders(head); };
  ho.counters.connection_refused = [m](const char* reason) { m->ConnectionRefused("http", reason); };
  ho.counters.accept_error = [m](const char* reason) { m->AcceptError("http", reason); };
  ho.counters.request_refused = [m](const char* reason) { m->HttpRequestRefused(reason); };
  auto http = HttpServer::Start(app->io_, ho, [self](HttpRequest req, Responder respond) {
    self->api_->Handle(std::move(req), std::move(respond));
    self->AfterStep();
  });
  if (!http.ok()) return Status(http.status().code(), "http_listen " + config.http_listen + ": " + http.status().message());
  app->http_ = std::move(*http);
  app->AfterStep();
  return app;
}

OrchestratorApp::~OrchestratorApp() { Stop(); }

std::string OrchestratorApp::http_address() const {
  return config_.http_listen.substr(0, config_.http_listen.rfind(':')) + ":" + std::to_string(http_->port());
}

void OrchestratorApp::EnableServiceNotifications() { notifier_ = systemd::ServiceNotifier::FromEnvironment(); }

std::string OrchestratorApp::ServiceStatus() const {
  const auto& reg = controller_->registry();
  return "nodes alive=" + std::to_string(reg.CountIn(NodeState::kAlive)) +
         " suspect=" + std::to_string(reg.CountIn(NodeState::kSuspect)) +
         " dead=" + std::to_string(reg.CountIn(NodeState::kDead)) +
         "; deployments=" + std::to_string(controller_->deployments().size()) +
         "; agents connected=" + std::to_string(conns_.size());
}

void OrchestratorApp::Start() {
  asio::co_spawn(io_, AcceptLoop(), asio::detached);
  asio::co_spawn(io_, TickLoop(), asio::detached);
  gateway_->Start();
  ready_ = true;
  // Both ports are bound and the state is loaded (Create): READY once the io thread runs, and
  // from then on keep-alives only as long as it keeps running handlers.
  systemd::IoWatchdogOptions wo;
  wo.status = [this] { return ServiceStatus(); };
  watchdog_ = std::make_unique<systemd::IoWatchdog>(io_, notifier_, wo);
  asio::post(io_, [this] {
    if (!notifier_.Ready(ServiceStatus())) LogWarn("systemd_notify_failed").Kv("message", "READY");
    watchdog_->Start();
  });
  if (config_.debug_wedge_io_after_ms > 0)
    systemd::ScheduleIoWedge(io_, std::chrono::milliseconds(config_.debug_wedge_io_after_ms));
  io_thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
  LogInfo("orchestrator_started").Kv("control", control_address_).Kv("http", http_address());
}

void OrchestratorApp::Stop() {
  if (stopped_.exchange(true)) return;
  if (gateway_) gateway_->Stop();
  if (io_thread_.joinable()) {
    std::promise<void> done;
    asio::post(io_, [&] {
      ready_ = false;
      if (http_) http_->Stop();
      boost::system::error_code ec;
      if (acceptor_) acceptor_->close(ec);
      for (auto& [n, c] : conns_) {
        c->outbox.Close();
        c->socket.close(ec);
      }
      Persist(true);
      done.set_value();
    });
    done.get_future().wait();
    io_.stop();
    io_thread_.join();
  }
  LogInfo("orchestrator_stopped");
}

void OrchestratorApp::RunUntilSignal(std::function<Result<OrchestratorConfig>()> reload) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    LogInfo("signal").Kv("signal", sig);
    if (sig != SIGHUP) {
      notifier_.Stopping("stopping: closing connections, saving state");
      break;
    }
    // SIGHUP re-reads the configuration; what may change at run time is applied (the TLS
    // revocation list), a broken file is reported and the old settings kept.
    if (!reload) continue;
    auto c = reload();
    if (!c.ok()) {
      LogError("reload_failed").Kv("error", c.status().ToString());
      continue;
    }
    asio::post(io_, [this, fresh = *c] { Reload(fresh); });
  }
  Stop();
}

void OrchestratorApp::RunOnIo(std::function<void(Controller&)> fn) {
  std::promise<void> done;
  asio::post(io_, [&] {
    fn(*controller_);
    AfterStep();
    done.set_value();
  });
  done.get_future().wait();
}

double OrchestratorApp::TakeMaxHeartbeatLag() { return static_cast<double>(max_lag_us_.exchange(0)) / 1e6; }

asio::awaitable<void> OrchestratorApp::AcceptLoop() {
  for (;;) {
    auto accepted = co_await control_gate_->Next(*acceptor_);  // caps and descriptor backoff
    if (!accepted || stopped_) co_return;
    boost::system::error_code ec;
    accepted->socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(io_, net::WithSlot(std::move(accepted->slot), Session(net::Stream(std::move(accepted->socket), tls_))), asio::detached);
  }
}

namespace {
constexpr size_t kMaxRegisterBytes = size_t{64} << 10;
// No message for 20 heartbeat periods (at least 10 s): the agent is gone or wedged.
Duration ControlSilenceTimeout(int heartbeat_period_ms) {
  return std::max<Duration>(std::chrono::seconds(10), std::chrono::milliseconds(20LL * heartbeat_period_ms));
}
}  // namespace

asio::awaitable<void> OrchestratorApp::Session(net::Stream stream) {
  auto conn = std::make_shared<Conn>(std::move(stream));
  conn->id = next_conn_id_++;
  // Identity first: the TLS handshake (within the registration deadline) and an agent certificate.
  Status hs = co_await conn->socket.Handshake(true, std::chrono::seconds(10));
  net::PeerRequirement agent_only;  // a local, not a braced temporary: GCC 12 miscompiles those in coroutines
  agent_only.roles = {security::Role::kAgent};
  if (hs.ok()) hs = net::CheckPeer(conn->socket, agent_only);
  if (!hs.ok()) {
    metrics_->ControlRefused(hs.code() == StatusCode::kPermissionDenied ? "not_allowed"
                             : hs.code() == StatusCode::kInvalidArgument ? "bad_certificate"
                                                                          : "handshake");
    LogWarn("control_handshake_failed").Kv("peer", conn->socket.PeerLabel()).Kv("error", hs.ToString());
    boost::system::error_code ec;
    conn->socket.close(ec);
    co_return;
  }
  v1::AgentToOrchestrator msg;
  // Before registration a peer is nobody: a Register is a few KiB, so that is all it may send.
  Status s = co_await net::ReadMessage(conn->socket, &msg, std::chrono::seconds(10),
                                       std::min(kMaxRegisterBytes, config_.max_control_message_bytes));
  if (!s.ok() || !msg.has_register_()) {
    metrics_->BadControlMessage(s.ok() ? "not_register" : StatusCodeName(s.code()));
    co_return;
  }
  metrics_->ControlMessage("register");
  RegisterInfo info = FromProto(msg.register_());
  // A node is who its certificate says; a live connection is only replaced by the same identity
  // with the same or a newer incarnation (a restarted agent), never by an older one.
  Status who = RegistrationAllowed(*conn, info);
  if (!who.ok()) {
    metrics_->ControlRefused(conn->socket.peer().name != info.node ? "name_mismatch" : "older_incarnation");
    LogWarn("register_refused").Kv("node", info.node).Kv("peer", conn->socket.PeerLabel()).Kv("error", who.ToString());
    v1::OrchestratorToAgent refuse;
    refuse.mutable_register_ack()->set_accepted(false);
    refuse.mutable_register_ack()->set_error(who.ToString());
    (void)co_await net::WriteMessage(conn->socket, refuse, std::chrono::seconds(5));
    co_return;
  }
  auto kind = controller_->OnRegister(info, Now());
  v1::OrchestratorToAgent ack;
  ack.mutable_register_ack()->set_accepted(kind.ok());
  ack.mutable_register_ack()->set_heartbeat_period_ms(static_cast<uint32_t>(config_.heartbeat_period_ms));
  if (!kind.ok()) {
    ack.mutable_register_ack()->set_error(kind.status().ToString());
    metrics_->BadControlMessage("register_refused");
    (void)co_await net::WriteMessage(conn->socket, ack, std::chrono::seconds(5));
    co_return;
  }
  conn->node = info.node;
  conn->incarnation = info.incarnation;
  if (auto old = conns_.find(info.node); old != conns_.end()) {
    LogWarn("agent_connection_replaced").Kv("node", info.node).Kv("old_conn", old->second->id).Kv("new_conn", conn->id);
    boost::system::error_code ec;
    old->second->outbox.Close();
    old->second->socket.close(ec);
  }
  conns_[info.node] = conn;
  LogInfo("agent_registered").Kv("node", info.node).Kv("kind", RegisterKindName(*kind)).Kv("data", info.data_address);
  (void)conn->outbox.Push(ack);
  asio::co_spawn(io_, [conn]() -> asio::awaitable<void> { (void)co_await conn->outbox.Run(); }, asio::detached);
  AfterStep();
  for (;;) {
    msg.Clear();
    // Heartbeat silence closes the connection (a live agent reconnects and re-registers).
    s = co_await net::ReadMessage(conn->socket, &msg, ControlSilenceTimeout(config_.heartbeat_period_ms),
                                  config_.max_control_message_bytes);
    if (!s.ok()) {
      if (s.code() != StatusCode::kUnavailable) metrics_->BadControlMessage(StatusCodeName(s.code()));
      break;
    }
    const TimePoint now = Now();
    if (msg.has_heartbeat()) {
      const auto& hb = msg.heartbeat();
      Status hs = controller_->OnHeartbeat(conn->node, hb.seq(), FromProto(hb.capacity()), now);
      heartbeats_.fetch_add(1, std::memory_order_relaxed);
      metrics_->ControlMessage("heartbeat");
      if (hb.sent_unix_ms() > 0) {
        int64_t lag_us = std::max<int64_t>(0, (UnixMs() - hb.sent_unix_ms()) * 1000);
        metrics_->HeartbeatLag(static_cast<double>(lag_us) / 1e6);
        int64_t cur = max_lag_us_.load();
        while (lag_us > cur && !max_lag_us_.compare_exchange_weak(cur, lag_us)) {
        }
      }
      if (!hs.ok()) {
        // A node declared dead must register again: closing makes the agent reconnect.
        LogWarn("heartbeat_refused").Kv("node", conn->node).Kv("error", hs.ToString());
        break;
      }
    } else if (msg.has_ack()) {
      metrics_->ControlMessage("ack");
      controller_->OnAck(conn->node, FromProto(msg.ack()), now);
    } else {
      metrics_->BadControlMessage("unexpected_message");
      break;
    }
    AfterStep();
  }
  boost::system::error_code ec;
  conn->outbox.Close();
  conn->socket.close(ec);
  auto it = conns_.find(conn->node);
  if (it != conns_.end() && it->second == conn) {
    conns_.erase(it);
    if (!stopped_) controller_->OnDisconnect(conn->node, Now());
    LogInfo("agent_disconnected").Kv("node", conn->node);
  }
  AfterStep();
}

Status OrchestratorApp::RegistrationAllowed(const Conn& conn, const RegisterInfo& info) const {
  const auto& peer = conn.socket.peer();
  if (peer.authenticated && peer.name != info.node)
    return PermissionDenied("certificate is for '" + peer.name + "', registration claims '" + info.node + "'");
  auto live = conns_.find(info.node);
  if (live != conns_.end() && info.incarnation < live->second->incarnation)
    return PermissionDenied("'" + info.node + "' is connected with a newer incarnation (" +
                            std::to_string(live->second->incarnation) + " > " + std::to_string(info.incarnation) + ")");
  return Status::Ok();
}

void OrchestratorApp::Reload(const OrchestratorConfig& fresh) {
  tls_->SetRevoked(fresh.tls.revoked);
  int closed = 0;
  for (auto& [node, c] : conns_) {
    if (c->socket.peer().authenticated && !tls_->Admit(c->socket.peer()).ok()) {
      LogWarn("revoked_agent_disconnected").Kv("node", node);
      boost::system::error_code ec;
      c->outbox.Close();
      c->socket.close(ec);
      ++closed;
    }
  }
  LogInfo("reloaded").Kv("revoked", fresh.tls.revoked.size()).Kv("connections_closed", closed);
}

asio::awaitable<void> OrchestratorApp::TickLoop() {
  asio::steady_timer timer(io_);
  while (!stopped_) {
    timer.expires_after(std::chrono::milliseconds(config_.tick_ms));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopped_) co_return;
    controller_->Tick(Now());
    AfterStep();
  }
}

void OrchestratorApp::AfterStep() {
  Flush();
  std::map<std::string, Route> routes;
  for (const auto& [name, d] : controller_->deployments()) {
    auto r = controller_->RouteFor(name);
    Route route;
    if (r.ok()) route = *r;
    else route.unavailable_reason = r.status().message();
    routes[name] = route;
  }
  routes_.Publish(std::move(routes));
  Persist(false);
}

void OrchestratorApp::Flush() {
  for (int round = 0; round < 16; ++round) {
    auto cmds = controller_->TakeOutbox();
    if (cmds.empty()) return;
    for (const auto& c : cmds) {
      auto it = conns_.find(c.node);
      Status s = Unavailable("node " + c.node + " is not connected");
      if (it != conns_.end()) {
        v1::OrchestratorToAgent m;
        ToProto(c, m.mutable_command());
        s = it->second->outbox.Push(m);
      }
      LogInfo("command").Kv("node", c.node).Kv("id", c.id).Kv("kind", CommandKindName(c.kind))
          .Kv("deployment", c.deployment).Kv("epoch", c.epoch).Kv("sent", s.ok());
      if (!s.ok()) {
        AckInfo ack;
        ack.command_id = c.id;
        ack.ok = false;
        ack.error_code = StatusCodeName(s.code());
        ack.error = s.message();
        controller_->OnAck(c.node, ack, Now());
      }
    }
  }
}

void OrchestratorApp::Persist(bool force) {
  if (!store_) return;
  if (!controller_->TakeDirty() && !force) return;
  Status s = store_->Save(StateToJson(*controller_));
  if (!s.ok()) LogError("state_save_failed").Kv("error", s.ToString());
}

}  // namespace edgesplit::orch
