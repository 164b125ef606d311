#include "agent/runtime/torch_threads.h"

#include <dlfcn.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <ATen/Parallel.h>

#include <thread>

#include "common/base/log.h"

namespace edgesplit {

void ConfigureTorch(const TorchThreadOptions& opts) {
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  if (cores <= 0) cores = 1;
  const int intra = opts.intra_op_threads > 0 ? opts.intra_op_threads : 1;
  const int blas = opts.blas_threads > 0 ? opts.blas_threads : cores;
  at::set_num_threads(intra);
  // OpenBLAS (libopenblas0-pthread) runs its own thread pool; set it explicitly when present.
  using SetFn = void (*)(int);
  if (auto fn = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(blas);
  torch::jit::setGraphExecutorOptimize(false);
  LogDebug("torch_configured").Kv("intra_op_threads", intra).Kv("blas_threads", blas);
}

}  // namespace edgesplit
