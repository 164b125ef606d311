// `edgesplit-bench generate [--json] [--rounds N] [--layers 12] [--d-model 512] [--heads 8]
//  [--vocab 32000] [--prompt 128] [--new-tokens 64] [--stages 4] [--sessions 1,4,8]
//  [--dtype bfloat16 [--dtype-rounds N]]`:
// token generation with a KV cache on the synthetic GPT (by default the shape llama.cpp's RPC
// mode was measured on, ../shared/ANCHORS.md), whole model in this process vs `stages`
// in-process agents on loopback (real TCP, one io thread and one single-threaded compute pool
// each, sessions through the entry's data port). Whole and split runs alternate round by round
// (same machine load); figures are medians over rounds. Also: no-cache vs cached ms/token at
// context 256, and aggregate tokens/s of concurrent split sessions. Checks that split tokens
// equal whole-model tokens. With --dtype bfloat16, also the same shape with bf16 weights,
// activations and caches: whole-model ms/token and time to first token of fp32 and bf16
// side by side (rounds alternating), and bf16 split tokens equal to bf16 whole tokens.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "agent/runtime/chain_generator.h"
#include "agent/runtime/gpt_synth.h"
#include "agent/runtime/torch_threads.h"
#include "agent/transport/client.h"
#include "common/base/flags.h"
#include "common/base/log.h"
#include "common/base/subcommand.h"
#include "test/bench/bench_chain.h"

namespace edgesplit {
namespace {

using BenchClock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

GenerationRequest Request(int64_t prompt_len, int64_t new_tokens, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  GenerationRequest r;
  for (int64_t i = 0; i < prompt_len; ++i) r.prompt.push_back(std::uniform_int_distribution<int64_t>(0, vocab - 1)(rng));
  r.max_new_tokens = new_tokens;
  return r;
}

// fp32 vs another dtype on the same shape and seed, whole model in this process, rounds
// alternating so both see the same machine load; plus one split session in that dtype.
std::string CompareDtype(const GptSynthOptions& fp32, const std::string& fp32_dir, DType dtype, int rounds, int64_t prompt,
                         int64_t new_tokens, const std::string& root, const std::vector<int>& bounds) {
  GptSynthOptions o = fp32;
  o.name = fp32.name + "-" + DTypeName(dtype);
  o.dtype = dtype;
  const std::string dir = root + "/" + o.name;
  if (Status s = SynthesizeGpt(o, dir); !s.ok()) {
    std::fprintf(stderr, "synth %s: %s\n", DTypeName(dtype), s.ToString().c_str());
    return "null";
  }
  Manifest m32 = *LoadManifest(fp32_dir), mlow = *LoadManifest(dir);
  auto g32 = ChainGenerator::Load(fp32_dir, m32, {});
  auto glow = ChainGenerator::Load(dir, mlow, {});
  if (!g32.ok() || !glow.ok()) return "null";
  std::vector<double> tpot32, ttft32, tpotlow, ttftlow;
  std::vector<int64_t> low_tokens;
  GenerationRequest first;
  for (int r = -1; r < rounds; ++r) {  // one warm-up round each
    const auto req = Request(prompt, new_tokens, o.vocab, 900 + static_cast<uint32_t>(r + 1));
    auto a = (*g32)->Generate(req, true);
    auto b = (*glow)->Generate(req, true);
    if (!a.ok() || !b.ok()) return "null";
    if (r < 0) {
      first = req;
      low_tokens = b->tokens;
      continue;
    }
    tpot32.push_back(a->MsPerTokenP50());
    ttft32.push_back(a->ttft_ms);
    tpotlow.push_back(b->MsPerTokenP50());
    ttftlow.push_back(b->ttft_ms);
  }
  // Split stays bitwise-equal to whole within a dtype: the tokens of the same request agree.
  bool split_equal = false;
  {
    auto agents = bench::StartChain(root, o.name, bounds);
    if (!agents.empty()) {
      auto client = transport::DataClient::Connect(agents[0]->data_address());
      if (client.ok()) {
        std::vector<int64_t> got;
        auto s = (*client)->Generate("gpt", first, [&](int64_t, int64_t tok) {
          got.push_back(tok);
          return true;
        });
        split_equal = s.ok() && got == low_tokens;
      }
    }
  }
  const double t32 = Median(tpot32), tl = Median(tpotlow), f32 = Median(ttft32), fl = Median(ttftlow);
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "{\"dtype\": \"%s\", \"rounds\": %d, \"float32_ms_per_token_p50\": %.3f, \"%s_ms_per_token_p50\": %.3f, "
                "\"float32_ttft_ms_p50\": %.3f, \"%s_ttft_ms_p50\": %.3f, \"decode_speedup\": %.4f, "
                "\"prefill_speedup\": %.4f, \"split_tokens_equal\": %s}",
                DTypeName(dtype), rounds, t32, DTypeName(dtype), tl, f32, DTypeName(dtype), fl, t32 / tl, f32 / fl,
                split_equal ? "true" : "false");
  return buf;
}

int RunGenerate(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"rounds", "layers", "d-model", "heads", "vocab", "prompt", "new-tokens", "stages", "sessions", "decode-batch",
                         "dtype", "dtype-rounds"},
                        {"json"});
  if (!f.ok()) {
    std::fprintf(stderr, "%s\n", f.status().ToString().c_str());
    return 2;
  }
  const int rounds = static_cast<int>(f->GetInt("rounds", 5).value());
  const int stages = static_cast<int>(f->GetInt("stages", 4).value());
  const int64_t prompt = f->GetInt("prompt", 128).value(), new_tokens = f->GetInt("new-tokens", 64).value();
  auto session_counts = ParseTokenList(f->Get("sessions", "1,4,8"), "--sessions");
  if (!session_counts.ok() || rounds < 1 || stages < 1) {
    std::fprintf(stderr, "bad flags\n");
    return 2;
  }
  SetLogLevel(LogLevel::kWarn);
  ConfigureTorch({1, 1});
  GptSynthOptions go;
  go.name = "gpt-gen-bench";
  go.layers = static_cast<int>(f->GetInt("layers", 12).value());
  go.d_model = static_cast<int>(f->GetInt("d-model", 512).value());
  go.heads = static_cast<int>(f->GetInt("heads", 8).value());
  go.vocab = static_cast<int>(f->GetInt("vocab", 32000).value());
  go.seq = 128;
  go.max_context = static_cast<int>(std::max<int64_t>(512, prompt + new_tokens));
  const std::string root = "/tmp/edgesplit-bench-generate-" + std::to_string(getpid());
  const std::string dir = root + "/" + go.name;
  std::filesystem::create_directories(root);
  if (Status s = SynthesizeGpt(go, dir); !s.ok()) {
    std::fprintf(stderr, "synth: %s\n", s.ToString().c_str());
    return 1;
  }
  Manifest m = *LoadManifest(dir);
  auto whole = ChainGenerator::Load(dir, m, {});
  if (!whole.ok()) return 1;
  const auto bounds = bench::BlockBalancedBounds(go.layers, stages);
  auto agents = bench::StartChain(root, go.name, bounds);
  if (agents.empty()) return 1;
  auto client = transport::DataClient::Connect(agents[0]->data_address());
  if (!client.ok()) return 1;

  // Whole vs split, alternating; one warm-up round of each first.
  std::vector<double> whole_tpot, split_tpot, whole_ttft, split_ttft;
  bool equal = true;
  int failures = 0;
  for (int r = -1; r < rounds; ++r) {
    const auto req = Request(prompt, new_tokens, go.vocab, 100 + static_cast<uint32_t>(r + 1));
    auto w = (*whole)->Generate(req, true);
    if (!w.ok()) return 1;
    std::vector<int64_t> got;
    // The client measures the split run itself (time to first token and token intervals as a
    // client sees them, network included).
    const auto t0 = BenchClock::now();
    auto last = t0;
    double ttft = 0;
    std::vector<double> gaps;
    auto s = (*client)->Generate("gpt", req, [&](int64_t i, int64_t tok) {
      const auto now = BenchClock::now();
      if (i == 0) ttft = std::chrono::duration<double, std::milli>(now - t0).count();
      else gaps.push_back(std::chrono::duration<double, std::milli>(now - last).count());
      last = now;
      got.push_back(tok);
      return true;
    });
    if (!s.ok()) {
      failures++;
      std::fprintf(stderr, "split generate: %s\n", s.status().ToString().c_str());
      continue;
    }
    equal = equal && got == w->tokens;
    if (r < 0) continue;
    whole_tpot.push_back(w->MsPerTokenP50());
    whole_ttft.push_back(w->ttft_ms);
    split_tpot.push_back(Median(gaps));
    split_ttft.push_back(ttft);
  }

  // Cache speedup at context 256: recomputing the whole sequence per token vs the KV cache.
  const int64_t ctx = std::min<int64_t>(256, m.generation->max_context);
  const auto long_req = Request(ctx - 8, 8, go.vocab, 7);
  auto cached = (*whole)->Generate(long_req, true);
  auto nocache = (*whole)->Generate(long_req, false);
  const double cache_speedup = cached.ok() && nocache.ok() ? nocache->MsPerTokenP50() / cached->MsPerTokenP50() : 0;

  // Concurrent split sessions: aggregate tokens/s (decode-dominated: short prompts), first with
  // one step per pass, then on a second deployment whose agents batch decode steps.
  auto sessions_on = [&](const std::string& entry_address) {
  std::string sessions_json;
  for (int64_t k : *session_counts) {
    std::vector<std::unique_ptr<transport::DataClient>> cl;
    for (int64_t i = 0; i < k; ++i) cl.push_back(std::move(transport::DataClient::Connect(entry_address).value()));
    std::atomic<int64_t> tokens{0};
    std::atomic<int> bad{0};
    const auto t0 = BenchClock::now();
    std::vector<std::thread> th;
    for (int64_t i = 0; i < k; ++i)
      th.emplace_back([&, i] {
        auto s = cl[i]->Generate("gpt", Request(16, new_tokens, go.vocab, 500 + static_cast<uint32_t>(i)), [&](int64_t, int64_t) {
          tokens++;
          return true;
        });
        if (!s.ok()) bad++;
      });
    for (auto& t : th) t.join();
    const double secs = std::chrono::duration<double>(BenchClock::now() - t0).count();
    char buf[160];
    std::snprintf(buf, sizeof(buf), "%s{\"concurrent\": %lld, \"tokens_per_s\": %.2f, \"failed\": %d}",
                  sessions_json.empty() ? "" : ", ", static_cast<long long>(k), tokens / secs, bad.load());
    sessions_json += buf;
  }
  return sessions_json;
  };
  const std::string sessions_json = sessions_on(agents[0]->data_address());
  client->reset();
  agents.clear();
  const int decode_batch = static_cast<int>(f->GetInt("decode-batch", 8).value());
  std::string batched_json;
  if (decode_batch > 1) {
    auto batched = bench::StartChain(root, go.name, bounds, decode_batch);
    if (batched.empty()) return 1;
    batched_json = sessions_on(batched[0]->data_address());
  }

  std::string dtype_json = "null";
  if (f->Has("dtype")) {
    auto dt = ParseDType(f->Get("dtype"));
    if (!dt.ok() || *dt == DType::kFloat32) {
      std::fprintf(stderr, "--dtype: bfloat16 (compared with float32)\n");
      return 2;
    }
    const int dtype_rounds = static_cast<int>(f->GetInt("dtype-rounds", rounds).value());
    dtype_json = CompareDtype(go, dir, *dt, std::max(1, dtype_rounds), prompt, new_tokens, root, bounds);
  }
  std::filesystem::remove_all(root);

  const double wt = Median(whole_tpot), st = Median(split_tpot), wf = Median(whole_ttft), sf = Median(split_ttft);
  std::printf(
      "{\"bench\": \"generate\", \"layers\": %d, \"d_model\": %d, \"heads\": %d, \"vocab\": %d, \"prompt\": %lld, "
      "\"new_tokens\": %lld, \"stages\": %d, \"rounds\": %d, \"cuts\": \"%s\", \"whole_ms_per_token_p50\": %.3f, "
      "\"split_ms_per_token_p50\": %.3f, \"decode_ratio\": %.4f, \"whole_ttft_ms_p50\": %.3f, \"split_ttft_ms_p50\": %.3f, "
      "\"ttft_ratio\": %.4f, \"cache_speedup\": %.2f, \"cache_context\": %lld, \"tokens_equal\": %s, \"split_failures\": %d, "
      "\"sessions\": [%s], \"decode_batch_max\": %d, \"sessions_batched\": [%s], \"dtype_compare\": %s, \"cores\": %u}\n",
      go.layers, go.d_model, go.heads, go.vocab, static_cast<long long>(prompt), static_cast<long long>(new_tokens), stages,
      rounds, bench::BoundsText(bounds).c_str(), wt, st, st / wt, wf, sf, sf / wf, cache_speedup, static_cast<long long>(ctx),
      equal ? "true" : "false", failures, sessions_json.c_str(), decode_batch, batched_json.c_str(),
      dtype_json.c_str(), std::thread::hardware_concurrency());
  return 0;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(generate, "generate", "token generation: whole model vs split agents on loopback", RunGenerate);

}  // namespace edgesplit
