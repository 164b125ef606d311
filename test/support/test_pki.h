// Certificates for tests: one operator CA per test process in a fresh directory (under
// $ES_TEST_TMP when set), node/client certificates issued on first use with the real pki code.
#pragma once

#include <map>
#include <string>

#include "common/security/pki.h"
#include "common/security/tls_context.h"

namespace edgesplit::testing {

class TestPki {
 public:
  static TestPki& Get();
  // tls: {ca, cert, key} for `name` with `role` (issued once per name and role).
  security::TlsConfig Config(const std::string& name, security::Role role);
  security::TlsPtr Context(const std::string& name, security::Role role);
  const std::string& dir() const { return dir_; }

 private:
  TestPki();
  std::string dir_;
  std::map<std::string, security::TlsConfig> issued_;
};

// tls: {mode: off}.
security::TlsConfig PlaintextTls();

}  // namespace edgesplit::testing
