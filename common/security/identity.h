// Who is on the other end of a TLS connection: the node (or client) name and role an operator's
// CA wrote into its certificate. The name is the certificate's one DNS subject alternative name
// (also its CN); the role is the subject's OU. Pure over OpenSSL's X509: no I/O.
#pragma once

#include <string>

#include "common/base/status.h"

typedef struct x509_st X509;

namespace edgesplit::security {

enum class Role { kAgent, kOrchestrator, kClient };

const char* RoleName(Role r);
Result<Role> ParseRole(const std::string& s);

struct PeerIdentity {
  std::string name;    // node name (agents), "orchestrator", or a client's name
  Role role = Role::kClient;
  std::string serial;  // upper-case hex, as `openssl x509 -serial` prints it
  bool authenticated = false;  // false: a plaintext connection (tls mode off), nothing is known
};

// Names that may appear in certificates and configs: 1-64 of [A-Za-z0-9._-], not starting with
// '-' or '.'. Node names are DNS-like so they fit a subject alternative name unchanged.
Status ValidateName(const std::string& name);

// Reads name, role and serial from a certificate the TLS layer has already verified.
// invalid_argument when the certificate does not carry exactly one valid name and a known role.
Result<PeerIdentity> IdentityOf(X509* cert);

}  // namespace edgesplit::security
