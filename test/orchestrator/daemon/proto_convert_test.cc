#include "orchestrator/daemon/proto_convert.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::orch;

TEST_CASE("register and capacity profiles round-trip through the wire messages") {
  RegisterInfo r;
  r.node = "n1";
  r.version = "0.1";
  r.data_address = "127.0.0.1:7201";
  r.trusted = true;
  r.models = {"gpt"};
  r.incarnation = 42;
  r.capacity.version = 3;
  r.capacity.cores = 4;
  r.capacity.cpu_utilization = 0.5;
  r.capacity.memory_total_bytes = 100;
  r.capacity.memory_available_bytes = 50;
  r.capacity.compute_slowdown = 2;
  r.capacity.egress_mbps = 10;
  r.capacity.speed_factor = 0.5;
  r.capacity.active_sessions = 3;
  r.capacity.kv_bytes = 4096;
  r.capacity.kv_budget_bytes = 1 << 20;
  SegmentReport s;
  s.deployment = "d";
  s.epoch = 7;
  s.model = "gpt";
  s.first_layer = 1;
  s.end_layer = 3;
  s.layer_ms = {1.5, 2.5};
  s.queue_depth = 2;
  s.request_rate = 9;
  s.state = "ready";
  s.downstream_address = "x:1";
  s.active = true;
  s.requests_total = 10;
  s.failures_total = 1;
  r.capacity.segments.push_back(s);
  r.capacity.links.push_back({"n2", "127.0.0.1:7202", 0.3, 900, ""});
  v1::Register p;
  ToProto(r, &p);
  v1::Register wire;
  REQUIRE(wire.ParseFromString(p.SerializeAsString()));
  RegisterInfo back = FromProto(wire);
  CHECK(back.node == r.node);
  CHECK(back.incarnation == 42);
  CHECK(back.models == r.models);
  CHECK(back.capacity.speed_factor == 0.5);
  CHECK(back.capacity.active_sessions == 3);
  CHECK(back.capacity.kv_bytes == 4096);
  CHECK(back.capacity.kv_budget_bytes == 1u << 20);
  REQUIRE(back.capacity.segments.size() == 1);
  CHECK(back.capacity.segments[0].layer_ms == s.layer_ms);
  CHECK(back.capacity.segments[0].active);
  CHECK(back.capacity.segments[0].failures_total == 1);
  REQUIRE(back.capacity.links.size() == 1);
  CHECK(back.capacity.links[0].bandwidth_mbps == 900);
}

TEST_CASE("commands and acks round-trip through the wire messages") {
  AgentCommand c;
  c.id = 5;
  c.kind = CommandKind::kLoad;
  c.deployment = "d";
  c.epoch = 2;
  c.model = "gpt";
  c.first_layer = 2;
  c.end_layer = 6;
  c.num_layers = 8;
  c.downstream_address = "a:1";
  c.entry_address = "b:2";
  c.is_entry = true;
  c.retry_in_flight = true;
  for (CommandKind k : {CommandKind::kLoad, CommandKind::kActivate, CommandKind::kDrain, CommandKind::kUnload}) {
    c.kind = k;
    v1::Command p;
    ToProto(c, &p);
    AgentCommand back = FromProto(p);
    CHECK(back.kind == k);
    CHECK(back.id == 5);
    CHECK(back.deployment == "d");
    CHECK(back.epoch == 2);
    if (k == CommandKind::kLoad) {
      CHECK(back.first_layer == 2);
      CHECK(back.end_layer == 6);
      CHECK(back.num_layers == 8);
      CHECK(back.is_entry);
      CHECK(back.entry_address == "b:2");
    }
    if (k == CommandKind::kActivate) CHECK(back.retry_in_flight);
  }
  c.kind = CommandKind::kProbe;
  c.peers = {{"n2", "x:2"}};
  c.probe_bytes = 4096;
  v1::Command p;
  ToProto(c, &p);
  CHECK(FromProto(p).peers == c.peers);
  CHECK(FromProto(p).probe_bytes == 4096);

  AckInfo a;
  a.command_id = 9;
  a.ok = false;
  a.error_code = "not_found";
  a.error = "no such epoch";
  a.links.push_back({"n3", "y:3", 1, 2, ""});
  v1::CommandAck pa;
  ToProto(a, &pa);
  AckInfo b = FromProto(pa);
  CHECK(b.command_id == 9);
  CHECK(!b.ok);
  CHECK(b.error_code == "not_found");
  CHECK(b.links.size() == 1);
}
