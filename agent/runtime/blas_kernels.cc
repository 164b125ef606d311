#include "agent/runtime/blas_kernels.h"

#include <cpuid.h>
#include <dlfcn.h>
#include <ATen/Context.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/randn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "common/base/log.h"

namespace edgesplit {
namespace {

// Markers the first image leaves for the image it re-executes (and that image's children).
constexpr const char* kForcedEnv = "EDGESPLIT_BLAS_FORCED";      // the source of the forced set
constexpr const char* kDetectedEnv = "EDGESPLIT_BLAS_DETECTED";  // what OpenBLAS chose by itself
constexpr const char* kRejectedEnv = "EDGESPLIT_BLAS_REJECTED";  // the forced set failed its check
constexpr const char* kModeEnv = "EDGESPLIT_BLAS_CORETYPE";

BlasChoice g_choice;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string ActiveCore() {
  using Fn = char* (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!fn) return "";
  const char* name = fn();
  return name ? name : "";
}

uint64_t Xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// The forced kernels against a plain double-precision product: a kernel set that computes
// wrong results (an OpenBLAS bug on this CPU) is not trusted. Shapes odd enough to reach the
// edge kernels as well as the main loop.
bool SelfCheck(std::string* detail) {
  at::manual_seed(7);
  const int64_t m = 67, k = 131, n = 93;
  const at::Tensor a = at::randn({m, k}), b = at::randn({k, n});
  const at::Tensor c = at::mm(a, b).contiguous();
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  const float* pc = c.data_ptr<float>();
  double worst = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double ref = 0, mag = 0;
      for (int64_t x = 0; x < k; ++x) {
        ref += static_cast<double>(pa[i * k + x]) * pb[x * n + j];
        mag += std::abs(static_cast<double>(pa[i * k + x]) * pb[x * n + j]);
      }
      const double err = std::abs(pc[i * n + j] - ref) / std::max(1e-30, mag);
      if (!(err <= worst)) worst = std::isnan(err) ? INFINITY : std::max(worst, err);
    }
  // fp32 accumulation over 131 terms stays below ~1e-5 of the magnitude sum; wrong kernels are off by O(1).
  *detail = "max relative error " + std::to_string(worst);
  return worst < 1e-4;
}

// Debug level: edgesplitctl's model tools print to the terminal; the agent logs its choice
// itself at info (and exports it as a metric).
// Back to OpenBLAS's own choice for this image and the images it executes.
void ClearForcing() {
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kForcedEnv);
  unsetenv(kDetectedEnv);
}

void Log(const BlasChoice& c) {
  LogDebug("blas_kernels").Kv("core", c.core).Kv("detected", c.detected).Kv("source", c.source);
}

}  // namespace

CpuFeatures DetectCpuFeatures() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const uint64_t xcr0 = osxsave ? Xcr0() : 0;
  const bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;  // the OS saves the vector state
  f.avx = ymm && (c & (1u << 28));
  f.fma = ymm && (c & (1u << 12));
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = ymm && (b & (1u << 5));
    f.avx512f = zmm && (b & (1u << 16));
    f.avx512dq = zmm && (b & (1u << 17));
    f.avx512bw = zmm && (b & (1u << 30));
    f.avx512vl = zmm && (b & (1u << 31));
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512_bf16 = f.avx512f && (a & (1u << 5));
  return f;
}

std::string BestBlasCore(const CpuFeatures& f) {
  const bool skx = f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx2 && f.fma;
  if (skx && f.avx512_bf16) return "Cooperlake";
  if (skx) return "SkylakeX";
  if (f.avx2 && f.fma) return "Haswell";
  if (f.avx) return "Sandybridge";
  return "Prescott";
}

int BlasCoreRank(const std::string& core) {
  static const char* kOrder[] = {"prescott", "sandybridge", "haswell", "skylakex", "cooperlake"};
  const std::string c = Lower(core);
  for (int i = 0; i < 5; ++i)
    if (c == kOrder[i]) return i;
  return -1;
}

const BlasChoice& CurrentBlasChoice() { return g_choice; }

BlasChoice SelectBlasKernels(char** argv, const std::string& config_mode) {
  BlasChoice& g = g_choice;
  const std::string active = ActiveCore();
  if (active.empty()) {
    g = {"", "", "not_openblas"};
    return g;
  }
  g.core = active;
  if (!Env(kRejectedEnv).empty()) {
    g.detected = Env(kDetectedEnv).empty() ? active : Env(kDetectedEnv);
    g.source = "rejected";
    LogWarn("blas_kernels").Kv("core", g.core).Kv("source", g.source).Kv("forced", Env(kRejectedEnv));
    return g;
  }
  if (const std::string forced = Env(kForcedEnv); !forced.empty()) {
    // This image was executed with OPENBLAS_CORETYPE set by SelectBlasKernels (or inherited it).
    g.detected = Env(kDetectedEnv);
    g.source = forced;
    std::string detail;
    if (!SelfCheck(&detail)) {
      LogError("blas_kernels_rejected").Kv("core", active).Kv("check", detail);
      ClearForcing();
      setenv(kRejectedEnv, active.c_str(), 1);
      setenv(kDetectedEnv, g.detected.c_str(), 1);
      execv("/proc/self/exe", argv);
      LogError("blas_kernels_reexec_failed").Kv("error", std::strerror(errno));
    }
    Log(g);
    return g;
  }
  if (!Env("OPENBLAS_CORETYPE").empty()) {  // the operator's own choice
    g.detected = "";
    g.source = "env";
    Log(g);
    return g;
  }
  g.detected = active;
  g.source = "detected";
  std::string mode = Env(kModeEnv).empty() ? config_mode : Env(kModeEnv);
  if (mode.empty()) mode = "auto";
  if (Lower(mode) == "detected") {
    Log(g);
    return g;
  }
  std::string want;
  const char* source = "cpuid";
  if (Lower(mode) == "auto") {
    want = BestBlasCore(DetectCpuFeatures());
    // OpenBLAS's own choice stands unless it is a known set below the best one (an unknown
    // name, e.g. Zen, is a set this table does not rank: keep it).
    const int have = BlasCoreRank(active);
    if (have < 0 || have >= BlasCoreRank(want)) want.clear();
  } else if (BlasCoreRank(mode) < 0) {
    LogWarn("blas_kernels_unknown").Kv("mode", mode).Kv("known", "auto, detected, Prescott, Sandybridge, Haswell, SkylakeX, Cooperlake");
    Log(g);
    return g;
  } else {
    want = mode;
    source = "config";
    if (Lower(want) == Lower(active)) want.clear();
  }
  if (want.empty()) {
    Log(g);
    return g;
  }
  setenv("OPENBLAS_CORETYPE", want.c_str(), 1);
  setenv(kForcedEnv, source, 1);
  setenv(kDetectedEnv, active.c_str(), 1);
  execv("/proc/self/exe", argv);
  // Still here: the image could not be replaced; run as detected.
  LogError("blas_kernels_reexec_failed").Kv("error", std::strerror(errno));
  ClearForcing();
  Log(g);
  return g;
}

}  // namespace edgesplit
