#include "common/security/tls_context.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

namespace edgesplit::security {

namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Status TlsConfig::Validate(const std::string& where) const {
  if (!enabled) {
    if (!mode_given) return InvalidArgument(where + ": plaintext needs an explicit mode: off");
    return Status::Ok();
  }
  std::string missing;
  if (ca.empty()) missing += " ca";
  if (cert.empty()) missing += " cert";
  if (key.empty()) missing += " key";
  if (!missing.empty())
    return InvalidArgument(where + ": missing" + missing + " (TLS needs ca, cert and key files; " + where +
                           ": {mode: off} runs plaintext)");
  for (const auto& r : revoked)
    if (r.empty()) return InvalidArgument(where + ".revoked: empty entry");
  return Status::Ok();
}

Status TlsConfig::Set(const std::string& k, const std::string& v) {
  if (k == "mode") {
    if (v != "on" && v != "off") return InvalidArgument("tls.mode: '" + v + "' must be on or off");
    enabled = v == "on";
    mode_given = true;
  } else if (k == "ca") {
    ca = v;
  } else if (k == "cert") {
    cert = v;
  } else if (k == "key") {
    key = v;
  } else if (k == "revoked") {
    revoked.clear();
    std::stringstream in(v);
    for (std::string item; std::getline(in, item, ',');)
      if (!item.empty()) revoked.push_back(item);
  } else {
    return InvalidArgument("unknown config key 'tls." + k + "'");
  }
  return Status::Ok();
}

std::shared_ptr<TlsContext> TlsContext::Plaintext() {
  return std::shared_ptr<TlsContext>(new TlsContext());
}

Result<std::shared_ptr<TlsContext>> TlsContext::Create(const TlsConfig& config) {
  ES_RETURN_IF_ERROR(config.Validate());
  auto t = Plaintext();
  if (!config.enabled) return t;
  for (const auto* f : {&config.ca, &config.cert, &config.key}) {
    // The error_code overload: a path that cannot even be looked at (a credentials directory
    // the daemon may not enter) is one clear error, not an exception out of startup.
    std::error_code ec;
    const bool found = std::filesystem::exists(*f, ec);
    if (ec) return Unavailable("tls: " + *f + ": " + ec.message());
    if (!found) return NotFound("tls: " + *f + " does not exist");
  }
  namespace ssl = boost::asio::ssl;
  t->ssl_ = std::make_unique<ssl::context>(ssl::context::tls);
  SSL_CTX* native = t->ssl_->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION);
  boost::system::error_code ec;
  t->ssl_->load_verify_file(config.ca, ec);
  if (ec) return InvalidArgument("tls.ca " + config.ca + ": " + ec.message());
  t->ssl_->use_certificate_chain_file(config.cert, ec);
  if (ec) return InvalidArgument("tls.cert " + config.cert + ": " + ec.message());
  t->ssl_->use_private_key_file(config.key, ssl::context::pem, ec);
  if (ec) return InvalidArgument("tls.key " + config.key + ": " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) return InvalidArgument("tls.key " + config.key + " does not match tls.cert");
  // Both ends must present a certificate of the operator's CA.
  t->ssl_->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  auto self = IdentityOf(SSL_CTX_get0_certificate(native));
  if (!self.ok()) return InvalidArgument("tls.cert " + config.cert + ": " + self.status().message());
  // Our own certificate must verify against the CA too (else every peer would refuse us).
  X509_STORE_CTX* vctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(vctx, SSL_CTX_get_cert_store(native), SSL_CTX_get0_certificate(native), nullptr);
  const int ok = X509_verify_cert(vctx);
  const int err = X509_STORE_CTX_get_error(vctx);
  X509_STORE_CTX_free(vctx);
  if (ok != 1)
    return InvalidArgument("tls.cert " + config.cert + " does not verify against tls.ca: " +
                           X509_verify_cert_error_string(err));
  t->self_ = *self;
  t->enabled_ = true;
  t->SetRevoked(config.revoked);
  return t;
}

void TlsContext::SetRevoked(const std::vector<std::string>& names_or_serials) {
  std::set<std::string> s;
  for (const auto& r : names_or_serials) {
    s.insert(r);
    s.insert(Upper(r));  // serials compare case-insensitively
  }
  std::lock_guard<std::mutex> lock(mu_);
  revoked_ = std::move(s);
}

Status TlsContext::Admit(const PeerIdentity& peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (revoked_.count(peer.name)) return PermissionDenied("certificate of '" + peer.name + "' is revoked");
  if (revoked_.count(Upper(peer.serial)))
    return PermissionDenied("certificate serial " + peer.serial + " of '" + peer.name + "' is revoked");
  return Status::Ok();
}

}  // namespace edgesplit::security
