#include "common/security/identity.h"

#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace edgesplit::security {

const char* RoleName(Role r) {
  switch (r) {
    case Role::kAgent: return "agent";
    case Role::kOrchestrator: return "orchestrator";
    case Role::kClient: return "client";
  }
  return "?";
}

Result<Role> ParseRole(const std::string& s) {
  if (s == "agent") return Role::kAgent;
  if (s == "orchestrator") return Role::kOrchestrator;
  if (s == "client") return Role::kClient;
  return InvalidArgument("role '" + s + "': must be agent, orchestrator or client");
}

Status ValidateName(const std::string& name) {
  if (name.empty() || name.size() > 64) return InvalidArgument("name '" + name.substr(0, 80) + "': must be 1-64 characters");
  if (name[0] == '-' || name[0] == '.') return InvalidArgument("name '" + name + "': must not start with '-' or '.'");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return InvalidArgument("name '" + name + "': only letters, digits, '.', '_' and '-' are allowed");
  }
  return Status::Ok();
}

namespace {

std::string Asn1String(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<size_t>(ASN1_STRING_length(s)));
}

}  // namespace

Result<PeerIdentity> IdentityOf(X509* cert) {
  if (!cert) return InvalidArgument("no peer certificate");
  PeerIdentity id;
  id.authenticated = true;
  // Name: the single DNS subject alternative name.
  std::unique_ptr<GENERAL_NAMES, void (*)(GENERAL_NAMES*)> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)), GENERAL_NAMES_free);
  int dns = 0;
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans.get(), i);
      if (g->type != GEN_DNS) continue;
      ++dns;
      id.name = Asn1String(g->d.dNSName);
    }
  }
  if (dns != 1) return InvalidArgument("certificate must carry exactly one DNS subject alternative name (has " + std::to_string(dns) + ")");
  ES_RETURN_IF_ERROR(ValidateName(id.name));
  // Role: the subject's one OU.
  X509_NAME* subject = X509_get_subject_name(cert);
  const int idx = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, -1);
  if (idx < 0 || X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, idx) >= 0)
    return InvalidArgument("certificate of '" + id.name + "' must carry exactly one OU (its role)");
  auto role = ParseRole(Asn1String(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx))));
  if (!role.ok()) return InvalidArgument("certificate of '" + id.name + "': " + role.status().message());
  id.role = *role;
  // Serial as hex.
  std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr), BN_free);
  if (!bn) return InvalidArgument("certificate of '" + id.name + "': unreadable serial");
  char* hex = BN_bn2hex(bn.get());
  id.serial = hex ? hex : "";
  OPENSSL_free(hex);
  return id;
}

}  // namespace edgesplit::security
