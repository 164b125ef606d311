#include "orchestrator/daemon/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::orch;

TEST_CASE("config YAML sets nested keys and refuses unknown ones") {
  auto c = ParseOrchestratorConfig(R"(
control_listen: 127.0.0.1:0
token: abc
liveness: {suspect_after_ms: 600, dead_after_ms: 900}
policy: {cooldown_s: 3, horizon_s: 10}
rollout: {drain_grace_ms: 50}
gateway: {threads: 2}
tls: {mode: off}
)");
  REQUIRE(c.ok());
  CHECK(c->api.bearer_token == "abc");
  CHECK(c->controller.registry.dead_after == std::chrono::milliseconds(900));
  CHECK(c->controller.policy.cooldown == std::chrono::seconds(3));
  CHECK(c->gateway.threads == 2);
  auto bad = ParseOrchestratorConfig("policy: {colour: red}\n");
  CHECK(bad.status().message().find("policy.colour") != std::string::npos);
  CHECK(!ParseOrchestratorConfig("liveness: {suspect_after_ms: 900, dead_after_ms: 100}\n").ok());
}

TEST_CASE("flags override the file and --set reaches any key") {
  auto c = OrchestratorConfigFromArgs({"--http-listen", "127.0.0.1:0", "--set", "policy.cooldown_s=1.5",
                                       "--heartbeat-period-ms", "100", "--tls-mode", "off"});
  REQUIRE(c.ok());
  CHECK(c->http_listen == "127.0.0.1:0");
  CHECK(c->heartbeat_period_ms == 100);
  CHECK(c->controller.policy.cooldown == std::chrono::milliseconds(1500));
  CHECK(!OrchestratorConfigFromArgs({"--bogus", "1"}).ok());
  CHECK(!OrchestratorConfigFromArgs({"--set", "nope=1"}).ok());
}

TEST_CASE("the example config in the repository parses and matches the defaults") {
  const char* src = std::getenv("ES_SOURCE_DIR");
  REQUIRE(src);
  std::ifstream in(std::string(src) + "/config/orchestrator.example.yaml");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = ParseOrchestratorConfig(ss.str());
  REQUIRE(c.ok());
  OrchestratorConfig d;
  CHECK(c->control_listen == d.control_listen);
  CHECK(c->controller.policy.cooldown == d.controller.policy.cooldown);
  CHECK(c->controller.registry.dead_after == d.controller.registry.dead_after);
  CHECK(c->gateway.attempt_timeout == d.gateway.attempt_timeout);
  CHECK(c->controller.registry.trusted_nodes.empty());
}

TEST_CASE("trusted_nodes is a list in the file and comma-separated with --set; bad names are refused") {
  auto c = ParseOrchestratorConfig("trusted_nodes: [gw-1, gw-2]\ntls: {mode: off}\n");
  REQUIRE(c.ok());
  CHECK(c->controller.registry.trusted_nodes == std::vector<std::string>{"gw-1", "gw-2"});
  c = ParseOrchestratorConfig("trusted_nodes:\n  - a\n  - b\ntls: {mode: off}\n");
  REQUIRE(c.ok());
  CHECK(c->controller.registry.trusted_nodes == std::vector<std::string>{"a", "b"});
  auto f = OrchestratorConfigFromArgs({"--set", "trusted_nodes=n1,n2,n3", "--tls-mode", "off"});
  REQUIRE(f.ok());
  CHECK(f->controller.registry.trusted_nodes == std::vector<std::string>{"n1", "n2", "n3"});
  CHECK(OrchestratorConfigFromArgs({"--set", "trusted_nodes=", "--tls-mode", "off"})->controller.registry.trusted_nodes.empty());
  CHECK(ParseOrchestratorConfig("trusted_nodes: [a, a]\n").status().message().find("listed twice") != std::string::npos);
  CHECK(!ParseOrchestratorConfig("trusted_nodes: [a, [b]]\n").ok());
  CHECK(!ParseOrchestratorConfig("trusted_nodes: [\"\"]\n").ok());
  CHECK(!OrchestratorConfigFromArgs({"--set", "trusted_nodes=a,,b"}).ok());
}

TEST_CASE("TLS is required unless plaintext is asked for, and flags complete a file") {
  auto none = ParseOrchestratorConfig("control_listen: 127.0.0.1:0\n");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message().find("mode: off") != std::string::npos);
  auto c = ParseOrchestratorConfig("tls:\n  ca: /x/ca.crt\n  cert: /x/o.crt\n  key: /x/o.key\n  revoked: [n3, ABCDEF]\n");
  REQUIRE(c.ok());
  CHECK(c->tls.enabled);
  CHECK(c->tls.revoked == std::vector<std::string>{"n3", "ABCDEF"});
  CHECK_FALSE(ParseOrchestratorConfig("tls: {mode: off, colour: red}\n").ok());
  // The systemd units pass the files as flags over a config that names other paths.
  auto f = OrchestratorConfigFromArgs({"--tls-ca", "/c/ca.crt", "--tls-cert", "/c/t.crt", "--tls-key", "/c/t.key"});
  REQUIRE(f.ok());
  CHECK(f->tls.key == "/c/t.key");
}

TEST_CASE("port limits are configurable and must be positive") {
  auto c = ParseOrchestratorConfig(R"(
control: {max_connections: 100, max_connections_per_peer: 5}
http: {max_connections: 50, max_connections_per_peer: 4, header_timeout_ms: 1500}
tls: {mode: off}
)");
  REQUIRE(c.ok());
  CHECK(c->control_limits.max_connections == 100);
  CHECK(c->control_limits.max_per_peer == 5);
  CHECK(c->http_limits.max_connections == 50);
  CHECK(c->http_limits.max_per_peer == 4);
  CHECK(c->http_header_timeout_ms == 1500);
  auto bad = ParseOrchestratorConfig("http: {max_connections_per_peer: 0, header_timeout_ms: 0}\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("http.max_connections_per_peer") != std::string::npos);
  CHECK(bad.status().message().find("http.header_timeout_ms") != std::string::npos);
}
