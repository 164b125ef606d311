// Thread settings for libtorch on small edge boxes. Chosen deliberately (docs/performance.md):
// oversubscribing OpenMP threads on top of OpenBLAS threads made a transformer block ~4x slower.
#pragma once

namespace edgesplit {

struct TorchThreadOptions {
  // libtorch's OpenMP pool for element-wise/reduction kernels. 1 by default: on 2 cores its
  // spin-waiting threads fight OpenBLAS's own pool (measured 4-12x slower with 2 + 2).
  int intra_op_threads = 1;
  // OpenBLAS pthread pool for matmuls. 0 = number of online cores.
  int blas_threads = 0;
};

// Applies the settings process-wide and disables the TorchScript profiling executor's graph
// rewrites, so every run executes the same kernels (bitwise-reproducible split vs whole).
// Idempotent; call before loading models.
void ConfigureTorch(const TorchThreadOptions& opts);

}  // namespace edgesplit
