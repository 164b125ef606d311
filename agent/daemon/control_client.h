// The agent's side of the control channel: dials the orchestrator (agents sit behind NAT),
// registers, sends heartbeats, executes commands and acknowledges them; reconnects with jittered
// exponential backoff. Runs on the io thread; all callbacks are invoked there.
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string>

#include "agent/daemon/agent_metrics.h"
#include "agent/daemon/backoff.h"
#include "common/net/framed_message.h"
#include "common/proto/control.pb.h"

namespace edgesplit::agent {

struct ControlClientOptions {
  std::string orchestrator;  // host:port
  Duration heartbeat_period = std::chrono::seconds(1);
  BackoffOptions backoff;
  Duration io_deadline = std::chrono::seconds(10);  // connect, register, each write
  security::TlsPtr tls;  // null/plaintext: plain TCP; else the orchestrator must prove role orchestrator
  // After every registration attempt: true once registered, false when the attempt failed (the
  // agent tells systemd it is ready after its first attempt either way).
  std::function<void(bool registered)> on_attempt;
};

class ControlClient {
 public:
  using RegisterFn = std::function<v1::Register()>;
  using ProfileFn = std::function<v1::CapacityProfile(double period_s)>;
  using CommandFn = std::function<void(const v1::Command&, std::function<void(v1::CommandAck)>)>;

  ControlClient(net::asio::io_context& io, ControlClientOptions options, RegisterFn make_register, ProfileFn make_profile,
                CommandFn on_command, AgentMetrics* metrics);
  void Start();
  void Stop();
  bool registered() const { return registered_; }

 private:
  struct Session;
  net::Awaitable<void> Run();
  net::Awaitable<void> HeartbeatLoop(std::shared_ptr<Session> s, Duration period);
  net::asio::io_context& io_;
  ControlClientOptions options_;
  RegisterFn make_register_;
  ProfileFn make_profile_;
  CommandFn on_command_;
  AgentMetrics* metrics_;
  std::shared_ptr<Session> session_;
  std::mt19937_64 rng_{std::random_device{}()};
  bool stopped_ = false;
  bool registered_ = false;
  uint64_t heartbeat_seq_ = 0;
};

}  // namespace edgesplit::agent
