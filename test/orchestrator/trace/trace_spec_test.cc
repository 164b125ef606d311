// ParseTrace on good traces (the documented example, defaults, order, the committed files),
// TraceToJson's normalised form, and LoadTrace's size limit. The rejection table is in
// trace_rules_test.cc.
#include <catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <boost/json.hpp>

#include "orchestrator/trace/trace_spec.h"

using namespace edgesplit;
using namespace edgesplit::trace;
namespace json = boost::json;

namespace {

// docs/trace.md's example (with n3 declared: it is killed), events out of time order in the file.
const char* kExample = R"(
duration_s: 180
slo_ms: 300
load: {rps: 10, streams: 2}
nodes:
  - {name: n1, speed: 0.67, trusted: true, uplink_mbps: 1000, downlink_mbps: 1000}
  - {name: n2, speed: 1.0}
  - {name: n3, speed: 2}
deployment: {model: gpt-demo, objective: latency, entry: n1, max_stages: 3, trusted_prefix_layers: 1}
events:
  - {at_s: 140, kind: rps, value: 20}
  - {at_s: 30, kind: slow, node: n2, factor: 4}
  - {at_s: 60, kind: restore, node: n2}
  - {at_s: 70, kind: link, node: n1, direction: up, mbps: 3}
  - {at_s: 100, kind: link_restore, node: n1}
  - {at_s: 110, kind: kill, node: n3}
  - {at_s: 130, kind: start, node: n3}
  - {at_s: 100, kind: link_restore, node: n1, direction: down}
)";

std::string SourceDir() {
  const char* dir = std::getenv("ES_SOURCE_DIR");
  return dir ? dir : ".";
}

std::string TempPath(const std::string& name) {
  const char* tmp = std::getenv("ES_TEST_TMP");
  std::filesystem::path dir = std::string(tmp ? tmp : "/tmp") + "/trace";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST_CASE("the documented example parses with every default filled in", "[trace]") {
  auto r = ParseTrace(kExample);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const TraceSpec& t = *r;
  CHECK(t.duration_s == 180);
  CHECK(t.slo_ms == 300);
  CHECK(t.load.rps == 10);
  CHECK(t.load.streams == 2);
  CHECK(t.periodic_s == 60);
  REQUIRE(t.nodes.size() == 3);
  CHECK(t.nodes[0].trusted);
  CHECK(t.nodes[0].uplink_mbps == 1000);
  CHECK(!t.nodes[1].trusted);
  CHECK(!t.nodes[1].uplink_mbps);
  CHECK(!t.nodes[1].downlink_mbps);
  CHECK(t.deployment.model == "gpt-demo");
  CHECK(t.deployment.objective == planner::ObjectiveKind::kLatency);
  CHECK(t.deployment.entry == std::optional<std::string>("n1"));
  CHECK(t.deployment.max_stages == std::optional<int>(3));
  CHECK(t.deployment.trusted_prefix_layers == 1);
}

TEST_CASE("events come out sorted by time, ties in file order, with their file index", "[trace]") {
  auto r = ParseTrace(kExample);
  REQUIRE(r.ok());
  std::vector<std::pair<double, size_t>> order;
  for (const auto& e : r->events) order.emplace_back(e.at_s, e.index);
  CHECK(order == std::vector<std::pair<double, size_t>>{{30, 1}, {60, 2}, {70, 3}, {100, 4}, {100, 7}, {110, 5}, {130, 6}, {140, 0}});
  CHECK(r->events[3].direction == LinkDirection::kBoth);  // link_restore's default
  CHECK(r->events[4].direction == LinkDirection::kDown);
  CHECK(r->events[2].kind == EventKind::kLink);
  CHECK(r->events[2].mbps == 3);
  CHECK(r->events[7].value == 20);
}

TEST_CASE("optional keys take their defaults", "[trace]") {
  auto r = ParseTrace("duration_s: 10\nslo_ms: 5\nload: {rps: 0.5}\nnodes: [{name: a, trusted: true}]\n"
                      "deployment: {model: m, objective: period}\n");
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->load.streams == 0);
  CHECK(r->periodic_s == 60);
  CHECK(r->nodes[0].speed == 1.0);
  CHECK(!r->deployment.entry);
  CHECK(!r->deployment.max_stages);
  CHECK(r->deployment.trusted_prefix_layers == 0);
  CHECK(r->deployment.objective == planner::ObjectiveKind::kPeriod);
  CHECK(r->events.empty());
  // `events:` with every entry commented out is no events.
  auto empty = ParseTrace("duration_s: 10\nslo_ms: 5\nload: {rps: 1}\nnodes: [{name: a, trusted: true}]\n"
                          "deployment: {model: m, objective: mixed}\nevents:\n#  - {at_s: 1, kind: kill, node: a}\n");
  INFO(empty.status().message());
  REQUIRE(empty.ok());
  CHECK(empty->events.empty());
}

TEST_CASE("the JSON form is normalised: defaults, nulls for unset, sorted events, slowdown", "[trace]") {
  auto r = ParseTrace(kExample);
  REQUIRE(r.ok());
  const json::value v = json::parse(TraceToJson(*r));
  const json::object& o = v.as_object();
  CHECK(o.size() == 7);
  CHECK(o.at("duration_s").to_number<double>() == 180);
  CHECK(o.at("periodic_s").to_number<double>() == 60);
  CHECK(o.at("load").at("streams").to_number<int>() == 2);
  const json::array& nodes = o.at("nodes").as_array();
  REQUIRE(nodes.size() == 3);
  CHECK(nodes[0].at("slowdown").to_number<double>() == Approx(1 / 0.67));
  CHECK(nodes[2].at("slowdown").to_number<double>() == 0.5);
  CHECK(nodes[1].at("speed").to_number<double>() == 1.0);
  CHECK(nodes[1].at("trusted") == false);
  CHECK(nodes[1].at("uplink_mbps").is_null());
  CHECK(nodes[0].at("downlink_mbps").to_number<double>() == 1000);
  const json::object& d = o.at("deployment").as_object();
  CHECK(d.at("objective") == "latency");
  CHECK(d.at("entry") == "n1");
  CHECK(d.at("max_stages").to_number<int>() == 3);
  const json::array& events = o.at("events").as_array();
  REQUIRE(events.size() == 8);
  CHECK(events[0] == json::parse(R"({"at_s": 30, "kind": "slow", "node": "n2", "factor": 4})"));
  CHECK(events[1] == json::parse(R"({"at_s": 60, "kind": "restore", "node": "n2"})"));
  CHECK(events[2] == json::parse(R"({"at_s": 70, "kind": "link", "node": "n1", "direction": "up", "mbps": 3})"));
  CHECK(events[3] == json::parse(R"({"at_s": 100, "kind": "link_restore", "node": "n1", "direction": "both"})"));
  CHECK(events[7] == json::parse(R"({"at_s": 140, "kind": "rps", "value": 20})"));
  // Whole numbers are written as integers, not Boost.JSON's 1.8E2: the consumer is a shell script.
  CHECK(TraceToJson(*r).find("\"duration_s\":180,") != std::string::npos);
}

TEST_CASE("an unset entry and max_stages are null in the JSON", "[trace]") {
  auto r = ParseTrace("duration_s: 10\nslo_ms: 5\nload: {rps: 1}\nnodes: [{name: a, trusted: true}]\n"
                      "deployment: {model: m, objective: latency}\n");
  REQUIRE(r.ok());
  const json::value v = json::parse(TraceToJson(*r));
  CHECK(v.at("deployment").at("entry").is_null());
  CHECK(v.at("deployment").at("max_stages").is_null());
  CHECK(v.at("events").as_array().empty());
}

TEST_CASE("a trace over 1 MiB is refused before parsing", "[trace]") {
  std::string big = std::string(kExample) + "#" + std::string(kMaxTraceBytes, 'x') + "\n";
  auto r = ParseTrace(big);
  REQUIRE(!r.ok());
  CHECK(r.status().message().find("trace: larger than 1048576 bytes") == 0);

  const std::string path = TempPath("big.yaml");
  std::ofstream(path) << big;
  auto loaded = LoadTrace(path);
  REQUIRE(!loaded.ok());
  CHECK(loaded.status().code() == StatusCode::kInvalidArgument);
  CHECK(loaded.status().message().find("is larger than 1048576 bytes (1 MiB)") != std::string::npos);

  // Just under the limit (padding in a comment) is still a trace.
  std::string fits = std::string(kExample) + "#";
  fits += std::string(kMaxTraceBytes - fits.size() - 1, 'x') + "\n";
  REQUIRE(fits.size() == kMaxTraceBytes);
  std::ofstream(TempPath("fits.yaml")) << fits;
  auto ok = LoadTrace(TempPath("fits.yaml"));
  INFO(ok.status().message());
  CHECK(ok.ok());
}

TEST_CASE("a missing trace file is NotFound", "[trace]") {
  auto r = LoadTrace(TempPath("no-such-trace.yaml"));
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::kNotFound);
  CHECK(r.status().message().find("trace: cannot read") == 0);
}

TEST_CASE("the committed traces parse", "[trace]") {
  auto def = LoadTrace(SourceDir() + "/config/traces/default.yaml");
  INFO(def.status().message());
  REQUIRE(def.ok());
  CHECK(def->duration_s == 180);
  CHECK(def->nodes.size() == 4);
  CHECK(def->deployment.entry == std::optional<std::string>("n1"));
  std::set<EventKind> kinds;
  for (size_t i = 0; i < def->events.size(); ++i) {
    kinds.insert(def->events[i].kind);
    if (i > 0) CHECK(def->events[i].at_s - def->events[i - 1].at_s >= 15);
  }
  CHECK(kinds.size() == 7);  // every kind

  auto ci = LoadTrace(SourceDir() + "/config/traces/ci.yaml");
  INFO(ci.status().message());
  REQUIRE(ci.ok());
  CHECK(ci->duration_s == 55);
  CHECK(ci->periodic_s == 20);
  CHECK(ci->events.size() == 4);
  // The same cluster as the default trace.
  CHECK(json::parse(TraceToJson(*ci)).at("nodes") == json::parse(TraceToJson(*def)).at("nodes"));

  // follow.yaml: the default trace with every fault on the plan's stage 1.
  auto follow = LoadTrace(SourceDir() + "/config/traces/follow.yaml");
  INFO(follow.status().message());
  REQUIRE(follow.ok());
  REQUIRE(follow->events.size() == def->events.size());
  for (size_t i = 0; i < def->events.size(); ++i) {
    CHECK(follow->events[i].kind == def->events[i].kind);
    CHECK(follow->events[i].at_s == def->events[i].at_s);
    CHECK(follow->events[i].node == (def->events[i].node.empty() ? "" : "stage:1"));
  }
  CHECK(json::parse(TraceToJson(*follow)).at("nodes") == json::parse(TraceToJson(*def)).at("nodes"));
}

TEST_CASE("the example in docs/trace.md is a valid trace", "[trace]") {
  std::ifstream f(SourceDir() + "/docs/trace.md");
  REQUIRE(f);
  std::string line, yaml;
  bool in_block = false;
  while (std::getline(f, line)) {
    if (!in_block && line == "```yaml") {
      in_block = true;
    } else if (in_block && line == "```") {
      break;
    } else if (in_block) {
      yaml += line + "\n";
    }
  }
  REQUIRE(!yaml.empty());
  auto r = ParseTrace(yaml);
  INFO(r.status().message());
  CHECK(r.ok());
}
