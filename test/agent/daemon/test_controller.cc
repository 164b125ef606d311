#include "test/agent/daemon/test_controller.h"

#include <future>

namespace edgesplit::testing {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct TestController::Conn {
  // Plaintext: the fake orchestrator serves agents that run with tls: {mode: off}.
  explicit Conn(net::tcp::socket s) : socket(std::move(s), nullptr), outbox(socket, {}) {}
  net::Stream socket;
  net::MessageOutbox outbox;
};

TestController::TestController(uint32_t heartbeat_period_ms, const std::string& listen)
    : heartbeat_period_ms_(heartbeat_period_ms) {
  auto acc = net::Listen(io_.get_executor(), listen);
  if (!acc.ok()) throw std::runtime_error(acc.status().ToString());
  acceptor_.emplace(std::move(*acc));
  address_ = net::LocalAddress(*acceptor_);
  asio::co_spawn(io_, AcceptLoop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

TestController::~TestController() {
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_->close(ec);
    for (auto& [n, c] : agents_) {
      c->outbox.Close();
      c->socket.close(ec);
    }
  });
  io_.stop();
  thread_.join();
}

net::Awaitable<void> TestController::AcceptLoop() {
  for (;;) {
    auto [ec, sock] = co_await acceptor_->async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(io_, Serve(std::make_shared<Conn>(std::move(sock))), asio::detached);
  }
}

net::Awaitable<void> TestController::Serve(std::shared_ptr<Conn> c) {
  v1::AgentToOrchestrator first;
  Status s = co_await net::ReadMessage(c->socket, &first, 10s);
  if (!s.ok() || !first.has_register_()) co_return;
  const std::string node = first.register_().node();
  v1::OrchestratorToAgent ack;
  ack.mutable_register_ack()->set_accepted(true);
  ack.mutable_register_ack()->set_heartbeat_period_ms(heartbeat_period_ms_);
  s = co_await net::WriteMessage(c->socket, ack, 10s);
  if (!s.ok()) co_return;
  asio::co_spawn(io_, [c]() -> net::Awaitable<void> { co_await c->outbox.Run(); }, asio::detached);
  {
    std::lock_guard<std::mutex> lock(mu_);
    agents_[node] = c;
    registrations_[node] = first.register_();
  }
  cv_.notify_all();
  for (;;) {
    v1::AgentToOrchestrator m;
    s = co_await net::ReadMessage(c->socket, &m, 60s);
    if (!s.ok()) break;
    std::lock_guard<std::mutex> lock(mu_);
    if (m.has_heartbeat()) {
      heartbeats_[node] = m.heartbeat();
      heartbeat_counts_[node]++;
    } else if (m.has_ack()) {
      acks_[m.ack().command_id()] = m.ack();
    }
    cv_.notify_all();
  }
}

bool TestController::WaitForAgents(size_t n, Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return agents_.size() >= n; });
}

bool TestController::WaitForHeartbeats(const std::string& node, uint64_t count, Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return heartbeat_counts_[node] >= count; });
}

v1::Register TestController::registration(const std::string& node) {
  std::lock_guard<std::mutex> lock(mu_);
  return registrations_[node];
}

v1::Heartbeat TestController::last_heartbeat(const std::string& node) {
  std::lock_guard<std::mutex> lock(mu_);
  return heartbeats_[node];
}

Result<v1::CommandAck> TestController::Call(const std::string& node, v1::Command cmd, Duration timeout) {
  std::shared_ptr<Conn> c;
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = agents_.find(node);
    if (it == agents_.end()) return NotFound("agent " + node + " not registered");
    c = it->second;
    id = next_command_id_++;
  }
  cmd.set_command_id(id);
  v1::OrchestratorToAgent m;
  *m.mutable_command() = cmd;
  std::promise<Status> pushed;
  asio::post(io_, [&] { pushed.set_value(c->outbox.Push(m)); });
  ES_RETURN_IF_ERROR(pushed.get_future().get());
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return acks_.count(id) > 0; }))
    return DeadlineExceeded("no ack for command " + std::to_string(id) + " from " + node);
  v1::CommandAck ack = acks_[id];
  acks_.erase(id);
  return ack;
}

v1::Command TestController::Load(const std::string& deployment, uint64_t epoch, const std::string& model, int first,
                                 int end, int num_layers, const std::string& downstream, bool is_entry,
                                 const std::string& entry) {
  v1::Command c;
  auto* l = c.mutable_load();
  l->set_deployment(deployment);
  l->set_epoch(epoch);
  l->set_model(model);
  l->set_first_layer(first);
  l->set_end_layer(end);
  l->set_num_layers(num_layers);
  l->set_downstream_address(downstream);
  l->set_is_entry(is_entry);
  l->set_entry_address(entry);
  return c;
}

v1::Command TestController::Activate(const std::string& d, uint64_t e) {
  v1::Command c;
  c.mutable_activate()->set_deployment(d);
  c.mutable_activate()->set_epoch(e);
  return c;
}
v1::Command TestController::Drain(const std::string& d, uint64_t e) {
  v1::Command c;
  c.mutable_drain()->set_deployment(d);
  c.mutable_drain()->set_epoch(e);
  return c;
}
v1::Command TestController::Unload(const std::string& d, uint64_t e) {
  v1::Command c;
  c.mutable_unload()->set_deployment(d);
  c.mutable_unload()->set_epoch(e);
  return c;
}

}  // namespace edgesplit::testing
