// Machine capacity from /proc (parsers are pure and tested on sample text).
#pragma once

#include <cstdint>
#include <string>

#include "common/base/status.h"

namespace edgesplit::agent {

struct CpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
};
struct MemInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
};

// The aggregate "cpu" line of /proc/stat.
Result<CpuTimes> ParseProcStat(const std::string& text);
// MemTotal and MemAvailable of /proc/meminfo.
Result<MemInfo> ParseMeminfo(const std::string& text);
// Busy fraction between two samples (0 when no time passed).
double CpuUtilization(const CpuTimes& before, const CpuTimes& after);

// Reads /proc; remembers the previous CPU sample. Not thread-safe.
class ProcSampler {
 public:
  // Utilisation since the previous call (first call: since boot).
  double SampleCpu();
  MemInfo SampleMemory();
  static unsigned Cores();

 private:
  CpuTimes last_;
};

}  // namespace edgesplit::agent
