// The edgesplit-agent application: wires config, the data plane (AgentCore), the control client,
// the compute and loader pools, metrics and HTTP. One io thread runs all network I/O.
// Thread-safety: Create/Start/Shutdown/Run from one thread; accessors are safe after Start.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "agent/daemon/agent_core.h"
#include "agent/daemon/config.h"
#ifdef ES_HAVE_HTTP
#include "common/http/http_server.h"
#endif

namespace edgesplit::agent {

inline constexpr const char* kAgentVersion = "0.1.0";

class Agent {
 public:
  // `loader` empty = load packages from config.models_dir with agent/runtime.
  static Result<std::unique_ptr<Agent>> Create(AgentConfig config, SegmentLoader loader = {});
  ~Agent();

  // Binds ports and starts the io thread in the background (in-process tests).
  Status Start();
  // Drains in-flight work (like SIGTERM), stops and joins. Idempotent.
  void Shutdown();
  // Start + serve on the calling thread until SIGTERM/SIGINT has drained the agent. Exit code.
  int RunUntilSignal();
  // SIGHUP (in RunUntilSignal) calls `reload` and applies what may change at run time: the TLS
  // revocation list (tls.revoked); connections of newly revoked peers are closed.
  void SetReloader(std::function<Result<AgentConfig>()> reload) { reload_ = std::move(reload); }

  // Runs a control command in-process (embedding, benchmarks) and waits for its ack; the same
  // path as a command from the orchestrator. Only after Start().
  Result<v1::CommandAck> Execute(const v1::Command& cmd, Duration timeout);

  std::string data_address() const { return data_address_; }
  std::string http_address() const { return http_address_; }
  AgentMetrics& metrics() { return *metrics_; }

 private:
  explicit Agent(AgentConfig config, SegmentLoader loader);
  Status StartOnIo();
  void BeginStop();
  void WaitForHangup();
  v1::Register MakeRegister();
  v1::CapacityProfile MakeProfile(double period_s);
  std::string ServiceStatus() const;  // systemd's STATUS line; io thread
  void OnRegistrationAttempt(bool registered);
#ifdef ES_HAVE_HTTP
  void HandleEmulation(HttpRequest req, Responder respond);
#endif

  struct Impl;
  AgentConfig config_;
  SegmentLoader loader_;
  std::unique_ptr<AgentMetrics> metrics_;
  std::unique_ptr<Impl> impl_;
  std::string data_address_;
  std::string http_address_;
  std::thread io_thread_;
  std::function<Result<AgentConfig>()> reload_;
  bool stopped_ = false;
};

}  // namespace edgesplit::agent
