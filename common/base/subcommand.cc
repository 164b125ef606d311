#include "common/base/subcommand.h"

#include <cstdio>
#include <string>

namespace edgesplit {

int RunSubcommandMain(const char* program, const char* about, int argc, char** argv) {
  auto& reg = SubcommandRegistry();
  auto usage = [&](FILE* out) {
    std::fprintf(out, "%s — %s\n\nusage: %s <command> [args]\n\ncommands:\n", program, about, program);
    for (const auto& [name, cmd] : reg) std::fprintf(out, "  %-12s %s\n", name.c_str(), cmd.summary.c_str());
  };
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    usage(stdout);
    return 0;
  }
  auto it = reg.find(name);
  if (it == reg.end()) {
    std::fprintf(stderr, "%s: unknown command '%s'\n", program, name.c_str());
    usage(stderr);
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  return it->second.run(args);
}

}  // namespace edgesplit
