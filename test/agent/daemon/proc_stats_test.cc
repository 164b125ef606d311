#include "agent/daemon/proc_stats.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::agent;

TEST_CASE("/proc/stat aggregate cpu line gives busy and total") {
  auto a = ParseProcStat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n");
  REQUIRE(a.ok());
  CHECK(a->total == 1000);
  CHECK(a->busy == 150);
  auto b = ParseProcStat("cpu  200 0 100 850 50 0 0 0 0 0\n");
  REQUIRE(b.ok());
  CHECK(CpuUtilization(*a, *b) == Approx(150.0 / 200.0));
  CHECK_FALSE(ParseProcStat("intr 1 2 3\n").ok());
}

TEST_CASE("/proc/meminfo total and available") {
  auto m = ParseMeminfo("MemTotal:       16000 kB\nMemFree:     100 kB\nMemAvailable:    8000 kB\n");
  REQUIRE(m.ok());
  CHECK(m->total_bytes == 16000 * 1024);
  CHECK(m->available_bytes == 8000 * 1024);
  CHECK_FALSE(ParseMeminfo("MemTotal: 1 kB\n").ok());
}

TEST_CASE("the sampler reads this machine") {
  ProcSampler p;
  p.SampleCpu();
  CHECK(p.SampleMemory().total_bytes > 0);
  CHECK(ProcSampler::Cores() >= 1);
}
