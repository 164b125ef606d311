// TLS settings of one process (`tls: {ca, cert, key, revoked}` or `tls: {mode: off}`) and the
// OpenSSL context built from them: TLS 1.3 only, both sides present a certificate signed by the
// operator's CA, and a peer whose name or serial is revoked is refused after the handshake.
// Thread-safe: the revocation list may be replaced (SIGHUP) while connections are admitted.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/security/identity.h"

namespace edgesplit::security {

struct TlsConfig {
  bool enabled = true;       // mode: on | off (off = plaintext, for one-box experiments only)
  bool mode_given = false;   // `mode` was set explicitly
  std::string ca, cert, key;  // PEM files
  std::vector<std::string> revoked;  // certificate names or serials (hex) refused at the handshake

  // Plaintext needs an explicit mode: off; TLS needs all three files. `where` names the block.
  Status Validate(const std::string& where = "tls") const;
  // Applies one key of the `tls:` block (ca, cert, key, mode, revoked as a comma list).
  Status Set(const std::string& key, const std::string& value);
};

class TlsContext {
 public:
  // Loads the CA, certificate and key (errors name the file). Plaintext when !config.enabled.
  static Result<std::shared_ptr<TlsContext>> Create(const TlsConfig& config);
  // A plaintext context (tests and tools that never use TLS).
  static std::shared_ptr<TlsContext> Plaintext();

  bool enabled() const { return enabled_; }
  boost::asio::ssl::context& ssl() { return *ssl_; }
  // The identity in our own certificate (unauthenticated when plaintext).
  const PeerIdentity& self() const { return self_; }

  void SetRevoked(const std::vector<std::string>& names_or_serials);
  // permission_denied when the peer's name or serial is revoked.
  Status Admit(const PeerIdentity& peer) const;

 private:
  TlsContext() = default;
  bool enabled_ = false;
  std::unique_ptr<boost::asio::ssl::context> ssl_;
  PeerIdentity self_;
  mutable std::mutex mu_;
  std::set<std::string> revoked_;
};

using TlsPtr = std::shared_ptr<TlsContext>;

}  // namespace edgesplit::security
