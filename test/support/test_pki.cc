#include "test/support/test_pki.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace edgesplit::testing {

TestPki& TestPki::Get() {
  static TestPki pki;
  return pki;
}

TestPki::TestPki() {
  const char* base = std::getenv("ES_TEST_TMP");
  std::string root = base && *base ? base : std::filesystem::temp_directory_path().string();
  std::filesystem::create_directories(root);
  std::string templ = root + "/pki.XXXXXX";
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp " + templ);
  dir_ = templ;
  Status s = security::InitCa(dir_, 30);
  if (!s.ok()) throw std::runtime_error("test CA: " + s.ToString());
}

security::TlsConfig TestPki::Config(const std::string& name, security::Role role) {
  const std::string key = name + "/" + security::RoleName(role);
  if (auto it = issued_.find(key); it != issued_.end()) return it->second;
  auto files = security::IssueCertificate(dir_, name, role, dir_ + "/" + security::RoleName(role), 30);
  if (!files.ok()) throw std::runtime_error("test certificate: " + files.status().ToString());
  security::TlsConfig c;
  c.mode_given = true;
  c.ca = files->ca;
  c.cert = files->cert;
  c.key = files->key;
  issued_[key] = c;
  return c;
}

security::TlsPtr TestPki::Context(const std::string& name, security::Role role) {
  auto t = security::TlsContext::Create(Config(name, role));
  if (!t.ok()) throw std::runtime_error("test TLS context: " + t.status().ToString());
  return *t;
}

security::TlsConfig PlaintextTls() {
  security::TlsConfig c;
  c.enabled = false;
  c.mode_given = true;
  return c;
}

}  // namespace edgesplit::testing
