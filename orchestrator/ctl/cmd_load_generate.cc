// The generation mode of `edgesplitctl load` (see load_generate.h); registered by cmd_load.cc.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "agent/transport/client.h"
#include "orchestrator/api/generate_client.h"
#include "orchestrator/ctl/client_tls.h"
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
  int worker = 0;
  std::vector<int64_t> prompt;
  int64_t start_unix_ms = 0, end_unix_ms = 0;
  bool ok = false;
  std::string error;
  int64_t tokens = 0;
  double ttft_ms = -1;
  std::vector<double> gaps_ms;
  std::vector<int64_t> ids, arrival_unix_ms;
  bool indices_ok = true;
  int moves = 0;
  double stall_ms_max = 0;
  uint64_t epoch = 0;
};

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json::object SessionJson(const Session& s, uint64_t seed) {
  json::array prompt, ids, at;
  for (int64_t t : s.prompt) prompt.push_back(t);
  for (int64_t t : s.ids) ids.push_back(t);
  for (int64_t t : s.arrival_unix_ms) at.push_back(t);
  return {{"worker", s.worker}, {"prompt", std::move(prompt)}, {"seed", seed}, {"start_unix_ms", s.start_unix_ms},
          {"end_unix_ms", s.end_unix_ms}, {"ok", s.ok}, {"error", s.error}, {"tokens", std::move(ids)},
          {"arrival_unix_ms", std::move(at)}, {"indices_ok", s.indices_ok}, {"moves", s.moves},
          {"stall_ms_max", s.stall_ms_max}, {"epoch", s.epoch}};
}

// The sampling flags as the data plane's request (the same body the gateway would parse).
GenerationRequest RequestOf(const json::object& body) {
  GenerationRequest r;
  for (const auto& t : body.at("prompt_tokens").as_array()) r.prompt.push_back(t.to_number<int64_t>());
  r.max_new_tokens = body.at("max_new_tokens").to_number<int64_t>();
  if (auto* x = body.if_contains("temperature")) r.sampling.temperature = x->to_number<double>();
  if (auto* x = body.if_contains("top_k")) r.sampling.top_k = x->to_number<int64_t>();
  if (auto* x = body.if_contains("top_p")) r.sampling.top_p = x->to_number<double>();
  if (auto* x = body.if_contains("seed")) r.sampling.seed = x->to_number<uint64_t>();
  return r;
}

}  // namespace

std::string ResolveEntry(orch::RestClient& rest, const std::string& deployment) {
  auto r = rest.Call("GET", "/v1/deployments/" + deployment);
  if (!r.ok() || r->status != 200) return "";
  boost::system::error_code ec;
  auto v = json::parse(r->body, ec);
  if (ec || !v.is_object()) return "";
  const auto* stages = v.as_object().if_contains("stages");
  if (!stages || !stages->is_array() || stages->as_array().empty()) return "";
  const auto* a = stages->as_array()[0].as_object().if_contains("address");
  return a && a->is_string() ? std::string(a->as_string()) : "";
}

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
  const std::string via = f.Get("via", "gateway");
  if (via != "gateway" && via != "entry") return FlagError("flag --via: gateway or entry");
  json::object sampling;
  if (Status s = AddSamplingFlags(f, sampling); !s.ok()) return FlagError(s.message());
  auto tls = ClientTls(f);
  if (!tls.ok()) return FlagError(tls.status().message());
  const std::string deployment = f.Get("deployment");
  const std::string stop_file = f.Get("stop-file");
  auto probe = RestClientFromFlags(f);
  auto vocab = Vocab(probe, deployment);
  if (!vocab.ok()) return FlagError(std::string(StatusCodeName(vocab.status().code())) + ": " + vocab.status().message(), 1);
  std::FILE* log = nullptr;
  if (f.Has("streams-log")) {
    log = std::fopen(f.Get("streams-log").c_str(), "w");
    if (!log) return FlagError("flag --streams-log: cannot write " + f.Get("streams-log"));
  }

  std::mutex mu;
  std::vector<Session> sessions;
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int64_t w = 0; w < *n; ++w) {
    threads.emplace_back([&, w] {
      json::array prompt;
      for (int64_t j = 0; j < *prompt_len; ++j) prompt.push_back((w * 131 + j * 17 + 1) % *vocab);
      json::object body = sampling;
      body["prompt_tokens"] = prompt;
      body["max_new_tokens"] = *new_tokens;
      body["seed"] = static_cast<uint64_t>(w);
      body["stream"] = true;
      auto rest = RestClientFromFlags(f);
      std::unique_ptr<transport::DataClient> entry;
      do {
        Session out;
        out.worker = static_cast<int>(w);
        for (const auto& t : prompt) out.prompt.push_back(t.as_int64());
        out.start_unix_ms = UnixMs();
        const auto start = Clock::now();
        auto last = start;
        auto on_token = [&](int64_t index, int64_t token) {
          const auto now = Clock::now();
          if (out.tokens == 0) out.ttft_ms = Ms(now - start);
          else out.gaps_ms.push_back(Ms(now - last));
          if (index != out.tokens) out.indices_ok = false;
          last = now;
          ++out.tokens;
          out.ids.push_back(token);
          out.arrival_unix_ms.push_back(UnixMs());
        };
        if (via == "gateway") {
          auto r = orch::PostGenerate(rest, deployment, json::serialize(body),
                                      [&](int64_t i, int64_t t, const std::string&) { on_token(i, t); });
          out.ok = r.ok();
          if (r.ok()) out.moves = r->moves, out.stall_ms_max = r->stall_ms_max, out.epoch = r->epoch;
          else out.error = StatusCodeName(r.status().code()) + std::string(": ") + r.status().message();
        } else {
          if (!entry) {
            transport::ClientOptions o;
            o.connect_timeout = std::chrono::seconds(2);
            o.request_timeout = std::chrono::seconds(30);  // per frame: a stream may stall through a fault
            o.tls = *tls;
            auto c = transport::DataClient::Connect(ResolveEntry(rest, deployment), o);
            if (c.ok()) entry = std::move(*c);
            else out.error = StatusCodeName(c.status().code()) + std::string(": ") + c.status().message();
          }
          if (entry) {
            auto r = entry->Generate(deployment, RequestOf(body), [&](int64_t i, int64_t t) {
              on_token(i, t);
              return true;
            });
            out.ok = r.ok();
            if (r.ok()) out.moves = r->moves, out.stall_ms_max = r->stall_ms_max, out.epoch = r->epoch;
            else out.error = StatusCodeName(r.status().code()) + std::string(": ") + r.status().message(), entry.reset();
          }
        }
        out.end_unix_ms = UnixMs();
        std::lock_guard<std::mutex> l(mu);
        if (log) {
          std::fprintf(log, "%s\n", json::serialize(SessionJson(out, static_cast<uint64_t>(w))).c_str());
          std::fflush(log);
        }
        sessions.push_back(std::move(out));
      } while (!stop_file.empty() && !std::ifstream(stop_file).good());
    });
  }
  for (auto& t : threads) t.join();
  if (log) std::fclose(log);
  const double wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const int64_t total = static_cast<int64_t>(sessions.size());

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
      ++errors[s.error.substr(0, s.error.find(':'))];
    }
  }
  json::object errs;
  for (const auto& [k, v] : errors) errs[k] = v;
  const double tps = wall_s > 0 ? static_cast<double>(tokens) / wall_s : 0;
  json::object report{{"deployment", deployment},
                      {"mode", "generate"},
                      {"via", via},
                      {"sessions", total},
                      {"sessions_ok", ok},
                      {"sessions_failed", total - ok},
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
                static_cast<long long>(total), ok, static_cast<long long>(total - ok), static_cast<long long>(tokens), wall_s,
                tps, P50(ttft), P50(gaps));
  }
  return ok == total ? 0 : 1;
}

}  // namespace edgesplit::ctl
