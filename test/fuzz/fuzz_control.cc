// Control messages from an agent, as the orchestrator applies them (orchestrator/daemon/app.cc,
// Session): the input is the byte stream of one control connection, length-prefixed
// AgentToOrchestrator messages. The first must be a Register (at most 64 KiB), then heartbeats
// and acks; each is converted (proto_convert.cc) and handed to a controller that has nodes and a
// deployment (fuzz_cluster.h), with Tick, the outbox and the REST views of the state after every
// step: a hostile agent must not crash the orchestrator however it fills the fields.
#include <boost/json/serialize.hpp>

#include <google/protobuf/stubs/logging.h>

#include "common/base/log.h"
#include "common/net/length_prefix.h"
#include "common/proto/control.pb.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/daemon/proto_convert.h"
#include "test/fuzz/fuzz_cluster.h"

using namespace edgesplit;
using namespace edgesplit::orch;

namespace {

constexpr size_t kMaxRegisterBytes = size_t{64} << 10;  // as app.cc
constexpr size_t kMaxMessageBytes = size_t{1} << 20;
constexpr int kMaxMessages = 64;

// Next framed message of the stream, or false at its end / on a bad prefix (the connection closes).
bool NextMessage(const uint8_t*& p, const uint8_t* end, size_t max_bytes, v1::AgentToOrchestrator* msg) {
  if (static_cast<size_t>(end - p) < net::kLengthPrefixBytes) return false;
  auto len = net::DecodeLengthPrefix(p, max_bytes);
  if (!len.ok()) return false;
  p += net::kLengthPrefixBytes;
  if (static_cast<size_t>(end - p) < *len) return false;
  msg->Clear();
  const bool parsed = msg->ParseFromArray(p, static_cast<int>(*len));
  p += *len;
  return parsed;
}

void ReadViews(const Controller& c, TimePoint now) {
  for (const auto& [name, n] : c.registry().nodes()) (void)boost::json::serialize(NodeToJson(n, now));
  for (const auto& [name, d] : c.deployments()) {
    (void)boost::json::serialize(DeploymentToJson(d, now, std::chrono::seconds(30)));
    (void)c.RouteFor(name);
  }
}

}  // namespace

// Refused input is the normal case here: keep the product's logs (and protobuf's complaints
// about invalid UTF-8) from drowning the fuzzer's output and slowing it down.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  SetLogLevel(LogLevel::kError);
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzCluster cluster;
  Controller& c = *cluster.controller;
  const uint8_t* p = data;
  const uint8_t* end = data + size;
  v1::AgentToOrchestrator msg;
  if (!NextMessage(p, end, kMaxRegisterBytes, &msg) || !msg.has_register_()) return 0;
  const RegisterInfo info = FromProto(msg.register_());
  if (!c.OnRegister(info, cluster.clock.Now()).ok()) return 0;
  const std::string node = info.node;
  for (int i = 0; i < kMaxMessages && NextMessage(p, end, kMaxMessageBytes, &msg); ++i) {
    const TimePoint now = cluster.clock.Now();
    if (msg.has_heartbeat()) {
      if (!c.OnHeartbeat(node, msg.heartbeat().seq(), FromProto(msg.heartbeat().capacity()), now).ok()) break;
    } else if (msg.has_ack()) {
      c.OnAck(node, FromProto(msg.ack()), now);
    } else {
      break;
    }
    // Time moves between messages so timers, probes and evaluations fire as in the daemon.
    cluster.clock.Advance(std::chrono::milliseconds(700));
    c.Tick(cluster.clock.Now());
    for (const AgentCommand& cmd : c.TakeOutbox()) {
      v1::Command wire;
      ToProto(cmd, &wire);
      (void)wire.SerializeAsString();
    }
    ReadViews(c, cluster.clock.Now());
  }
  c.OnDisconnect(node, cluster.clock.Now());
  cluster.clock.Advance(std::chrono::seconds(60));
  c.Tick(cluster.clock.Now());
  ReadViews(c, cluster.clock.Now());
  return 0;
}
