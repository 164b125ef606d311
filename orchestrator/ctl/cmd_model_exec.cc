// `edgesplitctl model ...`: runs edgesplitctl-model, the sibling executable that holds the model
// tools (model/cmd_model.cc), with the same arguments. Keeps libtorch out of edgesplitctl.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/base/subcommand.h"

namespace {

int ModelExec(const std::vector<std::string>& args) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    std::fprintf(stderr, "edgesplitctl: error: cannot locate this executable: %s\n", ec.message().c_str());
    return 1;
  }
  const std::string tool = (self.parent_path() / "edgesplitctl-model").string();
  std::vector<std::string> argv_s = {tool, "model"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  execv(tool.c_str(), argv.data());
  std::fprintf(stderr, "edgesplitctl: error: the model tools (%s) cannot run: %s\n", tool.c_str(), std::strerror(errno));
  return 1;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(model, "model", "model packages: synth, inspect, verify, run, profile, generate, tokenize, detokenize, kernels", ModelExec);
