// The operator's CA: files, modes, names and roles read back from the certificates.
#include "common/security/pki.h"

#include <sys/stat.h>

#include <catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/security/tls_context.h"
#include "test/support/test_pki.h"

using namespace edgesplit;
using namespace edgesplit::security;

namespace {

std::string FreshDir(const std::string& tag) {
  std::string d = testing::TestPki::Get().dir() + "/" + tag;
  std::filesystem::remove_all(d);
  return d;
}

unsigned Mode(const std::string& path) {
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::unique_ptr<X509, void (*)(X509*)> ReadCert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  REQUIRE(f);
  X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(c);
  return {c, X509_free};
}

}  // namespace

TEST_CASE("pki init writes a CA once, keys 0600") {
  const std::string d = FreshDir("ca1");
  REQUIRE(InitCa(d, 10).ok());
  CHECK(Mode(d + "/ca.key") == 0600);
  CHECK(Mode(d + "/ca.crt") == 0644);
  Status again = InitCa(d, 10);
  CHECK(again.code() == StatusCode::kAlreadyExists);
  CHECK(InitCa(FreshDir("ca0"), 0).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("pki issue puts the name in the SAN and the role in the OU, with an expiry") {
  const std::string d = FreshDir("ca2");
  REQUIRE(InitCa(d).ok());
  auto files = IssueCertificate(d, "edge-7", Role::kAgent, d + "/out", 30);
  REQUIRE(files.ok());
  CHECK(Mode(files->key) == 0600);
  CHECK(std::filesystem::exists(d + "/out/ca.crt"));
  auto cert = ReadCert(files->cert);
  auto id = IdentityOf(cert.get());
  REQUIRE(id.ok());
  CHECK(id->name == "edge-7");
  CHECK(id->role == Role::kAgent);
  CHECK(id->serial == files->serial);
  CHECK(id->serial.size() >= 30);  // 127 random bits in hex
  // Expires in 30 days (to the day), not never.
  int days = 0, secs = 0;
  REQUIRE(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert.get())) == 1);
  CHECK((days == 29 || days == 30));
  // Two certificates never share a serial.
  auto again = IssueCertificate(d, "edge-7", Role::kAgent, d + "/out2", 30);
  REQUIRE(again.ok());
  CHECK(again->serial != files->serial);
}

TEST_CASE("pki refuses names that do not fit a certificate and unknown roles") {
  const std::string d = FreshDir("ca3");
  REQUIRE(InitCa(d).ok());
  for (const char* bad : {"", "a b", "-x", ".x", "x/y", "naïve"})
    CHECK(IssueCertificate(d, bad, Role::kAgent).status().code() == StatusCode::kInvalidArgument);
  CHECK_FALSE(ParseRole("admin").ok());
  CHECK(IssueCertificate(FreshDir("none"), "n1", Role::kAgent).status().code() == StatusCode::kNotFound);
}

TEST_CASE("a TLS context refuses a key of another certificate and a certificate of another CA") {
  const std::string a = FreshDir("caA"), b = FreshDir("caB");
  REQUIRE(InitCa(a).ok());
  REQUIRE(InitCa(b).ok());
  auto n1 = IssueCertificate(a, "n1", Role::kAgent);
  auto n2 = IssueCertificate(a, "n2", Role::kAgent);
  auto other = IssueCertificate(b, "n3", Role::kAgent);
  REQUIRE((n1.ok() && n2.ok() && other.ok()));
  TlsConfig ok{true, true, n1->ca, n1->cert, n1->key, {}};
  auto ctx = TlsContext::Create(ok);
  REQUIRE(ctx.ok());
  CHECK((*ctx)->self().name == "n1");
  TlsConfig wrong_key = ok;
  wrong_key.key = n2->key;
  auto mismatch = TlsContext::Create(wrong_key);
  CHECK(mismatch.status().code() == StatusCode::kInvalidArgument);
  CHECK(mismatch.status().message().find("tls.key") != std::string::npos);
  TlsConfig foreign = ok;
  foreign.cert = other->cert;
  foreign.key = other->key;
  CHECK(TlsContext::Create(foreign).status().message().find("does not verify") != std::string::npos);
  TlsConfig missing = ok;
  missing.ca = a + "/nope.crt";
  CHECK(TlsContext::Create(missing).status().code() == StatusCode::kNotFound);
  // A path that cannot be looked at (here a name too long for the file system; under systemd a
  // credentials directory the daemon may not enter) is an error naming it, not an exception.
  TlsConfig unreadable = ok;
  unreadable.key = a + "/" + std::string(300, 'k') + "/tls.key";
  auto refused = TlsContext::Create(unreadable);
  CHECK(refused.status().code() == StatusCode::kUnavailable);
  CHECK(refused.status().message().find("tls: " + unreadable.key) != std::string::npos);
  TlsConfig implicit_plain;
  implicit_plain.enabled = false;
  CHECK_FALSE(TlsContext::Create(implicit_plain).ok());  // plaintext must be asked for
}

TEST_CASE("revocation by name or serial, case-insensitive serials") {
  auto ctx = testing::TestPki::Get().Context("n5", Role::kAgent);
  PeerIdentity p{"n6", Role::kAgent, "00AB12", true};
  CHECK(ctx->Admit(p).ok());
  ctx->SetRevoked({"n6"});
  CHECK(ctx->Admit(p).code() == StatusCode::kPermissionDenied);
  ctx->SetRevoked({"00ab12"});
  CHECK(ctx->Admit(p).code() == StatusCode::kPermissionDenied);
  ctx->SetRevoked({});
  CHECK(ctx->Admit(p).ok());
}
