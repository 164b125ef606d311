// edgesplitctl's TLS identity for the data plane (clients talking straight to an entry agent):
// --ca/--cert/--key, else the environment (EDGESPLIT_TLS_CA, EDGESPLIT_TLS_CERT,
// EDGESPLIT_TLS_KEY). None given: plaintext (the entry must run with tls: {mode: off}).
#pragma once

#include <cstdlib>
#include <string>

#include "common/base/flags.h"
#include "common/security/tls_context.h"

namespace edgesplit::ctl {

inline Result<security::TlsPtr> ClientTls(const Flags& f) {
  security::TlsConfig c;
  auto pick = [&](const char* flag, const char* env) {
    if (f.Has(flag)) return f.Get(flag);
    const char* e = std::getenv(env);
    return std::string(e ? e : "");
  };
  c.ca = pick("ca", "EDGESPLIT_TLS_CA");
  c.cert = pick("cert", "EDGESPLIT_TLS_CERT");
  c.key = pick("key", "EDGESPLIT_TLS_KEY");
  if (c.ca.empty() && c.cert.empty() && c.key.empty()) return security::TlsContext::Plaintext();
  c.mode_given = true;
  auto t = security::TlsContext::Create(c);
  if (!t.ok()) return Status(t.status().code(), "client TLS (--ca/--cert/--key): " + t.status().message());
  return *t;
}

}  // namespace edgesplit::ctl
