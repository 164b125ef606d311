#include "common/security/pki.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <memory>
#include <sstream>

namespace edgesplit::security {

namespace {

namespace fs = std::filesystem;

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

std::string OpenSslError(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return what + ": " + buf;
}

// Writes `data` to `path` with `mode` (created with it, so a key is never readable by others,
// even briefly), replacing the file through a rename.
Status WriteFileMode(const std::string& path, const std::string& data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Unavailable("cannot create " + tmp);
  ::fchmod(fd, mode);  // not widened by the umask's absence; narrowed modes stay as asked
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return Unavailable("cannot write " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return Unavailable("cannot write " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Unavailable("cannot rename " + tmp + " to " + path);
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<std::string> Pem(const std::function<int(BIO*)>& write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return Internal(OpenSslError("PEM encoding"));
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

Result<KeyPtr> NewKey() {
  KeyPtr k(EVP_EC_gen("P-256"));
  if (!k) return Internal(OpenSslError("EC key generation"));
  return k;
}

Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return Internal(OpenSslError("extension " + value));
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? Status::Ok() : Internal(OpenSslError("extension " + value));
}

// A certificate for `key` with subject CN=cn (and OU=ou when set), signed by issuer_key;
// issuer null = self-signed.
Result<CertPtr> MakeCert(EVP_PKEY* key, const std::string& cn, const std::string& ou, int days, X509* issuer,
                         EVP_PKEY* issuer_key, bool is_ca, const std::string& san, const std::string& eku) {
  CertPtr c(X509_new());
  if (!c) return Internal(OpenSslError("X509_new"));
  X509_set_version(c.get(), 2);
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(BN_new());
  if (!bn || BN_rand(bn.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(c.get())))
    return Internal(OpenSslError("serial"));
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -300);  // 5 minutes of clock skew between nodes
  X509_gmtime_adj(X509_getm_notAfter(c.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("edgesplit"), -1, -1, 0);
  if (!ou.empty())
    X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(ou.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer : c.get();
  X509_set_issuer_name(c.get(), X509_get_subject_name(signer));
  if (is_ca) {
    ES_RETURN_IF_ERROR(AddExt(c.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
    ES_RETURN_IF_ERROR(AddExt(c.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign"));
  } else {
    ES_RETURN_IF_ERROR(AddExt(c.get(), signer, NID_basic_constraints, "critical,CA:FALSE"));
    ES_RETURN_IF_ERROR(AddExt(c.get(), signer, NID_key_usage, "critical,digitalSignature"));
    ES_RETURN_IF_ERROR(AddExt(c.get(), signer, NID_ext_key_usage, eku));
    ES_RETURN_IF_ERROR(AddExt(c.get(), signer, NID_subject_alt_name, san));
  }
  ES_RETURN_IF_ERROR(AddExt(c.get(), signer, NID_subject_key_identifier, "hash"));
  if (issuer) ES_RETURN_IF_ERROR(AddExt(c.get(), signer, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(c.get(), issuer_key ? issuer_key : key, EVP_sha256()) <= 0) return Internal(OpenSslError("signing"));
  return c;
}

Result<std::string> KeyPem(EVP_PKEY* k) {
  return Pem([k](BIO* b) { return PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr); });
}
Result<std::string> CertPem(X509* c) {
  return Pem([c](BIO* b) { return PEM_write_bio_X509(b, c); });
}

Status CheckDays(int days) {
  if (days < 1 || days > 36500) return InvalidArgument("days must be in [1, 36500]");
  return Status::Ok();
}

}  // namespace

Status InitCa(const std::string& dir, int days, const std::string& ca_name) {
  ES_RETURN_IF_ERROR(CheckDays(days));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Unavailable("cannot create " + dir + ": " + ec.message());
  const std::string key_path = dir + "/ca.key", cert_path = dir + "/ca.crt";
  if (fs::exists(key_path, ec)) return AlreadyExists(key_path + " exists: a CA is never overwritten (every certificate it issued depends on it)");
  ES_ASSIGN_OR_RETURN(KeyPtr key, NewKey());
  ES_ASSIGN_OR_RETURN(CertPtr cert, MakeCert(key.get(), ca_name, "", days, nullptr, nullptr, true, "", ""));
  ES_ASSIGN_OR_RETURN(std::string key_pem, KeyPem(key.get()));
  ES_ASSIGN_OR_RETURN(std::string cert_pem, CertPem(cert.get()));
  ES_RETURN_IF_ERROR(WriteFileMode(key_path, key_pem, 0600));
  return WriteFileMode(cert_path, cert_pem, 0644);
}

Result<IssuedFiles> IssueCertificate(const std::string& dir, const std::string& name, Role role,
                                     const std::string& out_dir, int days) {
  ES_RETURN_IF_ERROR(ValidateName(name));
  ES_RETURN_IF_ERROR(CheckDays(days));
  ES_ASSIGN_OR_RETURN(std::string ca_key_pem, ReadFile(dir + "/ca.key"));
  ES_ASSIGN_OR_RETURN(std::string ca_cert_pem, ReadFile(dir + "/ca.crt"));
  BioPtr kb(BIO_new_mem_buf(ca_key_pem.data(), static_cast<int>(ca_key_pem.size())));
  KeyPtr ca_key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!ca_key) return DataLoss(OpenSslError(dir + "/ca.key"));
  BioPtr cb(BIO_new_mem_buf(ca_cert_pem.data(), static_cast<int>(ca_cert_pem.size())));
  CertPtr ca_cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!ca_cert) return DataLoss(OpenSslError(dir + "/ca.crt"));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) return DataLoss(dir + "/ca.key does not match ca.crt");

  ES_ASSIGN_OR_RETURN(KeyPtr key, NewKey());
  // Clients only dial; agents and the orchestrator both serve and dial.
  const std::string eku = role == Role::kClient ? "clientAuth" : "serverAuth,clientAuth";
  ES_ASSIGN_OR_RETURN(CertPtr cert, MakeCert(key.get(), name, RoleName(role), days, ca_cert.get(), ca_key.get(), false,
                                             "DNS:" + name, eku));
  const std::string out = out_dir.empty() ? dir : out_dir;
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return Unavailable("cannot create " + out + ": " + ec.message());
  IssuedFiles files{out + "/ca.crt", out + "/" + name + ".crt", out + "/" + name + ".key", ""};
  ES_ASSIGN_OR_RETURN(std::string key_pem, KeyPem(key.get()));
  ES_ASSIGN_OR_RETURN(std::string cert_pem, CertPem(cert.get()));
  ES_RETURN_IF_ERROR(WriteFileMode(files.key, key_pem, 0600));
  ES_RETURN_IF_ERROR(WriteFileMode(files.cert, cert_pem, 0644));
  if (fs::weakly_canonical(out, ec) != fs::weakly_canonical(dir, ec))
    ES_RETURN_IF_ERROR(WriteFileMode(files.ca, ca_cert_pem, 0644));
  ES_ASSIGN_OR_RETURN(PeerIdentity id, IdentityOf(cert.get()));
  files.serial = id.serial;
  return files;
}

}  // namespace edgesplit::security
