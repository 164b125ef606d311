// Every rule of docs/trace.md rejects a bad trace with one message naming the key path.
#include <catch.hpp>

#include <string>
#include <vector>

#include "orchestrator/trace/trace_spec.h"

using namespace edgesplit;
using namespace edgesplit::trace;

namespace {

// A valid trace in four parts; each case swaps one part.
struct Doc {
  std::string top = "duration_s: 100\nslo_ms: 300\nload: {rps: 10, streams: 2}\n";
  std::string nodes = "nodes:\n  - {name: n1, trusted: true}\n  - {name: n2}\n  - {name: n3}\n";
  std::string deployment = "deployment: {model: m, objective: latency, entry: n1}\n";
  std::string events = "events: []\n";
  std::string Text() const { return top + nodes + deployment + events; }
};

std::string Top(const std::string& s) { Doc d; d.top = s; return d.Text(); }
std::string Nodes(const std::string& s) { Doc d; d.nodes = "nodes:\n" + s; return d.Text(); }
std::string Deployment(const std::string& s) { Doc d; d.deployment = "deployment: " + s + "\n"; return d.Text(); }
std::string Events(const std::string& s) { Doc d; d.events = "events:\n" + s; return d.Text(); }
std::string Ev(const std::string& fields) { return "  - {" + fields + "}\n"; }

struct Case {
  std::string yaml;
  std::string error;  // expected substring of the message
};

std::string ManyNodes(int n) {
  std::string s = "  - {name: n1, trusted: true}\n";
  for (int i = 2; i <= n; ++i) s += "  - {name: n" + std::to_string(i) + "}\n";
  return s;
}

std::string ManyEvents(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += Ev("at_s: 1, kind: rps, value: 5");
  return s;
}

}  // namespace

TEST_CASE("the base trace of the rejection table is valid", "[trace]") {
  auto r = ParseTrace(Doc().Text());
  INFO(r.status().message());
  CHECK(r.ok());
  CHECK(ParseTrace(Nodes(ManyNodes(16))).ok());
  CHECK(ParseTrace(Events(ManyEvents(1000))).ok());
}

TEST_CASE("each bad trace gives one message naming the key path", "[trace]") {
  const std::string load = "load: {rps: 10}\n";
  const std::vector<Case> cases = {
      // Document and top level.
      {"", "trace: empty document"},
      {"- 1\n- 2\n", "trace: expected a mapping"},
      {"duration_s: [1,\n", "trace: not valid YAML: line"},
      {Doc().Text() + "extra: 1\n", "trace: unknown key \"extra\""},
      {Doc().Text() + "slo_ms: 200\n", "trace: duplicate key \"slo_ms\""},
      {Top("slo_ms: 300\n" + load), "trace: duration_s: missing (a number)"},
      {Top("duration_s: 0\nslo_ms: 300\n" + load), "trace: duration_s: must be > 0"},
      {Top("duration_s: 3601\nslo_ms: 300\n" + load), "trace: duration_s: must be <= 3600"},
      {Top("duration_s: long\nslo_ms: 300\n" + load), "trace: duration_s: expected a number, got \"long\""},
      {Top("duration_s: .inf\nslo_ms: 300\n" + load), "trace: duration_s: must be finite"},
      {Top("duration_s:\nslo_ms: 300\n" + load), "trace: duration_s: expected a number, got null"},
      {Top("duration_s: [1]\nslo_ms: 300\n" + load), "trace: duration_s: expected a number, got a list"},
      {Top("duration_s: 100\n" + load), "trace: slo_ms: missing"},
      {Top("duration_s: 100\nslo_ms: -1\n" + load), "trace: slo_ms: must be > 0"},
      {Top("duration_s: 100\nslo_ms: 300\n"), "trace: load: missing (a mapping)"},
      {Top("duration_s: 100\nslo_ms: 300\nload: 10\n"), "trace: load: expected a mapping"},
      {Top("duration_s: 100\nslo_ms: 300\nload: {streams: 1}\n"), "trace: load.rps: missing"},
      {Top("duration_s: 100\nslo_ms: 300\nload: {rps: 0}\n"), "trace: load.rps: must be > 0"},
      {Top("duration_s: 100\nslo_ms: 300\nload: {rps: 1001}\n"), "trace: load.rps: must be <= 1000"},
      {Top("duration_s: 100\nslo_ms: 300\nload: {rps: 1, streams: 17}\n"), "trace: load.streams: must be an integer in [0, 16]"},
      {Top("duration_s: 100\nslo_ms: 300\nload: {rps: 1, streams: -1}\n"), "trace: load.streams: must be an integer in [0, 16]"},
      {Top("duration_s: 100\nslo_ms: 300\nload: {rps: 1, streams: 1.5}\n"), "trace: load.streams: must be an integer in [0, 16]"},
      {Top("duration_s: 100\nslo_ms: 300\nload: {rps: 1, burst: 2}\n"), "trace: load: unknown key \"burst\""},
      {Top("duration_s: 100\nslo_ms: 300\nperiodic_s: 0\n" + load), "trace: periodic_s: must be > 0"},
      // Nodes.
      {Doc{.nodes = ""}.Text(), "trace: nodes: missing"},
      {Doc{.nodes = "nodes: []\n"}.Text(), "trace: nodes: must list 1 to 16 nodes, not 0"},
      {Nodes(ManyNodes(17)), "trace: nodes: must list 1 to 16 nodes, not 17"},
      {Doc{.nodes = "nodes: {n1: {}}\n"}.Text(), "trace: nodes: expected a list"},
      {Nodes("  - n1\n"), "trace: nodes[0]: expected a mapping"},
      {Nodes("  - {name: n1, trusted: true}\n  - {name: n2, sped: 2}\n"), "trace: nodes[1]: unknown key \"sped\""},
      {Nodes("  - {trusted: true}\n"), "trace: nodes[0].name: missing (a string)"},
      {Nodes("  - {name: N1, trusted: true}\n"), "trace: nodes[0].name: \"N1\" must be 1-32 characters of [a-z0-9-]"},
      {Nodes("  - {name: n_1, trusted: true}\n"), "trace: nodes[0].name: \"n_1\" must be"},
      {Nodes("  - {name: " + std::string(33, 'a') + ", trusted: true}\n"), "trace: nodes[0].name: \"aaaa"},
      {Nodes("  - {name: n1, trusted: true}\n  - {name: n1}\n"), "trace: nodes[1].name: duplicate node \"n1\""},
      {Nodes("  - {name: n1, trusted: true, speed: 0}\n"), "trace: nodes[0].speed: must be > 0"},
      {Nodes("  - {name: n1, trusted: true, speed: 101}\n"), "trace: nodes[0].speed: must be <= 100"},
      {Nodes("  - {name: n1, trusted: true, speed: fast}\n"), "trace: nodes[0].speed: expected a number, got \"fast\""},
      {Nodes("  - {name: n1, trusted: maybe}\n"), "trace: nodes[0].trusted: expected true or false, got \"maybe\""},
      {Nodes("  - {name: n1, trusted: true, uplink_mbps: 0}\n"), "trace: nodes[0].uplink_mbps: must be > 0"},
      {Nodes("  - {name: n1, trusted: true, downlink_mbps: -5}\n"), "trace: nodes[0].downlink_mbps: must be > 0"},
      {Nodes("  - {name: n1, trusted: true, uplink_mbps: }\n"), "trace: nodes[0].uplink_mbps: expected a number, got null"},
      // Deployment.
      {Doc{.deployment = ""}.Text(), "trace: deployment: missing (a mapping)"},
      {Deployment("{objective: latency}"), "trace: deployment.model: missing (a string)"},
      {Deployment("{model: '', objective: latency}"), "trace: deployment.model: \"\" must be 1-64 characters of [A-Za-z0-9._-]"},
      {Deployment("{model: 'gpt demo', objective: latency}"), "trace: deployment.model: \"gpt demo\" must be"},
      {Deployment("{model: m}"), "trace: deployment.objective: missing"},
      {Deployment("{model: m, objective: throughput}"), "trace: deployment.objective: \"throughput\" is not one of latency, period, mixed"},
      {Deployment("{model: m, objective: latency, slo: 1}"), "trace: deployment: unknown key \"slo\""},
      {Deployment("{model: m, objective: latency, entry: n9}"), "trace: deployment.entry: \"n9\" is not a node"},
      {Deployment("{model: m, objective: latency, entry: n2}"), "trace: deployment.entry: node \"n2\" is not trusted"},
      {Doc{.nodes = "nodes: [{name: n1}]\n", .deployment = "deployment: {model: m, objective: latency, trusted_prefix_layers: 1}\n"}.Text(),
       "trace: deployment: no entry and no trusted node"},
      {Deployment("{model: m, objective: latency, max_stages: 0}"), "trace: deployment.max_stages: must be an integer in [1, 16]"},
      {Deployment("{model: m, objective: latency, max_stages: 17}"), "trace: deployment.max_stages: must be an integer in [1, 16]"},
      {Deployment("{model: m, objective: latency, max_stages: 2.5}"), "trace: deployment.max_stages: must be an integer in [1, 16]"},
      {Deployment("{model: m, objective: latency, trusted_prefix_layers: -1}"),
       "trace: deployment.trusted_prefix_layers: must be an integer in [0, 1000000]"},
      {Deployment("{model: m, objective: latency, trusted_prefix_layers: 4294967297}"),
       "trace: deployment.trusted_prefix_layers: must be an integer in [0, 1000000]"},
      // Events: shape, kind and keys.
      {Doc{.events = "events: {at_s: 1}\n"}.Text(), "trace: events: expected a list"},
      {Events(ManyEvents(1001)), "trace: events: at most 1000 events, not 1001"},
      {Events("  - 5\n"), "trace: events[0]: expected a mapping"},
      {Events(Ev("at_s: 1, node: n2")), "trace: events[0].kind: missing"},
      {Events(Ev("at_s: 1, kind: boom, node: n2")), "trace: events[0].kind: \"boom\" is not one of slow, restore, link, link_restore, kill, start, rps"},
      {Events(Ev("kind: kill, node: n2")), "trace: events[0].at_s: missing"},
      {Events(Ev("at_s: -1, kind: kill, node: n2")), "trace: events[0].at_s: must be >= 0 and < duration_s (100)"},
      {Events(Ev("at_s: 100, kind: kill, node: n2")), "trace: events[0].at_s: must be >= 0 and < duration_s (100)"},
      {Events(Ev("at_s: 1, kind: restore, node: n2, factor: 2")), "trace: events[0]: key \"factor\" does not belong to kind \"restore\""},
      {Events(Ev("at_s: 1, kind: rps, value: 5, node: n2")), "trace: events[0]: key \"node\" does not belong to kind \"rps\""},
      {Events(Ev("at_s: 1, kind: kill, node: n2, direction: up")), "trace: events[0]: key \"direction\" does not belong to kind \"kill\""},
      {Events(Ev("at_s: 1, kind: slow, node: n2, fator: 2")), "trace: events[0]: unknown key \"fator\""},
      {Events(Ev("at_s: 1, kind: slow, node: n2, factor: 2") + Ev("at_s: 2, kind: slow, node: n2, factor: 2, factor: 3")),
       "trace: events[1]: duplicate key \"factor\""},
      // Events: the keys of each kind.
      {Events(Ev("at_s: 1, kind: slow, factor: 2")), "trace: events[0].node: missing"},
      {Events(Ev("at_s: 1, kind: slow, node: n9, factor: 2")), "trace: events[0].node: \"n9\" is not a node"},
      {Events(Ev("at_s: 1, kind: slow, node: n2")), "trace: events[0].factor: missing"},
      {Events(Ev("at_s: 1, kind: slow, node: n2, factor: 0")), "trace: events[0].factor: must be > 0"},
      {Events(Ev("at_s: 1, kind: slow, node: n2, factor: 101")), "trace: events[0].factor: must be <= 100"},
      {Events(Ev("at_s: 1, kind: restore")), "trace: events[0].node: missing"},
      {Events(Ev("at_s: 1, kind: link, node: n1, mbps: 3")), "trace: events[0].direction: missing"},
      {Events(Ev("at_s: 1, kind: link, node: n1, direction: both, mbps: 3")), "trace: events[0].direction: \"both\" must be up or down"},
      {Events(Ev("at_s: 1, kind: link, node: n1, direction: up")), "trace: events[0].mbps: missing"},
      {Events(Ev("at_s: 1, kind: slow, node: n2, factor: 2") + Ev("at_s: 2, kind: restore, node: n2") +
              Ev("at_s: 3, kind: rps, value: 5") + Ev("at_s: 4, kind: link, node: n1, direction: up, mbps: 0")),
       "trace: events[3].mbps: must be > 0"},
      {Events(Ev("at_s: 1, kind: link_restore, node: n1, direction: sideways")),
       "trace: events[0].direction: \"sideways\" must be up, down or both"},
      {Events(Ev("at_s: 1, kind: link_restore, node: n9")), "trace: events[0].node: \"n9\" is not a node"},
      // Stage targets: 1..16, undone only after their fault.
      {Events(Ev("at_s: 1, kind: slow, node: \"stage:0\", factor: 2")), "events[0].node: \"stage:0\" is not a node (nor stage:1"},
      {Events(Ev("at_s: 1, kind: slow, node: \"stage:17\", factor: 2")), "\"stage:17\" is not a node"},
      {Events(Ev("at_s: 1, kind: slow, node: \"stage:01\", factor: 2")), "\"stage:01\" is not a node"},
      {Events(Ev("at_s: 1, kind: restore, node: \"stage:1\"")),
       "events[0].node: \"stage:1\": restore before any slow of that target"},
      {Events(Ev("at_s: 1, kind: slow, node: \"stage:1\", factor: 2") + Ev("at_s: 2, kind: start, node: \"stage:1\"")),
       "events[1].node: \"stage:1\": start before any kill of that target"},
      {Events(Ev("at_s: 1, kind: kill, node: \"stage:2\"") + Ev("at_s: 2, kind: kill, node: \"stage:2\"")),
       "events[1].node: \"stage:2\": killed again before its start"},
      {Events(Ev("at_s: 1, kind: kill")), "trace: events[0].node: missing"},
      {Events(Ev("at_s: 1, kind: start")), "trace: events[0].node: missing"},
      {Events(Ev("at_s: 1, kind: rps")), "trace: events[0].value: missing"},
      {Events(Ev("at_s: 1, kind: rps, value: 0")), "trace: events[0].value: must be > 0"},
      {Events(Ev("at_s: 1, kind: rps, value: 1001")), "trace: events[0].value: must be <= 1000"},
      // Events: consistency in time order.
      {Events(Ev("at_s: 1, kind: kill, node: n2") + Ev("at_s: 2, kind: kill, node: n2")),
       "trace: events[1].node: \"n2\" is killed at 2 s (kill needs a running node)"},
      {Events(Ev("at_s: 1, kind: start, node: n2")), "trace: events[0].node: \"n2\" is running at 1 s (start only a killed node)"},
      {Events(Ev("at_s: 1, kind: kill, node: n2") + Ev("at_s: 2.5, kind: slow, node: n2, factor: 2")),
       "trace: events[1].node: \"n2\" is killed at 2.5 s (slow needs a running node)"},
      {Events(Ev("at_s: 1, kind: kill, node: n2") + Ev("at_s: 2, kind: restore, node: n2")), "trace: events[1].node: \"n2\" is killed"},
      {Events(Ev("at_s: 1, kind: kill, node: n2") + Ev("at_s: 2, kind: link, node: n2, direction: down, mbps: 5")),
       "trace: events[1].node: \"n2\" is killed"},
      {Events(Ev("at_s: 1, kind: kill, node: n2") + Ev("at_s: 2, kind: link_restore, node: n2")), "trace: events[1].node: \"n2\" is killed"},
      {Events(Ev("at_s: 1, kind: kill, node: n1")), "trace: events[0].node: \"n1\" is the entry, which holds the client-facing endpoint"},
      // Checked in time order, not file order: the start (file index 1) comes before the kill.
      {Events(Ev("at_s: 20, kind: kill, node: n2") + Ev("at_s: 10, kind: start, node: n2")),
       "trace: events[1].node: \"n2\" is running at 10 s"},
      // Ties keep file order: start then kill at the same time starts a running node.
      {Events(Ev("at_s: 5, kind: start, node: n2") + Ev("at_s: 5, kind: kill, node: n2")), "trace: events[0].node: \"n2\" is running at 5 s"},
      {Doc{.nodes = "nodes: [{name: n1, trusted: true}, {name: n2}]\n",
           .deployment = "deployment: {model: m, objective: latency}\n",
           .events = "events: [{at_s: 1, kind: kill, node: n1}]\n"}.Text(),
       "trace: events[0].node: \"n1\": killing it at 1 s leaves no trusted node running"},
  };
  for (const auto& c : cases) {
    auto r = ParseTrace(c.yaml);
    INFO("yaml:\n" << c.yaml);
    INFO("expected: " << c.error);
    REQUIRE(!r.ok());
    INFO("got: " << r.status().message());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().find(c.error) != std::string::npos);
    CHECK(r.status().message().find('\n') == std::string::npos);  // one line
  }
}

TEST_CASE("events in file order that only work in time order are accepted", "[trace]") {
  auto r = ParseTrace(Events(Ev("at_s: 30, kind: start, node: n2") + Ev("at_s: 10, kind: kill, node: n2") +
                             Ev("at_s: 30, kind: slow, node: n2, factor: 2")));
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->events[0].kind == EventKind::kKill);
  CHECK(r->events[1].kind == EventKind::kStart);
  CHECK(r->events[2].kind == EventKind::kSlow);
}

TEST_CASE("stage targets: faults on the plan's stage K, each undo after its fault", "[trace]") {
  CHECK(IsStageTarget("stage:1"));
  CHECK(IsStageTarget("stage:16"));
  CHECK_FALSE(IsStageTarget("stage:"));
  CHECK_FALSE(IsStageTarget("stage:x"));
  CHECK_FALSE(IsStageTarget("stage:100"));
  CHECK_FALSE(IsStageTarget("n1"));
  auto r = ParseTrace(Events(Ev("at_s: 1, kind: slow, node: \"stage:1\", factor: 4") +
                             Ev("at_s: 2, kind: restore, node: \"stage:1\"") +
                             Ev("at_s: 3, kind: link, node: \"stage:2\", direction: up, mbps: 5") +
                             Ev("at_s: 4, kind: link_restore, node: \"stage:2\", direction: up") +
                             Ev("at_s: 5, kind: kill, node: \"stage:1\"") + Ev("at_s: 6, kind: start, node: \"stage:1\"") +
                             Ev("at_s: 7, kind: kill, node: \"stage:1\"")));
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->events[0].node == "stage:1");
  CHECK(r->events[3].direction == LinkDirection::kUp);
}
