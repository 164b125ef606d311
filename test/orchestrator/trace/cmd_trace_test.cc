// End-to-end: `edgesplitctl trace check` prints the normalised JSON of a committed trace (exit 0)
// and a bad trace's one message on stderr (exit 2). Needs the edgesplitctl binary of the same build.
#include <catch.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <boost/json.hpp>

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

std::string Env(const char* name, const char* def) {
  const char* v = std::getenv(name);
  return v ? v : def;
}

std::string Ctl() { return Env("ES_BIN_DIR", "bin") + "/edgesplitctl"; }

}  // namespace

TEST_CASE("trace check --json prints the normalised committed trace", "[trace]") {
  Run r = Exec(Ctl() + " trace check --trace " + Env("ES_SOURCE_DIR", ".") + "/config/traces/default.yaml --json");
  REQUIRE(r.code == 0);
  const boost::json::value v = boost::json::parse(r.out);
  CHECK(v.at("duration_s").to_number<double>() == 180);
  CHECK(v.at("nodes").as_array().size() == 4);
  CHECK(v.at("events").as_array().size() == 10);
}

TEST_CASE("trace check without --json prints a summary with the events in order", "[trace]") {
  Run r = Exec(Ctl() + " trace check --trace " + Env("ES_SOURCE_DIR", ".") + "/config/traces/ci.yaml");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("duration 55 s") != std::string::npos);
  CHECK(r.out.find("slow n2 x8") < r.out.find("link_restore n2 both"));
}

TEST_CASE("trace check names the bad key on stderr and exits 2", "[trace]") {
  std::filesystem::path dir = Env("ES_TEST_TMP", "/tmp") + "/trace";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "bad.yaml").string();
  std::ofstream(path) << "duration_s: 60\nslo_ms: 300\nload: {rps: 1}\nnodes: [{name: n1, trusted: true}, {name: n2, sped: 2}]\n"
                         "deployment: {model: m, objective: latency}\n";
  Run r = Exec(Ctl() + " trace check --trace " + path + " --json 2>&1");
  CHECK(r.code == 2);
  CHECK(r.out == "trace: nodes[1]: unknown key \"sped\"\n");
  CHECK(Exec(Ctl() + " trace check 2>&1").code == 2);
  CHECK(Exec(Ctl() + " trace frobnicate 2>&1").code == 2);
}
