// One connection of the control channel or the data plane: TLS over TCP, or plain TCP when the
// process runs with `tls: {mode: off}`. It is an Asio AsyncStream, so the framing helpers
// (async_io.h) read and write it without knowing which; the socket below stays reachable for
// options, cancellation and close. After the handshake `peer()` says who is on the other end
// (the name and role in its certificate; unauthenticated on plaintext).
// Like a socket: use on its executor only; one read and one write may be outstanding at once.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>
#include <optional>

#include "common/base/status.h"
#include "common/security/tls_context.h"

namespace edgesplit::net {

class Stream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using lowest_layer_type = boost::asio::ip::tcp::socket;
  using tcp = boost::asio::ip::tcp;

  // TLS over `socket` when tls is enabled (handshake still to do), else plain TCP.
  Stream(tcp::socket socket, security::TlsPtr tls);
  Stream(Stream&&) noexcept = default;
  Stream& operator=(Stream&&) noexcept = default;

  executor_type get_executor() { return socket().get_executor(); }
  tcp::socket& socket() { return ssl_ ? ssl_->next_layer() : plain_; }
  lowest_layer_type& lowest_layer() { return socket(); }
  bool is_open() const { return ssl_ ? ssl_->next_layer().is_open() : plain_.is_open(); }
  void close(boost::system::error_code& ec) { socket().close(ec); }
  void close() {
    boost::system::error_code ignored;
    socket().close(ignored);
  }
  template <typename Option>
  void set_option(const Option& o, boost::system::error_code& ec) { socket().set_option(o, ec); }

  bool tls() const { return ssl_.has_value(); }
  const security::PeerIdentity& peer() const { return peer_; }
  // "name (role)" or "unauthenticated ip:port", for logs.
  std::string PeerLabel();

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const MutableBuffers& bufs) {
          if (ssl_) ssl_->async_read_some(bufs, std::move(handler));
          else plain_.async_read_some(bufs, std::move(handler));
        },
        token, b);
  }
  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const ConstBuffers& bufs) {
          if (ssl_) ssl_->async_write_some(bufs, std::move(handler));
          else plain_.async_write_some(bufs, std::move(handler));
        },
        token, b);
  }

  // Runs the TLS handshake (no-op on plaintext) within `deadline`, then reads the peer's
  // identity and checks it against the revocation list. Errors: unavailable (handshake failed,
  // e.g. a plaintext peer or an unknown CA), deadline_exceeded, invalid_argument (certificate
  // without a valid name/role), permission_denied (revoked).
  boost::asio::awaitable<Status> Handshake(bool server, std::chrono::steady_clock::duration deadline);

 private:
  security::TlsPtr tls_;
  tcp::socket plain_;
  std::optional<boost::asio::ssl::stream<tcp::socket>> ssl_;
  security::PeerIdentity peer_;
};

// Who may be on the other end: a role and optionally one name (empty = any name).
struct PeerRequirement {
  std::vector<security::Role> roles;
  std::string name;
};
// permission_denied naming what was expected; ok on plaintext streams (nothing to check).
Status CheckPeer(const Stream& s, const PeerRequirement& want);

}  // namespace edgesplit::net
