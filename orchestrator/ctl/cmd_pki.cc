// `edgesplitctl pki init|issue`: the operator's certificate authority (common/security/pki.h).
//   pki init  --dir DIR [--days N]                       -> DIR/ca.key (0600), DIR/ca.crt
//   pki issue --dir DIR --name NAME --role agent|orchestrator|client [--out DIR2] [--days N]
//             -> OUT/NAME.key (0600), OUT/NAME.crt, OUT/ca.crt; prints the files and the serial
// Errors (bad name or role, an existing CA, unreadable CA files) print one message, exit 2.
#include <cstdio>

#include "common/base/flags.h"
#include "common/base/subcommand.h"
#include "common/security/pki.h"

namespace edgesplit {
namespace {

constexpr const char* kUsage =
    "usage: edgesplitctl pki init --dir DIR [--days N]\n"
    "       edgesplitctl pki issue --dir DIR --name NAME --role agent|orchestrator|client [--out DIR] [--days N]\n"
    "init makes the operator's CA (never overwrites one); issue signs a certificate for NAME (its\n"
    "subject alternative name) with ROLE and writes NAME.key (0600), NAME.crt and ca.crt to --out\n"
    "(default --dir). Defaults: the CA 3650 days, certificates 365 days.\n";

int Fail(const Status& s) {
  std::fprintf(stderr, "edgesplitctl pki: error: %s\n", s.message().c_str());
  return 2;
}

Result<int> Days(const Flags& f, int def) {
  auto d = f.GetInt("days", def);
  if (!d.ok() || *d < 1 || *d > 36500) return InvalidArgument("--days: must be an integer in [1, 36500]");
  return static_cast<int>(*d);
}

int PkiMain(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string verb = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (verb == "init") {
    auto f = Flags::Parse(rest, {"dir", "days"}, {});
    if (!f.ok()) return Fail(f.status());
    if (!f->positional().empty()) return Fail(InvalidArgument("unexpected argument '" + f->positional()[0] + "'"));
    auto dir = f->Required("dir");
    if (!dir.ok()) return Fail(dir.status());
    auto days = Days(*f, 3650);
    if (!days.ok()) return Fail(days.status());
    if (Status s = security::InitCa(*dir, *days); !s.ok()) return Fail(s);
    std::printf("CA written: %s/ca.key (0600), %s/ca.crt (valid %d days)\n", dir->c_str(), dir->c_str(), *days);
    return 0;
  }
  if (verb == "issue") {
    auto f = Flags::Parse(rest, {"dir", "name", "role", "out", "days"}, {});
    if (!f.ok()) return Fail(f.status());
    if (!f->positional().empty()) return Fail(InvalidArgument("unexpected argument '" + f->positional()[0] + "'"));
    auto dir = f->Required("dir");
    if (!dir.ok()) return Fail(dir.status());
    auto name = f->Required("name");
    if (!name.ok()) return Fail(name.status());
    auto role_s = f->Required("role");
    if (!role_s.ok()) return Fail(role_s.status());
    auto role = security::ParseRole(*role_s);
    if (!role.ok()) return Fail(role.status());
    auto days = Days(*f, 365);
    if (!days.ok()) return Fail(days.status());
    auto files = security::IssueCertificate(*dir, *name, *role, f->Get("out"), *days);
    if (!files.ok()) return Fail(files.status());
    std::printf("issued %s (%s), serial %s, valid %d days\n  key  %s (0600)\n  cert %s\n  ca   %s\n", name->c_str(),
                role_s->c_str(), files->serial.c_str(), *days, files->key.c_str(), files->cert.c_str(), files->ca.c_str());
    return 0;
  }
  return Fail(InvalidArgument("unknown pki command '" + verb + "' (init or issue)"));
}

}  // namespace

ES_REGISTER_SUBCOMMAND(pki, "pki", "the operator's CA: init, issue node and client certificates", PkiMain);

}  // namespace edgesplit
