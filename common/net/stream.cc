#include "common/net/stream.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <openssl/ssl.h>

namespace edgesplit::net {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

Stream::Stream(tcp::socket socket, security::TlsPtr tls) : tls_(std::move(tls)), plain_(socket.get_executor()) {
  if (tls_ && tls_->enabled()) ssl_.emplace(std::move(socket), tls_->ssl());
  else plain_ = std::move(socket);
}

std::string Stream::PeerLabel() {
  if (peer_.authenticated) return peer_.name + " (" + security::RoleName(peer_.role) + ")";
  boost::system::error_code ec;
  auto ep = socket().remote_endpoint(ec);
  return "unauthenticated " + (ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port()));
}

asio::awaitable<Status> Stream::Handshake(bool server, std::chrono::steady_clock::duration deadline) {
  if (!ssl_) co_return Status::Ok();
  asio::steady_timer timer(get_executor());
  timer.expires_after(deadline);
  auto r = co_await (ssl_->async_handshake(server ? asio::ssl::stream_base::server : asio::ssl::stream_base::client,
                                           asio::as_tuple(asio::use_awaitable)) ||
                     timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (r.index() == 1) co_return DeadlineExceeded("TLS handshake: deadline exceeded");
  auto [ec] = std::get<0>(r);
  if (ec) co_return Unavailable("TLS handshake: " + ec.message());
  X509* cert = SSL_get1_peer_certificate(ssl_->native_handle());
  auto id = security::IdentityOf(cert);
  X509_free(cert);
  if (!id.ok()) co_return id.status();
  peer_ = *id;
  co_return tls_->Admit(peer_);
}

Status CheckPeer(const Stream& s, const PeerRequirement& want) {
  if (!s.tls()) return Status::Ok();
  const auto& p = s.peer();
  bool role_ok = want.roles.empty();
  std::string roles;
  for (auto r : want.roles) {
    role_ok = role_ok || r == p.role;
    roles += (roles.empty() ? "" : "|") + std::string(security::RoleName(r));
  }
  if (!role_ok)
    return PermissionDenied("peer '" + p.name + "' has role " + security::RoleName(p.role) + ", expected " + roles);
  if (!want.name.empty() && p.name != want.name)
    return PermissionDenied("peer is '" + p.name + "', expected '" + want.name + "'");
  return Status::Ok();
}

}  // namespace edgesplit::net
