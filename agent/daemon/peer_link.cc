#include "agent/daemon/peer_link.h"

#include "agent/transport/kernel_send_state.h"
#include "common/base/log.h"

namespace edgesplit::agent {

namespace asio = boost::asio;

PeerLink::PeerLink(asio::any_io_executor ex, std::string address, Options options, transport::TokenBucket* egress,
                   AgentMetrics* metrics, FailFn on_fail)
    : ex_(ex), address_(std::move(address)), options_(options), egress_(egress), metrics_(metrics),
      on_fail_(std::move(on_fail)), queue_(ex, options.max_queue) {}

void PeerLink::Start() { asio::co_spawn(ex_, [self = shared_from_this()] { return self->Run(); }, asio::detached); }

Status PeerLink::Send(transport::Frame f) {
  if (queue_.closed()) return FailedPrecondition("link to " + address_ + " is closed");
  if (!queue_.Push(std::move(f)))
    return ResourceExhausted("overloaded: send queue to " + address_ + " is full");
  return Status::Ok();
}

void PeerLink::Close() {
  for (auto& f : queue_.Close()) on_fail_(f, Unavailable("link to " + address_ + " closed"));
  if (socket_) {
    boost::system::error_code ec;
    socket_->close(ec);
  }
}

bool PeerLink::CloseIfRevoked() {
  if (!socket_ || !socket_->peer().authenticated || !options_.tls || options_.tls->Admit(socket_->peer()).ok()) return false;
  boost::system::error_code ec;
  socket_->close(ec);
  return true;
}

net::Awaitable<void> PeerLink::Run() {
  for (;;) {
    auto f = co_await queue_.Pop();
    if (!f) break;
    if (!socket_ || !socket_->is_open()) {
      net::PeerRequirement want;  // a local, not a braced temporary: GCC 12 miscompiles those in coroutines
      want.roles = {security::Role::kAgent};
      want.name = options_.expect_node;
      auto s = co_await net::Connect(address_, options_.connect_timeout, options_.tls, want);
      if (!s.ok()) {
        LogWarn("peer_connect_failed").Kv("peer", address_).Kv("error", s.status().ToString());
        on_fail_(*f, s.status());
        continue;
      }
      socket_.emplace(std::move(*s));
      kernel_.reset();  // cumulative counters restart with the connection
    }
    // Time in the send path: the egress budget, the socket's buffer filling when the link is
    // saturated, and TLS; a connect is not part of it.
    const auto t0 = std::chrono::steady_clock::now();
    Status w = co_await transport::WriteFrame(*socket_, *f, options_.frame_deadline, egress_);
    if (!w.ok()) {
      LogWarn("peer_write_failed").Kv("peer", address_).Kv("error", w.ToString());
      boost::system::error_code ec;
      socket_->close(ec);
      socket_.reset();
      on_fail_(*f, w);
      continue;
    }
    if (metrics_) metrics_->FrameOut(f->kind, f->has_tensor ? f->tensor.nbytes : 0);
    if (f->has_tensor && f->tensor.nbytes >= TrafficRate::kMinBytes) {
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - t0).count();
      auto kernel = transport::ReadKernelSendState(socket_->socket().native_handle());
      const double since = std::chrono::duration<double>(now - kernel_at_).count();
      const double mbps = FrameLinkMbps(f->tensor.nbytes, seconds, kernel_, kernel, since);
      kernel_ = kernel;
      kernel_at_ = now;
      if (rate_.AddMbps(mbps) && options_.on_rate) options_.on_rate(rate_.mbps());
    }
  }
}

}  // namespace edgesplit::agent
