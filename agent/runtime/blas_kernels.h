// Which OpenBLAS kernels the process runs (docs/performance.md "BLAS kernels"). Debian's
// OpenBLAS 0.3.21 is built with DYNAMIC_ARCH: when it loads it picks a kernel set from cpuid,
// and on a CPU it does not know it falls back to Prescott (SSE3, no AVX), 2-4x slower on fp32
// matmuls than the CPU allows. OPENBLAS_CORETYPE forces a set, but is read only when the
// library initialises, before main(): SelectBlasKernels re-executes the process once with it
// set, then checks the forced kernels against a plain reference before trusting them.
// Every binary that runs layers (the agent, edgesplitctl) makes the same choice on one machine,
// so whole and split runs stay bitwise identical.
#pragma once

#include <string>

namespace edgesplit {

// CPU features the choice depends on (cpuid, with the OS's support for the vector state).
struct CpuFeatures {
  bool avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512_bf16 = false;
};
CpuFeatures DetectCpuFeatures();

// The best kernel set of Debian's OpenBLAS 0.3.21 for these features: Cooperlake (AVX-512 with
// BF16), SkylakeX (AVX-512 F/BW/VL/DQ), Haswell (AVX2 + FMA), Sandybridge (AVX), else Prescott.
std::string BestBlasCore(const CpuFeatures& f);

// Rank of a core name in that order (Prescott 0 .. Cooperlake 4; -1 unknown, case-insensitive).
int BlasCoreRank(const std::string& core);

struct BlasChoice {
  std::string core;      // what OpenBLAS runs now ("" when the BLAS is not OpenBLAS)
  std::string detected;  // what OpenBLAS picked by itself (before any forcing)
  // how: "detected" (its own choice was as good), "cpuid" (forced from the CPU features),
  // "config" (forced by name), "env" (OPENBLAS_CORETYPE set by the operator), "rejected" (the
  // forced set failed the self-check: back to its own choice), "not_openblas"
  std::string source;
};

// `mode`: "auto" (the best set the CPU supports, never below OpenBLAS's own choice), "detected"
// (leave OpenBLAS alone) or a core name (forced, e.g. "Haswell"). EDGESPLIT_BLAS_CORETYPE in the
// environment overrides `mode`. Call first in main(), before any thread starts: it may replace
// the process image (execv of /proc/self/exe with the same arguments) and then returns in the
// new image. Logs the choice.
BlasChoice SelectBlasKernels(char** argv, const std::string& mode);

// The choice made at start (SelectBlasKernels's result; "" fields before it ran).
const BlasChoice& CurrentBlasChoice();

}  // namespace edgesplit
