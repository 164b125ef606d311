// A registry of named subcommands for multi-command binaries (edgesplitctl, edgesplit-bench).
// Each command lives in its own source file and registers itself with ES_REGISTER_SUBCOMMAND,
// so independent features add commands without editing a shared main.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace edgesplit {

struct Subcommand {
  std::string name;
  std::string summary;
  // Receives the arguments after the command name; returns the process exit code.
  std::function<int(const std::vector<std::string>& args)> run;
};

inline std::map<std::string, Subcommand>& SubcommandRegistry() {
  static std::map<std::string, Subcommand> registry;
  return registry;
}

struct SubcommandRegistrar {
  explicit SubcommandRegistrar(Subcommand c) { SubcommandRegistry()[c.name] = std::move(c); }
};

// Dispatches argv[1] to the registered command; prints usage on no/unknown command (exit 2).
int RunSubcommandMain(const char* program, const char* about, int argc, char** argv);

}  // namespace edgesplit

#define ES_REGISTER_SUBCOMMAND(ident, name, summary, fn) \
  static ::edgesplit::SubcommandRegistrar es_subcommand_##ident({name, summary, fn})
