// edgesplitctl-model: the model package tools behind `edgesplitctl model ...` (they run the
// model, so they link libtorch; edgesplitctl does not and execs this binary for them).
#include "common/base/subcommand.h"

int main(int argc, char** argv) {
  return edgesplit::RunSubcommandMain("edgesplitctl", "edgesplit model tools", argc, argv);
}
