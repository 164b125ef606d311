// End-to-end: `edgesplitctl plan` prints the plan JSON (exit 0) and rejects bad instances with
// one message naming the key (exit 2). Needs the edgesplitctl binary from the same build.
#include <catch.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

struct Run {
  int code;
  std::string out;
};

Run Exec(const std::string& cmd) {
  Run r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), p)) r.out += buf.data();
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string Ctl() {
  const char* bin = std::getenv("ES_BIN_DIR");
  return std::string(bin ? bin : "bin") + "/edgesplitctl";
}

std::string Write(const std::string& name, const std::string& text) {
  const char* tmp = std::getenv("ES_TEST_TMP");
  std::filesystem::path dir = std::string(tmp ? tmp : "/tmp") + "/planner";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

const char* kInstance = R"(model:
  input_bytes: 1000
  layers:
    - {compute_ms: 2, param_bytes: 100, output_bytes: 1000}
    - {compute_ms: 4, param_bytes: 100, output_bytes: 100}
nodes:
  - {name: gw, memory_bytes: 1e6, trusted: true}
  - {name: gpu, speed: 4, memory_bytes: 1e6}
links:
  default: {bandwidth_mbps: 100, latency_ms: 0.5}
source: gw
constraints: {trusted_prefix_layers: 1}
)";

}  // namespace

TEST_CASE("edgesplitctl plan prints the plan JSON and exits 0", "[planner]") {
  if (!std::filesystem::exists(Ctl())) {
    WARN("edgesplitctl not built; skipping");
    return;
  }
  const std::string path = Write("ok.yaml", kInstance);
  Run r = Exec(Ctl() + " plan --instance " + path + " 2>&1");
  CHECK(r.code == 0);
  CHECK(r.out.rfind("{\"status\": \"optimal\", \"objective\": \"latency\", \"value\": ", 0) == 0);
  CHECK(r.out.find("\"stages\": [{\"node\": \"gw\", \"first_layer\": 0, \"end_layer\": 1}") != std::string::npos);
  r = Exec(Ctl() + " plan --instance " + path + " --objective period --time-limit-ms 50 2>&1");
  CHECK(r.code == 0);
  CHECK(r.out.find("\"objective\": \"period\"") != std::string::npos);
}

TEST_CASE("edgesplitctl plan rejects bad instances with exit code 2", "[planner]") {
  if (!std::filesystem::exists(Ctl())) {
    WARN("edgesplitctl not built; skipping");
    return;
  }
  std::string bad = kInstance;
  bad.replace(bad.find("bandwidth_mbps: 100"), 19, "bandwidth_mbps: -1");
  Run r = Exec(Ctl() + " plan --instance " + Write("bad.yaml", bad) + " 2>&1");
  CHECK(r.code == 2);
  CHECK(r.out == "edgesplitctl plan: error: links.default.bandwidth_mbps: must be a finite number > 0\n");
  r = Exec(Ctl() + " plan --instance " + Write("syntax.yaml", "model: [") + " 2>&1");
  CHECK(r.code == 2);
  CHECK(r.out.find("yaml: ") != std::string::npos);
  r = Exec(Ctl() + " plan --instance /nonexistent.yaml 2>&1");
  CHECK(r.code == 2);
  r = Exec(Ctl() + " plan --instance " + Write("ok2.yaml", kInstance) + " --objective fastest 2>&1");
  CHECK(r.code == 2);
  CHECK(r.out.find("--objective") != std::string::npos);
}
