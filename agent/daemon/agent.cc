#include "agent/daemon/agent.h"

#include <dirent.h>

#include <future>
#include <random>

#include "agent/daemon/control_client.h"
#include "agent/daemon/emulation.h"
#include "agent/daemon/proc_stats.h"
#include "agent/runtime/blas_kernels.h"
#include "common/base/log.h"
#include "common/base/random_id.h"
#include "common/net/endpoint.h"
#include "common/systemd/io_watchdog.h"
#include "common/systemd/service_notifier.h"
#ifdef ES_HAVE_HTTP
#include "common/http/http_server.h"
#include "common/http/metrics_text.h"
#endif

namespace edgesplit::agent {

namespace asio = boost::asio;

struct Agent::Impl {
  asio::io_context io{1};
  std::unique_ptr<AgentCore> core;
  std::unique_ptr<ControlClient> control;
  std::optional<asio::signal_set> signals;
  std::optional<asio::signal_set> hangup;
  security::TlsPtr tls;
#ifdef ES_HAVE_HTTP
  std::unique_ptr<HttpServer> http;
#endif
  ProcSampler proc;
  // systemd: only RunUntilSignal (the daemon) turns it on; in-process agents stay silent.
  systemd::ServiceNotifier notifier = systemd::ServiceNotifier::Disabled();
  std::unique_ptr<systemd::IoWatchdog> watchdog;
  bool ready_notified = false;
  bool last_registered = false;
  uint64_t profile_version = 0;
  // Ordered by start time (ms since the epoch, high bits) so the orchestrator can tell a
  // restarted agent (newer) from a stale duplicate (older); random low bits separate two starts
  // in the same millisecond.
  uint64_t incarnation = (static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count()) << 16) |
                         (RandomId() & 0xffff);
  // Destroyed first (declared last): joins compute threads before the core goes away.
  std::unique_ptr<WorkerPool> loader_pool;
  std::unique_ptr<WorkerPool> compute;
};

Agent::Agent(AgentConfig config, SegmentLoader loader)
    : config_(std::move(config)), loader_(std::move(loader)), metrics_(std::make_unique<AgentMetrics>()),
      impl_(std::make_unique<Impl>()) {}

Agent::~Agent() {
  Shutdown();
  // Pools join before the core is destroyed: callbacks they post check the core's liveness flag.
  impl_->compute.reset();
  impl_->loader_pool.reset();
}

Result<std::unique_ptr<Agent>> Agent::Create(AgentConfig config, SegmentLoader loader) {
  ES_RETURN_IF_ERROR(config.Validate());
  if (!loader) loader = MakePackageLoader(config.models_dir, config.verify_sha256);
  ES_ASSIGN_OR_RETURN(security::TlsPtr tls, security::TlsContext::Create(config.tls));
  if (tls->enabled() && tls->self().name != config.node)
    return InvalidArgument("node '" + config.node + "' but tls.cert " + config.tls.cert + " is for '" + tls->self().name +
                           "': a node's name is the one in its certificate");
  if (tls->enabled() && tls->self().role != security::Role::kAgent)
    return InvalidArgument(std::string("tls.cert ") + config.tls.cert + " has role " + security::RoleName(tls->self().role) +
                           ", an agent needs role agent");
  if (!tls->enabled()) LogWarn("tls_off").Kv("node", config.node).Kv("note", "plaintext data and control channels (tls: {mode: off}): one-box experiments only");
  std::unique_ptr<Agent> a(new Agent(std::move(config), std::move(loader)));
  a->impl_->tls = tls;
  // The kernels main() chose before anything started (none when SelectBlasKernels did not run).
  if (const BlasChoice& b = CurrentBlasChoice(); !b.source.empty()) a->metrics_->BlasKernels(b.core, b.detected, b.source);
  a->impl_->compute = std::make_unique<WorkerPool>("compute", a->config_.compute_threads, static_cast<size_t>(a->config_.max_queue));
  a->impl_->loader_pool = std::make_unique<WorkerPool>("loader", 1, 64);
  a->impl_->core = std::make_unique<AgentCore>(a->impl_->io, a->config_, a->loader_, a->metrics_.get(),
                                               a->impl_->compute.get(), a->impl_->loader_pool.get(), tls);
  return a;
}

v1::Register Agent::MakeRegister() {
  v1::Register r;
  r.set_node(config_.node);
  r.set_version(kAgentVersion);
  *r.mutable_capacity() = MakeProfile(0);
  r.set_data_address(data_address_);
  r.set_trusted(config_.trusted);
  r.set_incarnation(impl_->incarnation);
  if (DIR* d = opendir(config_.models_dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (access((config_.models_dir + "/" + name + "/model.yaml").c_str(), R_OK) == 0) r.add_models(name);
    }
    closedir(d);
  }
  return r;
}

v1::CapacityProfile Agent::MakeProfile(double period_s) {
  v1::CapacityProfile p;
  p.set_version(++impl_->profile_version);
  p.set_cores(ProcSampler::Cores());
  p.set_cpu_utilization(impl_->proc.SampleCpu());
  const MemInfo mem = impl_->proc.SampleMemory();
  p.set_memory_total_bytes(mem.total_bytes);
  p.set_memory_available_bytes(mem.available_bytes);
  impl_->core->FillProfile(&p, period_s);
  return p;
}

Status Agent::StartOnIo() {
  ES_RETURN_IF_ERROR(impl_->core->Start());
  data_address_ = impl_->core->data_address();
  if (!config_.orchestrator.empty()) {
    ControlClientOptions o;
    o.orchestrator = config_.orchestrator;
    o.heartbeat_period = std::chrono::milliseconds(config_.heartbeat_period_ms);
    o.backoff.min = std::chrono::milliseconds(config_.reconnect_min_ms);
    o.backoff.max = std::chrono::milliseconds(config_.reconnect_max_ms);
    o.tls = impl_->tls;
    o.on_attempt = [this](bool registered) { OnRegistrationAttempt(registered); };
    impl_->control = std::make_unique<ControlClient>(
        impl_->io, o, [this] { return MakeRegister(); }, [this](double s) { return MakeProfile(s); },
        [this](const v1::Command& c, std::function<void(v1::CommandAck)> done) {
          impl_->core->HandleCommand(c, std::move(done));
        },
        metrics_.get());
    impl_->control->Start();
  }
#ifdef ES_HAVE_HTTP
  if (!config_.http_listen.empty()) {
    ES_ASSIGN_OR_RETURN(net::HostPort hp, net::ParseHostPort(config_.http_listen));
    HttpServerOptions ho;
    ho.bind_address = hp.host == "localhost" ? "127.0.0.1" : hp.host;
    ho.port = hp.port;
    ho.max_body_bytes = 1 << 20;
    ho.max_connections = static_cast<size_t>(config_.http_max_connections);
    ho.max_connections_per_peer = static_cast<size_t>(config_.http_max_connections_per_peer);
    ho.header_timeout = std::chrono::milliseconds(config_.http_header_timeout_ms);
    AgentMetrics* m = metrics_.get();
    ho.counters.connection_refused = [m](const char* reason) { m->ConnectionRefused("http", reason); };
    ho.counters.accept_error = [m](const char* reason) { m->AcceptError("http", reason); };
    ho.counters.request_refused = [m](const char* reason) { m->HttpRequestRefused(reason); };
    auto http = HttpServer::Start(impl_->io, ho, [this](HttpRequest req, Responder respond) {
      if (req.path == "/metrics") return respond(HttpResponse::Text(200, RenderMetricsText(*metrics_->registry()), kPrometheusContentType));
      if (req.path == "/livez") return respond(HttpResponse::Text(200, "ok\n"));
      if (req.path == "/readyz") {
        // posted: the handler may run off the io thread; readiness is io-thread state.
        asio::post(impl_->io, [this, respond] {
          const bool ready = impl_->core->ready();
          respond(HttpResponse::Text(ready ? 200 : 503, ready ? "ready\n" : "not ready\n"));
        });
        return;
      }
      if (req.path == "/v1/emulation") return HandleEmulation(std::move(req), std::move(respond));
      respond(HttpResponse::Error(404, "not_found", "no such path: " + req.path));
    });
    if (!http.ok()) return http.status();
    impl_->http = std::move(*http);
    http_address_ = hp.host + ":" + std::to_string(impl_->http->port());
  }
#endif
  LogInfo("agent_started").Kv("http", http_address_).Kv("node", config_.node).Kv("data", data_address_).Kv("orchestrator", config_.orchestrator)
      .Kv("compute_threads", config_.compute_threads).Kv("intra_op_threads", config_.intra_op_threads)
      .Kv("compute_slowdown", config_.emulation.compute_slowdown).Kv("egress_mbps", config_.emulation.egress_mbps);
  return Status::Ok();
}

std::string Agent::ServiceStatus() const {
  std::string s = config_.node + ": ";
  if (config_.orchestrator.empty()) s += "no orchestrator";
  else s += std::string(impl_->control && impl_->control->registered() ? "registered with " : "not registered with ") + config_.orchestrator;
  s += "; segments=" + std::to_string(static_cast<long long>(metrics_->segments_loaded->Value()));
  s += "; sessions=" + std::to_string(static_cast<long long>(metrics_->kv_sessions->Value()));
  s += "; in_flight=" + std::to_string(static_cast<long long>(metrics_->entry_in_flight->Value()));
  return s;
}

void Agent::OnRegistrationAttempt(bool registered) {
  // Ready once serving: ports bound (StartOnIo) and registered, or the first attempt failed (an
  // agent whose orchestrator is down still serves its data plane; systemd should not wait).
  if (!impl_->ready_notified) {
    impl_->ready_notified = true;
    if (!impl_->notifier.Ready(ServiceStatus())) LogWarn("systemd_notify_failed").Kv("message", "READY");
  } else if (registered != impl_->last_registered) {
    impl_->notifier.Status(ServiceStatus());
  }
  impl_->last_registered = registered;
}

#ifdef ES_HAVE_HTTP
// GET/PUT /v1/emulation (test feature). Parsing is pure and runs here; the change and the read
// run on the io thread, which owns the emulation state (compute submission, sends, profiles).
void Agent::HandleEmulation(HttpRequest req, Responder respond) {
  if (req.method == "GET") {
    asio::post(impl_->io, [this, respond] { respond(HttpResponse::Json(200, EmulationJson(impl_->core->emulation()))); });
    return;
  }
  if (req.method != "PUT") {
    HttpResponse r = HttpResponse::Error(405, "method_not_allowed", "use GET or PUT on /v1/emulation");
    r.headers.emplace_back("Allow", "GET, PUT");
    return respond(std::move(r));
  }
  if (!config_.emulation.runtime_api) {
    metrics_->EmulationUpdate(false);
    return respond(HttpResponse::Error(403, "forbidden",
                                       "runtime emulation changes are off (set emulation.runtime_api: true on testbeds)"));
  }
  Result<EmulationUpdate> u = ParseEmulationUpdate(req.body);
  if (!u.ok()) {
    metrics_->EmulationUpdate(false);
    LogWarn("emulation_rejected").Kv("node", config_.node).Kv("error", u.status().message());
    return respond(HttpResponse::Error(400, "invalid_argument", u.status().message()));
  }
  asio::post(impl_->io, [this, respond, u = *u] {
    impl_->core->SetEmulation(ApplyEmulationUpdate(impl_->core->emulation(), u));
    metrics_->EmulationUpdate(true);
    respond(HttpResponse::Json(200, EmulationJson(impl_->core->emulation())));
  });
}
#endif

Status Agent::Start() {
  ES_RETURN_IF_ERROR(StartOnIo());
  io_thread_ = std::thread([this] { impl_->io.run(); });
  return Status::Ok();
}

void Agent::BeginStop() {
  impl_->core->BeginShutdown([this] {
    if (impl_->control) impl_->control->Stop();
#ifdef ES_HAVE_HTTP
    if (impl_->http) impl_->http->Stop();
#endif
    impl_->core->Stop();
    impl_->io.stop();
  });
}

void Agent::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  if (io_thread_.joinable()) {
    asio::post(impl_->io, [this] { BeginStop(); });
    io_thread_.join();
  }
}

Result<v1::CommandAck> Agent::Execute(const v1::Command& cmd, Duration timeout) {
  if (!io_thread_.joinable() || stopped_) return FailedPrecondition("agent is not running");
  auto done = std::make_shared<std::promise<v1::CommandAck>>();
  auto fut = done->get_future();
  asio::post(impl_->io, [this, cmd, done] {
    impl_->core->HandleCommand(cmd, [done](v1::CommandAck ack) { done->set_value(std::move(ack)); });
  });
  if (fut.wait_for(timeout) != std::future_status::ready) return DeadlineExceeded("command not acknowledged in time");
  return fut.get();
}

void Agent::WaitForHangup() {
  if (!impl_->hangup) impl_->hangup.emplace(impl_->io, SIGHUP);
  impl_->hangup->async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;
    if (!reload_) {
      LogWarn("sighup_ignored").Kv("reason", "no config to re-read");
    } else if (auto c = reload_(); !c.ok()) {
      LogError("reload_failed").Kv("error", c.status().ToString());  // keep running with the old settings
    } else {
      impl_->tls->SetRevoked(c->tls.revoked);
      const int closed = impl_->core->CloseRevokedConnections();
      LogInfo("reloaded").Kv("revoked", c->tls.revoked.size()).Kv("connections_closed", closed);
    }
    WaitForHangup();
  });
}

int Agent::RunUntilSignal() {
  impl_->notifier = systemd::ServiceNotifier::FromEnvironment();
  Status s = StartOnIo();
  if (!s.ok()) {
    LogError("agent_start_failed").Kv("error", s.ToString());
    return 1;
  }
  systemd::IoWatchdogOptions wo;
  wo.status = [this] { return ServiceStatus(); };
  impl_->watchdog = std::make_unique<systemd::IoWatchdog>(impl_->io, impl_->notifier, wo);
  asio::post(impl_->io, [this] {
    if (config_.orchestrator.empty()) OnRegistrationAttempt(false);
    impl_->watchdog->Start();
  });
  if (config_.debug_wedge_io_after_ms > 0)
    systemd::ScheduleIoWedge(impl_->io, std::chrono::milliseconds(config_.debug_wedge_io_after_ms));
  impl_->signals.emplace(impl_->io, SIGTERM, SIGINT);
  impl_->signals->async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    LogInfo("signal").Kv("signal", sig);
    impl_->notifier.Stopping("stopping: draining in-flight requests");
    BeginStop();
  });
  WaitForHangup();
  impl_->io.run();
  stopped_ = true;
  LogInfo("agent_exit");
  return 0;
}

}  // namespace edgesplit::agent
