#include "agent/daemon/proc_stats.h"

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace edgesplit::agent {

Result<CpuTimes> ParseProcStat(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu ", 0) != 0) continue;
    std::istringstream ls(line.substr(4));
    std::vector<uint64_t> v;
    uint64_t x;
    while (ls >> x) v.push_back(x);
    if (v.size() < 4) return InvalidArgument("/proc/stat cpu line has fewer than 4 fields");
    CpuTimes t;
    for (uint64_t f : v) t.total += f;
    // Fields: user nice system idle iowait irq softirq steal guest guest_nice. Guests are
    // already counted in user/nice.
    if (v.size() >= 10) t.total -= v[8] + v[9];
    const uint64_t idle = v[3] + (v.size() > 4 ? v[4] : 0);
    t.busy = t.total - idle;
    return t;
  }
  return InvalidArgument("/proc/stat has no aggregate cpu line");
}

Result<MemInfo> ParseMeminfo(const std::string& text) {
  std::istringstream in(text);
  std::string key;
  MemInfo m;
  bool total = false, avail = false;
  while (in >> key) {
    uint64_t kb = 0;
    std::string unit;
    in >> kb;
    std::getline(in, unit);
    if (key == "MemTotal:") m.total_bytes = kb * 1024, total = true;
    if (key == "MemAvailable:") m.available_bytes = kb * 1024, avail = true;
  }
  if (!total || !avail) return InvalidArgument("/proc/meminfo lacks MemTotal or MemAvailable");
  return m;
}

double CpuUtilization(const CpuTimes& a, const CpuTimes& b) {
  if (b.total <= a.total) return 0;
  const double busy = static_cast<double>(b.busy - std::min(b.busy, a.busy));
  return std::min(1.0, busy / static_cast<double>(b.total - a.total));
}

namespace {
std::string ReadAll(const char* path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

double ProcSampler::SampleCpu() {
  auto t = ParseProcStat(ReadAll("/proc/stat"));
  if (!t.ok()) return 0;
  const double u = CpuUtilization(last_, *t);
  last_ = *t;
  return u;
}

MemInfo ProcSampler::SampleMemory() {
  auto m = ParseMeminfo(ReadAll("/proc/meminfo"));
  return m.ok() ? *m : MemInfo{};
}

unsigned ProcSampler::Cores() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace edgesplit::agent
