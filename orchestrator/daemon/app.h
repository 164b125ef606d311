// OrchestratorApp: edgesplit-orchestrator assembled. One control io thread runs the control
// server (agents dial in; protobuf frames via common/net), the REST server (common/http), the
// controller tick and persistence; the inference gateway has its own worker pool.
// Thread-safety: Start/Stop from the owning thread; everything else runs on the io thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio.hpp>

#include "common/base/clock.h"
#include "common/http/http_server.h"
#include "common/net/stream.h"
#include "common/net/accept_gate.h"
#include "common/systemd/io_watchdog.h"
#include "common/systemd/service_notifier.h"
#include "orchestrator/daemon/config.h"
#include "orchestrator/controller/controller.h"
#include "orchestrator/daemon/gateway.h"
#include "orchestrator/daemon/metrics.h"
#include "orchestrator/daemon/route_table.h"
#include "orchestrator/daemon/state_store.h"
#include "orchestrator/daemon/tokenizers.h"

namespace edgesplit::orch {

class OrchestratorApp {
 public:
  // Loads the catalog and the persisted state, binds both ports. Errors name what failed.
  static Result<std::unique_ptr<OrchestratorApp>> Create(OrchestratorConfig config);
  ~OrchestratorApp();

  // Tell systemd about this process (READY, STATUS, STOPPING, watchdog keep-alives from the io
  // thread) when it runs under a notify socket. Call before Start; main does, in-process tests
  // do not.
  void EnableServiceNotifications();
  // Runs the io thread in the background.
  void Start();
  // Stops accepting, closes connections, saves the state, joins threads.
  void Stop();
  // Blocks until a SIGTERM/SIGINT, then stops. SIGHUP calls `reload` and applies the new TLS
  // revocation list (connections of revoked agents are closed). Signals must be blocked in all
  // threads (main does it before Create).
  void RunUntilSignal(std::function<Result<OrchestratorConfig>()> reload = {});

  std::string control_address() const { return control_address_; }
  std::string http_address() const;
  // Largest heartbeat processing lag seen since the last call (seconds); for the bench.
  double TakeMaxHeartbeatLag();
  uint64_t heartbeats_processed() const { return heartbeats_.load(); }
  // Runs `fn` on the io thread and waits (tests and bench only).
  void RunOnIo(std::function<void(Controller&)> fn);

 private:
  struct Conn;
  explicit OrchestratorApp(OrchestratorConfig config);
  boost::asio::awaitable<void> AcceptLoop();
  boost::asio::awaitable<void> Session(net::Stream stream);
  Status RegistrationAllowed(const Conn& conn, const RegisterInfo& info) const;
  void Reload(const OrchestratorConfig& fresh);
  boost::asio::awaitable<void> TickLoop();
  void AfterStep();
  void Flush();
  void Persist(bool force);
  std::string ServiceStatus() const;  // the STATUS line; io thread

  OrchestratorConfig config_;
  boost::asio::io_context io_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<RestApi> api_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<OrchestratorMetrics> metrics_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<TokenizerSet> tokenizers_;
  std::unique_ptr<StateStore> store_;
  RouteTable routes_;
  security::TlsPtr tls_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::optional<net::AcceptGate> control_gate_;
  std::string control_address_;
  std::map<std::string, std::shared_ptr<Conn>> conns_;
  uint64_t next_conn_id_ = 1;
  std::thread io_thread_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> heartbeats_{0};
  std::atomic<int64_t> max_lag_us_{0};
  bool ready_ = false;
  systemd::ServiceNotifier notifier_ = systemd::ServiceNotifier::Disabled();
  std::unique_ptr<systemd::IoWatchdog> watchdog_;
};

}  // namespace edgesplit::orch
