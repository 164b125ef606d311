// edgesplit-bench: benchmarks that print JSON. Each bench_*.cc registers one subcommand
// (planner, hop, pipeline, heartbeats, ...). Benchmarks compare against a baseline run in the
// same process and report medians and ratios; no test ever asserts on wall-clock time.
#include "agent/runtime/blas_kernels.h"
#include "common/base/subcommand.h"

int main(int argc, char** argv) {
  edgesplit::SelectBlasKernels(argv, "auto");  // as the agents and edgesplitctl choose
  return edgesplit::RunSubcommandMain("edgesplit-bench", "edgesplit benchmarks (JSON output)", argc, argv);
}
