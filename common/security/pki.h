// The operator's certificate authority (`edgesplitctl pki`): a CA key and self-signed
// certificate, and node/client certificates it signs. Keys are EC P-256, written 0600; a
// certificate carries its name as the one DNS subject alternative name (and CN) and its role as
// the subject's OU (identity.h reads them back), a random 128-bit serial, and an expiry.
//
// Files: DIR/ca.key, DIR/ca.crt; an issued NAME goes to OUT/NAME.key, OUT/NAME.crt, and OUT
// receives a copy of ca.crt (so OUT alone configures a node: tls: {ca, cert, key}).
#pragma once

#include <string>

#include "common/base/status.h"
#include "common/security/identity.h"

namespace edgesplit::security {

struct IssuedFiles {
  std::string ca, cert, key;  // paths
  std::string serial;         // hex
};

// Creates DIR (if needed) and the CA in it. already_exists when DIR/ca.key exists (a CA is never
// overwritten: every issued certificate depends on it).
Status InitCa(const std::string& dir, int days = 3650, const std::string& ca_name = "edgesplit-ca");

// Signs a certificate for `name` with `role`, valid `days`. out_dir empty = dir. Replaces an
// earlier NAME.key/NAME.crt in out_dir (re-issuing is how keys are rotated).
Result<IssuedFiles> IssueCertificate(const std::string& dir, const std::string& name, Role role,
                                     const std::string& out_dir = "", int days = 365);

}  // namespace edgesplit::security
