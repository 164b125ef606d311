// The generation mode of `edgesplitctl load` (see load_generate.h); registered by cmd_load.cc.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "orchestrator/api/generate_client.h"
#include "orchestrator/ctl/generate_flags.h"
#include "orchestrator/ctl/load_generate.h"

namespace edgesplit::ctl {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double P50(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The model's vocabulary via GET /v1/deployments/{name} and GET /v1/models/{model}.
Result<int64_t> Vocab(orch::RestClient& c, const std::string& deployment) {
  auto get = [&](const std::string& target) -> Result<json::value> {
    auto r = c.Call("GET", target);
    if (!r.ok()) return r.status();
    if (r->status != 200) return Unavailable(target + ": HTTP " + std::to_string(r->status) + ": " + orch::ErrorMessageOf(*r));
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (ec || !v.is_object()) return Internal(target + ": malformed reply");
    return v;
  };
  ES_ASSIGN_OR_RETURN(json::value d, get("/v1/deployments/" + deployment));
  const auto* model = d.as_object().if_contains("model");
  if (!model || !model->is_string()) return Internal("deployment " + deployment + " names no model");
  ES_ASSIGN_OR_RETURN(json::value m, get("/v1/models/" + std::string(model->as_string())));
  const auto* gen = m.as_object().if_contains("generation");
  if (!gen || !gen->is_object() || !gen->as_object().if_contains("vocab"))
    return FailedPrecondition("model " + std::string(model->as_string()) + " of deployment " + deployment +
                              " cannot generate");
  const auto& vocab = gen->as_object().at("vocab");
  if (!vocab.is_int64() || vocab.as_int64() < 1) return Internal("model reports no usable vocab");
  return vocab.as_int64();
}

struct Session {
  bool ok = false;
  std::string error;
  int64_t tokens = 0;
  double ttft_ms = -1;
  std::vector<double> gaps_ms;
};

}  // namespace

int LoadGenerate(const Flags& f) {
  if (!f.Has("deployment")) return FlagError("missing required flag --deployment");
  if (f.Has("input")) return FlagError("--input is for inference load; --generate-sessions sends token prompts");
  auto n = f.GetInt("generate-sessions", 1);
  if (!n.ok()) return FlagError(n.status().message());
  auto prompt_len = f.GetInt("prompt-len", 8);
  if (!prompt_len.ok()) return FlagError(prompt_len.status().message());
  auto new_tokens = f.GetInt("new-tokens", 16);
  if (!new_tokens.ok()) return FlagError(new_tokens.status().message());
  if (*n < 1 || *n > 256) return FlagError("flag --generate-sessions: must be in [1, 256]");
  if (*prompt_len < 1 || *prompt_len > (1 << 20)) return FlagError("flag --prompt-len: must be at least 1");
  if (*new_tokens < 1 || *new_tokens > (1 << 20)) return FlagError("flag --new-tokens: must be at least 1");
  const std::string deployment = f.Get("deployment");
  auto probe = RestClientFromFlags(f);
  auto vocab = Vocab(probe, deployment);
  if (!vocab.ok()) return FlagError(std::string(StatusCodeName(vocab.status().code())) + ": " + vocab.status().message(), 1);

  std::vector<Session> sessions(static_cast<size_t>(*n));
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int64_t s = 0; s < *n; ++s) {
    threads.emplace_back([&, s] {
      Session& out = sessions[static_cast<size_t>(s)];
      json::array prompt;
      for (int64_t j = 0; j < *prompt_len; ++j) prompt.push_back((s * 131 + j * 17 + 1) % *vocab);
      json::object body{{"prompt_tokens", std::move(prompt)}, {"max_new_tokens", *new_tokens},
                        {"seed", static_cast<uint64_t>(s)}, {"stream", true}};
      auto client = RestClientFromFlags(f);
      const auto start = Clock::now();
      auto last = start;
      auto r = orch::PostGenerate(client, deployment, json::serialize(body), [&](int64_t, int64_t, const std::string&) {
        const auto now = Clock::now();
        if (out.tokens == 0) {
          out.ttft_ms = Ms(now - start);
        } else {
          out.gaps_ms.push_back(Ms(now - last));
        }
        last = now;
        ++out.tokens;
      });
      out.ok = r.ok();
      if (!r.ok()) out.error = StatusCodeName(r.status().code());
    });
  }
  for (auto& t : threads) t.join();
  const double wall_s = std::chrono::duration<double>(Clock::now() - t0).count();

  int ok = 0;
  int64_t tokens = 0;
  std::vector<double> ttft, gaps;
  std::map<std::string, int> errors;
  for (const auto& s : sessions) {
    tokens += s.tokens;
    gaps.insert(gaps.end(), s.gaps_ms.begin(), s.gaps_ms.end());
    if (s.ok) {
      ++ok;
      if (s.ttft_ms >= 0) ttft.push_back(s.ttft_ms);
    } else {
      ++errors[s.error];
    }
  }
  json::object errs;
  for (const auto& [k, v] : errors) errs[k] = v;
  const double tps = wall_s > 0 ? static_cast<double>(tokens) / wall_s : 0;
  json::object report{{"deployment", deployment},
                      {"mode", "generate"},
                      {"sessions", *n},
                      {"sessions_ok", ok},
                      {"sessions_failed", *n - ok},
                      {"tokens", tokens},
                      {"duration_s", wall_s},
                      {"tokens_per_s", tps},
                      {"ttft_p50_ms", P50(ttft)},
                      {"inter_token_p50_ms", P50(gaps)},
                      {"errors", errs}};
  if (f.GetBool("json")) {
    std::printf("%s\n", json::serialize(report).c_str());
  } else {
    std::printf("%lld sessions, %d ok, %lld failed, %lld tokens in %.2f s (%.1f tokens/s), ttft p50 %.2f ms, "
                "inter-token p50 %.2f ms\n",
                static_cast<long long>(*n), ok, static_cast<long long>(*n - ok), static_cast<long long>(tokens), wall_s,
                tps, P50(ttft), P50(gaps));
  }
  return ok == *n ? 0 : 1;
}

}  // namespace edgesplit::ctl
