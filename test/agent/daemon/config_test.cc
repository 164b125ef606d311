#include "agent/daemon/config.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::agent;

TEST_CASE("config YAML sets keys including emulation") {
  auto c = ParseAgentConfig("node: e1\nmax_queue: 8\ntrusted: true\nemulation: {compute_slowdown: 3.0, egress_mbps: 100}\ntls: {mode: off}\n");
  REQUIRE(c.ok());
  CHECK(c->node == "e1");
  CHECK(c->max_queue == 8);
  CHECK(c->trusted);
  CHECK(c->emulation.compute_slowdown == 3.0);
  CHECK(c->emulation.egress_mbps == 100);
  CHECK(c->Validate().ok());
}

TEST_CASE("unknown config keys are errors") {
  CHECK_FALSE(ParseAgentConfig("nod: e1\n").ok());
  CHECK_FALSE(ParseAgentConfig("emulation: {slowdown: 2}\n").ok());
  CHECK_FALSE(ParseAgentConfig("max_queue: lots\n").ok());
}

TEST_CASE("validation reports every problem at once") {
  AgentConfig c;
  c.max_queue = 0;
  c.compute_threads = 0;
  c.emulation.compute_slowdown = 0.5;
  Status s = c.Validate();
  CHECK(s.message().find("max_queue") != std::string::npos);
  CHECK(s.message().find("compute_threads") != std::string::npos);
  CHECK(s.message().find("compute_slowdown") != std::string::npos);
}

TEST_CASE("flags override defaults and unknown flags fail") {
  auto c = AgentConfigFromArgs({"--node", "x", "--compute-slowdown", "2", "--data-listen", "127.0.0.1:0", "--tls-mode", "off"});
  REQUIRE(c.ok());
  CHECK(c->node == "x");
  CHECK(c->emulation.compute_slowdown == 2.0);
  CHECK_FALSE(AgentConfigFromArgs({"--bogus", "1"}).ok());
}

TEST_CASE("the example config parses and validates") {
  const char* src = std::getenv("ES_SOURCE_DIR");
  REQUIRE(src != nullptr);
  auto c = AgentConfigFromArgs({"--config", std::string(src) + "/config/agent.example.yaml"});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK(c->node == "edge-1");
}

TEST_CASE("TLS is required unless plaintext is asked for by name") {
  auto none = AgentConfigFromArgs({"--node", "x"});
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message().find("mode: off") != std::string::npos);
  auto partial = AgentConfigFromArgs({"--node", "x", "--tls-ca", "/ca.crt"});
  REQUIRE_FALSE(partial.ok());
  CHECK(partial.status().message().find("missing cert key") != std::string::npos);
  auto yaml = ParseAgentConfig("node: edge-1\ntls: {ca: a.crt, cert: b.crt, key: b.key, revoked: [n9, 0A1B]}\n");
  REQUIRE(yaml.ok());
  CHECK(yaml->tls.enabled);
  CHECK(yaml->tls.ca == "a.crt");
  CHECK(yaml->tls.revoked == std::vector<std::string>{"n9", "0A1B"});
  CHECK(yaml->Validate().ok());
  CHECK_FALSE(ParseAgentConfig("tls: {mode: maybe}\n").ok());
  CHECK_FALSE(ParseAgentConfig("tls: {cafile: x}\n").ok());
  // A TLS node name must fit a certificate's subject alternative name.
  auto bad = ParseAgentConfig("node: 'edge 1'\ntls: {ca: a, cert: b, key: c}\n");
  REQUIRE(bad.ok());
  CHECK_FALSE(bad->Validate().ok());
}

TEST_CASE("port limits are configurable by file and flag, and must be positive") {
  auto c = AgentConfigFromArgs({"--data-max-connections", "10", "--data-max-connections-per-peer", "3",
                                "--http-max-connections-per-peer", "2", "--http-header-timeout-ms", "700", "--tls-mode", "off"});
  REQUIRE(c.ok());
  CHECK(c->data_max_connections == 10);
  CHECK(c->data_max_connections_per_peer == 3);
  CHECK(c->http_max_connections_per_peer == 2);
  CHECK(c->http_header_timeout_ms == 700);
  AgentConfig bad;
  bad.data_max_connections_per_peer = 0;
  bad.http_header_timeout_ms = 0;
  Status s = bad.Validate();
  CHECK(s.message().find("max_connections") != std::string::npos);
  CHECK(s.message().find("http_header_timeout_ms") != std::string::npos);
}
