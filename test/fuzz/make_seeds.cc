// Writes the generated seeds of test/fuzz/corpus/<target>/: frames, control streams, npy files,
// manifests and instances made by the product's own encoders, and JSON/REST bodies as clients
// send them. Run by `scripts/fuzz.sh --seeds` after a wire format changes; the files are committed.
// Usage: fuzz_make_seeds CORPUS_DIR
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <boost/json.hpp>

#include "agent/transport/frame.h"
#include "agent/transport/frame_header.h"
#include "common/model/manifest.h"
#include "orchestrator/api/json_codec.h"
#include "common/model/npy.h"
#include "common/net/length_prefix.h"
#include "common/proto/control.pb.h"
#include "orchestrator/daemon/proto_convert.h"
#include "orchestrator/planner/instance_gen.h"
#include "orchestrator/planner/instance_yaml.h"
#include "test/fuzz/fuzz_cluster.h"

using namespace edgesplit;
namespace fs = std::filesystem;

namespace {

fs::path g_root;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_root / target);
  std::ofstream(g_root / target / name, std::ios::binary) << bytes;
}

HostTensor Iota(DType dtype, std::vector<int64_t> shape) {
  HostTensor t = HostTensor::Allocate(dtype, std::move(shape));
  for (size_t i = 0; i < t.nbytes; ++i) t.data[i] = static_cast<std::byte>(i * 37 % 251);
  if (dtype == DType::kInt64) {
    auto* p = reinterpret_cast<int64_t*>(t.data);
    for (size_t i = 0; i < t.numel(); ++i) p[i] = static_cast<int64_t>(i % 50);
  }
  return t;
}

std::string FrameBytes(const transport::Frame& f) {
  const std::string meta = transport::EncodeFrameMeta(f);
  transport::FrameHeader h;
  h.meta_len = static_cast<uint32_t>(meta.size());
  h.payload_len = f.has_tensor ? f.tensor.nbytes : 0;
  std::string out(transport::kFrameHeaderBytes, '\0');
  transport::EncodeFrameHeader(h, reinterpret_cast<uint8_t*>(out.data()));
  out += meta;
  if (f.has_tensor) out.append(reinterpret_cast<const char*>(f.tensor.data), f.tensor.nbytes);
  return out;
}

void Frames() {
  using transport::Frame;
  using transport::FrameKind;
  Frame req;
  req.kind = FrameKind::kRequest;
  req.request_id = 0x1234abcd5678ef01;
  req.deployment = "d";
  req.epoch = 1;
  req.deadline_unix_ms = 1700000000000;
  req.origin = "n1";
  req.has_tensor = true;
  req.tensor = Iota(DType::kInt64, {1, 4});
  Write("fuzz_frame", "request", FrameBytes(req));
  Frame act = req;
  act.kind = FrameKind::kActivation;
  act.layer = 2;
  act.tensor = Iota(DType::kFloat32, {1, 4, 8});
  Write("fuzz_frame", "activation", FrameBytes(act));
  Frame half = act;
  half.tensor = Iota(DType::kFloat16, {2, 3});
  Write("fuzz_frame", "activation_f16", FrameBytes(half));
  Write("fuzz_frame", "result", FrameBytes([&] { Frame r = act; r.kind = FrameKind::kResult; r.tensor = Iota(DType::kInt32, {3}); return r; }()));
  Write("fuzz_frame", "error", FrameBytes(Frame::ErrorFor(req, ResourceExhausted("queue full"), "n2:[2,4)")));
  Frame gen = req;
  gen.kind = FrameKind::kGenerate;
  gen.session_id = 0xfeedface;
  gen.context_tokens = 32;
  gen.has_gen = true;
  gen.gen.max_new_tokens = 8;
  gen.gen.sampling = {0.8, 40, 0.95, 7};
  gen.gen.stop_tokens = {3, 99};
  Write("fuzz_frame", "generate", FrameBytes(gen));
  Frame step = gen;
  step.kind = FrameKind::kStep;
  step.has_gen = false;
  step.position = 5;
  step.tensor = Iota(DType::kFloat32, {1, 1, 8});
  Write("fuzz_frame", "step", FrameBytes(step));
  Frame tok;
  tok.kind = FrameKind::kToken;
  tok.session_id = 0xfeedface;
  tok.token_index = 3;
  tok.token = 42;
  Write("fuzz_frame", "token", FrameBytes(tok));
  Frame done = tok;
  done.kind = FrameKind::kGenDone;
  done.finish_reason = "stop";
  done.prompt_tokens = 4;
  done.ttft_ms = 12.5;
  done.ms_per_token = 3.25;
  Write("fuzz_frame", "gen_done", FrameBytes(done));
  Frame probe;
  probe.kind = FrameKind::kProbe;
  probe.request_id = 9;
  probe.has_tensor = true;
  probe.tensor = Iota(DType::kFloat32, {64});
  Write("fuzz_frame", "probe", FrameBytes(probe));
}

std::string Framed(const v1::AgentToOrchestrator& m) {
  return *net::FrameBody(m.SerializeAsString());
}

orch::CapacityReport Capacity(uint64_t version, bool with_segments) {
  orch::CapacityReport c = fuzz::FuzzNode("n3").capacity;
  c.version = version;
  c.cpu_utilization = 0.25;
  c.speed_factor = 1.5;
  c.egress_mbps = 100;
  c.active_sessions = 1;
  c.kv_bytes = 4096;
  c.kv_budget_bytes = 1 << 20;
  if (with_segments) {
    orch::SegmentReport s;
    s.deployment = "d";
    s.epoch = 1;
    s.model = "gpt";
    s.first_layer = 2;
    s.end_layer = 4;
    s.layer_ms = {1.2, 0.9};
    s.queue_depth = 2;
    s.request_rate = 10;
    s.state = "ready";
    s.downstream_address = "127.0.0.1:9";
    s.requests_total = 100;
    c.segments.push_back(s);
    s.deployment = "old";
    s.epoch = 7;
    s.state = "draining";
    c.segments.push_back(s);
  }
  c.links.push_back({"n1", "127.0.0.1:9", 0.4, 940, ""});
  c.links.push_back({"n2", "127.0.0.1:9", 0, 0, "timed out"});
  return c;
}

void Control() {
  v1::AgentToOrchestrator reg;
  orch::RegisterInfo info = fuzz::FuzzNode("n3");
  info.capacity = Capacity(1, false);
  orch::ToProto(info, reg.mutable_register_());
  Write("fuzz_control", "register", Framed(reg));
  std::string stream = Framed(reg);
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    v1::AgentToOrchestrator hb;
    hb.mutable_heartbeat()->set_seq(seq);
    hb.mutable_heartbeat()->set_sent_unix_ms(1700000000000 + seq * 500);
    orch::ToProto(Capacity(seq + 1, seq > 1), hb.mutable_heartbeat()->mutable_capacity());
    stream += Framed(hb);
  }
  Write("fuzz_control", "register_heartbeats", stream);
  v1::AgentToOrchestrator ack;
  orch::AckInfo a;
  a.command_id = 1;
  a.ok = true;
  a.links = Capacity(1, false).links;
  orch::ToProto(a, ack.mutable_ack());
  v1::AgentToOrchestrator nack;
  orch::AckInfo b;
  b.command_id = 2;
  b.error_code = "resource_exhausted";
  b.error = "no memory for layers [0,2)";
  orch::ToProto(b, nack.mutable_ack());
  Write("fuzz_control", "register_acks", Framed(reg) + Framed(ack) + Framed(nack));
  // An agent reporting under an existing node's name (the impostor of issue 13), then leaving.
  v1::AgentToOrchestrator imp;
  info = fuzz::FuzzNode("n1");
  info.incarnation = 2;
  info.trusted = false;
  orch::ToProto(info, imp.mutable_register_());
  v1::AgentToOrchestrator hb;
  hb.mutable_heartbeat()->set_seq(1);
  orch::ToProto(Capacity(5, true), hb.mutable_heartbeat()->mutable_capacity());
  Write("fuzz_control", "reregister_n1", Framed(imp) + Framed(hb));
}

void Json() {
  // The first byte picks the decoder (fuzz_json.cc).
  const struct { const char* name; char decoder; const char* body; } bodies[] = {
      {"deployment", 0, "{\"name\":\"d2\",\"model\":\"gpt\",\"entry_node\":\"n1\",\"objective\":{\"kind\":\"mixed\","
                     "\"alpha\":0.5,\"beta\":1},\"slo_latency_ms\":40,\"trusted_prefix_layers\":2,\"max_stages\":3,"
                     "\"kv_sessions\":2,\"kv_context_tokens\":32}"},
      {"plan", 1, "{\"model\":\"cnn\",\"objective\":\"period\"}"},
      {"policy", 2, "{\"evaluate_interval_ms\":1000,\"cooldown_ms\":5000}"},
      {"stages", 3, "[{\"node\":\"n1\",\"address\":\"127.0.0.1:9000\",\"first_layer\":0,\"end_layer\":2},"
                 "{\"node\":\"n2\",\"address\":\"[::1]:9000\",\"first_layer\":2,\"end_layer\":4}]"},
      {"tensor_f32", 4, "{\"dtype\":\"float32\",\"shape\":[2,3],\"data\":[0,1.5,-2,3e38,-1e-30,7]}"},
      {"tensor_i64", 4, "{\"dtype\":\"int64\",\"shape\":[3],\"data\":[9223372036854775807,-9223372036854775808,0]}"},
      {"generate", 5, "{\"prompt_tokens\":[1,2,3],\"max_new_tokens\":8,\"temperature\":0.7,\"top_k\":40,"
                   "\"top_p\":0.9,\"seed\":5,\"stop_tokens\":[0],\"stream\":true}"},
  };
  for (const auto& b : bodies) Write("fuzz_json", b.name, std::string(1, b.decoder) + b.body);
  // The policy seed with every key, from the codec itself.
  Write("fuzz_json", "policy_full", std::string("\x02") + boost::json::serialize(orch::PolicyToJson({})));
}

std::string Request(const std::string& line, const std::string& body = "", const std::string& extra = "") {
  std::string r = line + "\nauthorization: Bearer fuzz-token\n" + extra;
  if (!body.empty()) r += "content-type: application/json\n";
  return r + "\n" + body;
}

void Rest() {
  const std::string z(1, '\0');
  Write("fuzz_rest", "reads", Request("GET /v1/nodes") + z + Request("GET /v1/nodes/n1") + z +
                                  Request("GET /v1/models/gpt") + z + Request("GET /v1/deployments/d") + z +
                                  Request("GET /v1/events?since=0&limit=5") + z + Request("GET /v1/policy") + z +
                                  Request("GET /livez") + z + Request("GET /metrics"));
  Write("fuzz_rest", "deploy", Request("POST /v1/deployments", R"({"name":"c","model":"cnn","entry_node":"n2"})") + z +
                                   Request("POST /v1/deployments/c/reevaluate") + z +
                                   Request("PUT /v1/nodes/n2/trust", R"({"trusted":false})") + z +
                                   Request("DELETE /v1/deployments/c"));
  Write("fuzz_rest", "plan_policy", Request("POST /v1/plan", R"({"model":"gpt","objective":{"kind":"latency"}})") + z +
                                        Request("PUT /v1/policy", R"({"cooldown_ms":1000})"));
  Write("fuzz_rest", "infer_json",
        Request("POST /v1/deployments/d/infer?deadline_ms=500", R"({"dtype":"int64","shape":[1,4],"data":[1,2,3,4]})"));
  Write("fuzz_rest", "infer_npy",
        Request("POST /v1/deployments/d/infer", "", "content-type: application/x-npy\naccept: application/x-npy\n") +
            EncodeNpy(Iota(DType::kInt64, {1, 4})));
  Write("fuzz_rest", "generate", Request("POST /v1/deployments/d/generate", R"({"prompt_tokens":[1,2,3],"max_new_tokens":4})") +
                                     z + Request("POST /v1/deployments/d/generate", R"({"prompt_tokens":[5],"stream":true})"));
  Write("fuzz_rest", "unauthenticated", "GET /v1/nodes\nauthorization: Bearer wrong\n\n");
}

void Npy() {
  Write("fuzz_npy", "f32", EncodeNpy(Iota(DType::kFloat32, {2, 3})));
  Write("fuzz_npy", "f16", EncodeNpy(Iota(DType::kFloat16, {4})));
  Write("fuzz_npy", "i64", EncodeNpy(Iota(DType::kInt64, {1, 4})));
  Write("fuzz_npy", "i32_scalar", EncodeNpy(Iota(DType::kInt32, {})));
}

void Manifests() {
  const orch::ModelCatalog catalog = fuzz::FuzzCatalog();
  for (const auto& [name, m] : catalog.models()) {
    Manifest man = m.manifest;
    for (auto& l : man.layers) {
      l.file = l.name + ".pt";
      l.sha256 = std::string(64, 'a');
      l.flops = 1e6;
    }
    Write("fuzz_manifest", name, ManifestToYaml(man));
    if (!man.generation) {
      man.format_version = 1;
      Write("fuzz_manifest", name + "_v1", ManifestToYaml(man));
    }
  }
}

void Instances() {
  for (uint64_t seed = 1; seed <= 4; ++seed)
    Write("fuzz_instance", "tiny_" + std::to_string(seed), planner::PlanningInstanceToYaml(planner::RandomTinyInstance(seed)));
  Write("fuzz_instance", "low_bandwidth",
        planner::PlanningInstanceToYaml(planner::FamilyInstance(planner::Family::kLowBandwidth, 4, 8, 3,
                                                                planner::ObjectiveKind::kMixed)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
    return 2;
  }
  g_root = argv[1];
  Frames();
  Control();
  Json();
  Rest();
  Npy();
  Manifests();
  Instances();
  return 0;
}
