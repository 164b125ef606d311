// The OpenBLAS kernel choice: the pure table, and the real thing through edgesplitctl's model
// tools (the same SelectBlasKernels the agent runs first in main), which re-execute themselves
// with OPENBLAS_CORETYPE set when a better set than OpenBLAS's own is asked for.
#include "agent/runtime/blas_kernels.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include <catch.hpp>

using namespace edgesplit;

namespace {

// Runs `edgesplitctl model kernels --json` with `env` prefixed; returns its stdout.
std::string Kernels(const std::string& env) {
  const char* bin = std::getenv("ES_BIN_DIR");
  REQUIRE(bin != nullptr);
  const std::string cmd = "env -u OPENBLAS_CORETYPE -u EDGESPLIT_BLAS_FORCED -u EDGESPLIT_BLAS_DETECTED "
                          "-u EDGESPLIT_BLAS_REJECTED " + env + " " + bin + "/edgesplitctl model kernels --json 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  CHECK(pclose(p) == 0);
  return out;
}

std::string Field(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\": \"";
  const size_t at = json.find(k);
  if (at == std::string::npos) return "?";
  const size_t end = json.find('"', at + k.size());
  return json.substr(at + k.size(), end - at - k.size());
}

}  // namespace

TEST_CASE("the best kernel set follows the CPU's vector features") {
  CpuFeatures f;
  CHECK(BestBlasCore(f) == "Prescott");
  f.avx = true;
  CHECK(BestBlasCore(f) == "Sandybridge");
  f.avx2 = f.fma = true;
  CHECK(BestBlasCore(f) == "Haswell");  // AMD Zen with AVX2 too
  f.avx512f = f.avx512bw = f.avx512vl = true;
  CHECK(BestBlasCore(f) == "Haswell");  // SkylakeX kernels need DQ as well
  f.avx512dq = true;
  CHECK(BestBlasCore(f) == "SkylakeX");
  f.avx512_bf16 = true;
  CHECK(BestBlasCore(f) == "Cooperlake");
  CHECK(BlasCoreRank("prescott") == 0);
  CHECK(BlasCoreRank("SKYLAKEX") == 3);
  CHECK(BlasCoreRank("Zen") == -1);  // a set the table does not rank: never overridden by auto
}

TEST_CASE("edgesplitctl runs the kernels asked for, re-executing itself once") {
  const std::string detected = Kernels("EDGESPLIT_BLAS_CORETYPE=detected");
  INFO(detected);
  if (Field(detected, "source") == "not_openblas") {
    WARN("the BLAS is not OpenBLAS: nothing to choose");
    return;
  }
  REQUIRE(Field(detected, "source") == "detected");
  const std::string own = Field(detected, "core");
  CHECK(Field(detected, "detected") == own);

  // Forced by name (below or at the CPU's best): the named set runs, OpenBLAS's own is reported.
  const std::string forced = Kernels("EDGESPLIT_BLAS_CORETYPE=Sandybridge");
  INFO(forced);
  CHECK(Field(forced, "core") == "Sandybridge");
  CHECK(Field(forced, "detected") == own);
  CHECK(Field(forced, "source") == (own == "Sandybridge" ? "detected" : "config"));

  // auto: never below OpenBLAS's own choice, and at least the best set the CPU supports when
  // OpenBLAS picked a lower one it ranks.
  const std::string best = Field(forced, "best_for_cpu");
  const std::string automatic = Kernels("EDGESPLIT_BLAS_CORETYPE=auto");
  INFO(automatic);
  const std::string core = Field(automatic, "core");
  if (BlasCoreRank(own) >= 0) {
    CHECK(BlasCoreRank(core) >= BlasCoreRank(own));
    CHECK(BlasCoreRank(core) >= BlasCoreRank(best));
    CHECK(Field(automatic, "source") == (BlasCoreRank(own) >= BlasCoreRank(best) ? "detected" : "cpuid"));
  } else {
    CHECK(core == own);
  }

  // The operator's OPENBLAS_CORETYPE is left alone; an unknown name keeps OpenBLAS's own.
  const std::string env = Kernels("OPENBLAS_CORETYPE=Haswell");
  CHECK(Field(env, "core") == "Haswell");
  CHECK(Field(env, "source") == "env");
  const std::string bogus = Kernels("EDGESPLIT_BLAS_CORETYPE=Pentium4");
  CHECK(Field(bogus, "core") == own);
  CHECK(Field(bogus, "source") == "detected");
}
