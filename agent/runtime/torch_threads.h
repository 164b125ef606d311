// Thread settings for libtorch on small edge boxes. Chosen deliberately (docs/performance.md):
// oversubscribing OpenMP threads on top of OpenBLAS threads made a transformer block ~4x slower.
#pragma once

namespace edgesplit {

struct TorchThreadOptions {
  int intra_op_threads = 0;  // 0 = number of online cores
  int blas_threads = 0;      // 0 = same as intra_op_threads
};

// Applies the settings process-wide and disables the TorchScript profiling executor's graph
// rewrites, so every run executes the same kernels (bitwise-reproducible split vs whole).
// Idempotent; call before loading models.
void ConfigureTorch(const TorchThreadOptions& opts);

}  // namespace edgesplit
