// `edgesplit-bench pipeline [--json] [--requests N] [--inflight K] [--layers 12] [--d-model 512]
//  [--seq 128] [--stages 4]`: a synthetic GPT split into stages served by in-process agents over
// real TCP on loopback (one io thread and one single-threaded compute pool each), against the
// whole model run in this process with the same libtorch thread settings (1 intra-op thread).
// A second chain serves the same cuts with mutual TLS on every hop (client -> entry -> stages
// -> entry), as deployed. Latency samples alternate between the three (same machine load).
// Prints monolithic_ms_p50, split_ms_p50, ratio, tls_split_ms_p50, tls_ratio (TLS split /
// whole) and tls_vs_plain (TLS split / plaintext split), and with K requests in flight
// monolithic_rps, split_rps and tls_split_rps; checks split outputs (both chains) are
// bitwise-equal to the monolithic ones.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "agent/daemon/agent.h"
#include "test/bench/bench_chain.h"
#include "agent/runtime/gpt_synth.h"
#include "agent/runtime/profiler.h"
#include "agent/runtime/segment.h"
#include "agent/runtime/torch_threads.h"
#include "agent/transport/client.h"
#include "common/base/flags.h"
#include "common/base/log.h"
#include "common/base/subcommand.h"
#include "common/model/manifest.h"
#include "test/support/test_pki.h"

namespace edgesplit {
namespace {

using BenchClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double MedianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2);
}
double MsSince(BenchClock::time_point t) { return std::chrono::duration<double, std::milli>(BenchClock::now() - t).count(); }

// Runs `fn(thread_index, request_index)` for `total` requests over `k` threads; returns req/s.
template <typename Fn>
double Throughput(int k, int total, Fn fn) {
  std::atomic<int> next{0};
  auto t0 = BenchClock::now();
  std::vector<std::thread> ts;
  for (int i = 0; i < k; ++i)
    ts.emplace_back([&, i] {
      for (int r; (r = next++) < total;) fn(i, r);
    });
  for (auto& t : ts) t.join();
  return total / (MsSince(t0) / 1e3);
}

int RunPipeline(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"requests", "inflight", "layers", "d-model", "seq", "stages"}, {"json"});
  if (!f.ok()) {
    std::fprintf(stderr, "%s\n", f.status().ToString().c_str());
    return 2;
  }
  const int requests = static_cast<int>(f->GetInt("requests", 30).value());
  const int inflight = static_cast<int>(f->GetInt("inflight", 4).value());
  const int stages = static_cast<int>(f->GetInt("stages", 4).value());
  SetLogLevel(LogLevel::kWarn);
  ConfigureTorch({1, 1});
  GptSynthOptions go;
  go.name = "gpt-bench";
  go.layers = static_cast<int>(f->GetInt("layers", 12).value());
  go.d_model = static_cast<int>(f->GetInt("d-model", 512).value());
  go.heads = 8;
  go.vocab = 1000;
  go.seq = static_cast<int>(f->GetInt("seq", 128).value());
  const std::string root = "/tmp/edgesplit-bench-pipeline-" + std::to_string(getpid());
  const std::string dir = root + "/gpt-bench";
  std::filesystem::create_directories(root);
  Status s = SynthesizeGpt(go, dir);
  if (!s.ok()) {
    std::fprintf(stderr, "synth: %s\n", s.ToString().c_str());
    return 1;
  }
  Manifest m = *LoadManifest(dir);
  const int L = m.num_layers();
  HostTensor input = MakeExampleInput(m, 1, go.vocab);

  // Monolithic.
  auto whole = Segment::Load(dir, m, 0, L);
  if (!whole.ok()) return 1;
  HostTensor ref;
  for (int i = 0; i < 2; ++i) ref = *(*whole)->Run(input, nullptr);
  // Split: `stages` in-process agents with cuts balancing the transformer blocks (layer 0 is the
  // cheap embedding, layer L-1 the final norm + head): 12 blocks in 4 stages = 3 blocks each.
  const std::vector<int> bounds = bench::BlockBalancedBounds(go.layers, stages);
  auto agents = bench::StartChain(root, "gpt-bench", bounds);
  // Same cuts, TLS everywhere: its own agents (with their own certificates) and client.
  const int no_batching = 1;
  const bool with_tls = true;
  const std::string tls_prefix = "tls-stage";
  auto tls_agents = bench::StartChain(root, "gpt-bench", bounds, no_batching, with_tls, tls_prefix);
  if (agents.empty() || tls_agents.empty()) return 1;
  transport::ClientOptions tls_options;
  tls_options.tls = testing::TestPki::Get().Context("bench-client", security::Role::kClient);
  tls_options.expect_node = tls_prefix + "0";

  auto client = transport::DataClient::Connect(agents[0]->data_address());
  auto tls_client = transport::DataClient::Connect(tls_agents[0]->data_address(), tls_options);
  if (!client.ok() || !tls_client.ok()) return 1;
  bool equal = true;
  for (int i = 0; i < 2; ++i) {
    for (auto* c : {&*client, &*tls_client}) {
      auto out = (*c)->Infer("gpt", input);
      if (!out.ok()) {
        std::fprintf(stderr, "infer: %s\n", out.status().ToString().c_str());
        return 1;
      }
      equal = equal && out->SameBytes(ref);
    }
  }
  // Latency: monolithic, split and TLS split samples alternate so all see the same machine load.
  std::vector<double> mono, split, tls_split;
  for (int i = 0; i < requests; ++i) {
    auto t0 = BenchClock::now();
    (void)(*whole)->Run(input, nullptr);
    mono.push_back(MsSince(t0));
    t0 = BenchClock::now();
    auto out = (*client)->Infer("gpt", input);
    split.push_back(MsSince(t0));
    if (!out.ok()) return 1;
    t0 = BenchClock::now();
    auto tls_out = (*tls_client)->Infer("gpt", input);
    tls_split.push_back(MsSince(t0));
    if (!tls_out.ok()) return 1;
  }
  // Throughput with `inflight` requests in flight: two alternating rounds each, averaged.
  std::vector<std::unique_ptr<transport::DataClient>> clients, tls_clients;
  for (int i = 0; i < inflight; ++i) {
    auto c = transport::DataClient::Connect(agents[0]->data_address());
    auto t = transport::DataClient::Connect(tls_agents[0]->data_address(), tls_options);
    if (!c.ok() || !t.ok()) return 1;
    clients.push_back(std::move(*c));
    tls_clients.push_back(std::move(*t));
  }
  std::atomic<int> failures{0}, tls_failures{0};
  double mono_rps = 0, split_rps = 0, tls_rps = 0;
  for (int round = 0; round < 2; ++round) {
    mono_rps += Throughput(inflight, requests, [&](int, int) { (void)(*whole)->Run(input, nullptr); }) / 2;
    split_rps += Throughput(inflight, requests, [&](int t, int) {
      if (!clients[t]->Infer("gpt", input).ok()) failures++;
    }) / 2;
    tls_rps += Throughput(inflight, requests, [&](int t, int) {
      if (!tls_clients[t]->Infer("gpt", input).ok()) tls_failures++;
    }) / 2;
  }
  clients.clear();
  tls_clients.clear();
  client->reset();
  tls_client->reset();
  agents.clear();
  tls_agents.clear();
  std::filesystem::remove_all(root);

  const double mono_p50 = MedianOf(mono), split_p50 = MedianOf(split), tls_p50 = MedianOf(tls_split);
  const std::string cuts = bench::BoundsText(bounds);
  std::printf(
      "{\"bench\": \"pipeline\", \"d_model\": %d, \"layers\": %d, \"seq\": %d, \"stages\": %d, \"requests\": %d, "
      "\"inflight\": %d, \"monolithic_ms_p50\": %.3f, \"split_ms_p50\": %.3f, \"ratio\": %.4f, "
      "\"tls_split_ms_p50\": %.3f, \"tls_ratio\": %.4f, \"tls_vs_plain\": %.4f, \"monolithic_rps\": %.3f, "
      "\"split_rps\": %.3f, \"tls_split_rps\": %.3f, \"split_failures\": %d, \"tls_split_failures\": %d, "
      "\"bitwise_equal\": %s, \"cores\": %u, \"cuts\": \"%s\"}\n",
      go.d_model, go.layers, go.seq, stages, requests, inflight, mono_p50, split_p50, split_p50 / mono_p50, tls_p50,
      tls_p50 / mono_p50, tls_p50 / split_p50, mono_rps, split_rps, tls_rps, failures.load(), tls_failures.load(),
      equal ? "true" : "false", std::thread::hardware_concurrency(), cuts.c_str());
  return 0;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(pipeline, "pipeline", "split GPT on loopback agents vs the whole model in one process", RunPipeline);

}  // namespace edgesplit
