// edgesplitctl-model: the model package tools behind `edgesplitctl model ...` (they run the
// model, so they link libtorch; edgesplitctl does not and execs this binary for them).
#include "agent/runtime/blas_kernels.h"
#include "common/base/subcommand.h"

int main(int argc, char** argv) {
  // The same kernel choice as the agents on this machine: whole-model runs here stay bitwise
  // equal to split runs there (may re-execute this binary once with OPENBLAS_CORETYPE set).
  edgesplit::SelectBlasKernels(argv, "auto");
  return edgesplit::RunSubcommandMain("edgesplitctl", "edgesplit model tools", argc, argv);
}
