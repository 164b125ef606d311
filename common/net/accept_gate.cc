#include "common/net/accept_gate.h"

#include <cerrno>

#include "common/base/log.h"

namespace edgesplit::net {

namespace {

enum class AcceptFailure { kStopped, kExhausted, kLostConnection, kOther };

AcceptFailure Classify(const boost::system::error_code& ec, const tcp::acceptor& acceptor) {
  if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor || !acceptor.is_open())
    return AcceptFailure::kStopped;
  if (ec.category() == boost::system::system_category()) {
    switch (ec.value()) {
      case EMFILE:
      case ENFILE:
      case ENOBUFS:
      case ENOMEM:
        return AcceptFailure::kExhausted;
      // The connection died in the queue (or a firewall said no): the next one may be fine.
      case ECONNABORTED:
      case EPROTO:
      case ECONNRESET:
      case EPERM:
        return AcceptFailure::kLostConnection;
      default:
        break;
    }
  }
  return AcceptFailure::kOther;
}

}  // namespace

AcceptGate::AcceptGate(AcceptGateOptions options)
    : options_(std::move(options)), limiter_(options_.limits), backoff_(options_.backoff) {}

Awaitable<std::optional<Accepted>> AcceptGate::Next(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      const AcceptFailure f = Classify(ec, acceptor);
      if (f == AcceptFailure::kStopped) co_return std::nullopt;
      if (options_.on_accept_error) options_.on_accept_error(f == AcceptFailure::kExhausted ? "fd_exhausted" : "other");
      if (f == AcceptFailure::kLostConnection) continue;
      // Out of descriptors (or an unknown, possibly persistent error): wait before retrying,
      // or the still-readable listener spins this thread.
      const AcceptBackoff::Step step = backoff_.OnExhausted();
      if (step.episode_start)
        LogWarn("accept_failing").Kv("port", options_.port_name).Kv("error", ec.message())
            .Kv("open_connections", limiter_.open());
      asio::steady_timer timer(acceptor.get_executor());
      timer.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(step.wait));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (uint64_t failures = backoff_.OnAccepted())
      LogInfo("accept_recovered").Kv("port", options_.port_name).Kv("failed_accepts", failures);
    boost::system::error_code rec;
    const tcp::endpoint remote = socket.remote_endpoint(rec);
    if (rec) continue;  // the peer is already gone: the socket closes here
    const std::string ip = remote.address().to_string();
    ConnectionLimiter::Slot slot;
    const Admission a = limiter_.TryAdmit(ip, &slot);
    if (a != Admission::kAdmitted) {
      // Closed without a word: answering would cost the writes the cap exists to save.
      boost::system::error_code ignore;
      socket.close(ignore);
      if (options_.on_refused) options_.on_refused(AdmissionName(a));
      LogDebug("connection_refused").Kv("port", options_.port_name).Kv("peer", ip).Kv("reason", AdmissionName(a));
      continue;
    }
    co_return Accepted{std::move(socket), std::move(slot), ip + ":" + std::to_string(remote.port())};
  }
}

}  // namespace edgesplit::net
