#include "agent/daemon/control_client.h"

#include "common/base/log.h"

namespace edgesplit::agent {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct ControlClient::Session {
  explicit Session(net::Stream s) : socket(std::move(s)), outbox(socket, {}) {}
  net::Stream socket;
  net::MessageOutbox outbox;
  bool open = true;
  void Close() {
    open = false;
    outbox.Close();
    boost::system::error_code ec;
    socket.close(ec);
  }
};

ControlClient::ControlClient(asio::io_context& io, ControlClientOptions options, RegisterFn make_register,
                             ProfileFn make_profile, CommandFn on_command, AgentMetrics* metrics)
    : io_(io), options_(std::move(options)), make_register_(std::move(make_register)),
      make_profile_(std::move(make_profile)), on_command_(std::move(on_command)), metrics_(metrics) {}

void ControlClient::Start() { asio::co_spawn(io_, Run(), asio::detached); }

void ControlClient::Stop() {
  stopped_ = true;
  if (session_) session_->Close();
}

net::Awaitable<void> ControlClient::Run() {
  int attempt = 0;
  asio::steady_timer backoff(io_);
  while (!stopped_) {
    bool registered_now = false;
    net::PeerRequirement want;  // a local, not a braced temporary: GCC 12 miscompiles those in coroutines
    want.roles = {security::Role::kOrchestrator};
    auto sock = co_await net::Connect(options_.orchestrator, options_.io_deadline, options_.tls, want);
    if (sock.ok() && !stopped_) {
      auto s = std::make_shared<Session>(std::move(*sock));
      session_ = s;
      v1::AgentToOrchestrator reg;
      *reg.mutable_register_() = make_register_();
      Status st = co_await net::WriteMessage(s->socket, reg, options_.io_deadline);
      v1::OrchestratorToAgent reply;
      if (st.ok()) st = co_await net::ReadMessage(s->socket, &reply, options_.io_deadline);
      if (st.ok() && (!reply.has_register_ack() || !reply.register_ack().accepted()))
        st = FailedPrecondition("registration refused: " + reply.register_ack().error());
      if (st.ok()) {
        attempt = 0;
        registered_ = true;
        metrics_->control_connected->Set(1);
        Duration period = options_.heartbeat_period;
        if (reply.register_ack().heartbeat_period_ms() > 0) period = std::chrono::milliseconds(reply.register_ack().heartbeat_period_ms());
        LogInfo("registered").Kv("orchestrator", options_.orchestrator).Kv("heartbeat_ms", ToMillis(period));
        registered_now = true;
        if (options_.on_attempt) options_.on_attempt(true);
        asio::co_spawn(io_, [s]() -> net::Awaitable<void> {
          Status w = co_await s->outbox.Run();
          if (!w.ok()) LogWarn("control_write_failed").Kv("error", w.ToString());
          s->Close();
        }, asio::detached);
        asio::co_spawn(io_, HeartbeatLoop(s, period), asio::detached);
        // Commands until the connection ends. The orchestrator may stay silent for long; a dead
        // connection is detected by the heartbeat writes' deadline.
        while (s->open) {
          v1::OrchestratorToAgent msg;
          st = co_await net::ReadMessage(s->socket, &msg, net::kNoDeadline);
          if (!st.ok()) break;
          if (!msg.has_command()) continue;
          LogInfo("command_received").Kv("id", msg.command().command_id()).Kv("kind", msg.command().kind_case());
          on_command_(msg.command(), [s](v1::CommandAck ack) {
            if (!s->open) return;  // the orchestrator re-reads state from heartbeats after reconnecting
            v1::AgentToOrchestrator m;
            *m.mutable_ack() = std::move(ack);
            Status p = s->outbox.Push(m);
            if (!p.ok()) LogWarn("ack_dropped").Kv("error", p.ToString());
          });
        }
      }
      registered_ = false;
      metrics_->control_connected->Set(0);
      s->Close();
      if (!stopped_) LogWarn("control_disconnected").Kv("orchestrator", options_.orchestrator).Kv("error", st.ToString());
    } else if (!sock.ok()) {
      // TLS problems (unknown CA, wrong role, revoked) do not heal by retrying: say so loudly.
      const bool tls_problem = sock.status().code() == StatusCode::kPermissionDenied ||
                               sock.status().message().find("TLS") != std::string::npos;
      (tls_problem ? LogWarn("control_connect_failed") : LogDebug("control_connect_failed"))
          .Kv("orchestrator", options_.orchestrator).Kv("error", sock.status().ToString());
    }
    if (stopped_) break;
    if (!registered_now && options_.on_attempt) options_.on_attempt(false);
    const Duration d = BackoffDelay(options_.backoff, attempt++, std::uniform_real_distribution<double>(0, 1)(rng_));
    backoff.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(d));
    co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

net::Awaitable<void> ControlClient::HeartbeatLoop(std::shared_ptr<Session> s, Duration period) {
  asio::steady_timer t(io_);
  auto last = std::chrono::steady_clock::now();
  while (s->open && !stopped_) {
    v1::AgentToOrchestrator m;
    auto* hb = m.mutable_heartbeat();
    hb->set_seq(++heartbeat_seq_);
    const auto now = std::chrono::steady_clock::now();
    *hb->mutable_capacity() = make_profile_(std::chrono::duration<double>(now - last).count());
    hb->set_sent_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count());
    metrics_->heartbeat_lag_seconds->Set(std::chrono::duration<double>(now - last).count());
    last = now;
    Status p = s->outbox.Push(m);
    if (!p.ok()) LogWarn("heartbeat_dropped").Kv("error", p.ToString());
    t.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(period));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace edgesplit::agent
