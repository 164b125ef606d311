// `edgesplitctl generate`: one generation through the orchestrator's REST API
// (POST /v1/deployments/{name}/generate). --stream prints tokens as their events arrive;
// --json prints the final JSON object (with --stream: each token event as a JSON line first).
// Exit codes: 0 ok, 1 server or network error, 2 usage.
#include <cstdio>

#include <boost/json.hpp>

#include "common/base/flags.h"
#include "common/base/subcommand.h"
#include "orchestrator/api/generate_client.h"
#include "orchestrator/ctl/generate_flags.h"

namespace edgesplit {
namespace {

namespace json = boost::json;

int Generate(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args,
                        {"addr", "token", "deployment", "prompt-tokens", "max-new-tokens", "temperature", "top-k",
                         "top-p", "seed", "stop-tokens"},
                        {"stream", "json"});
  if (!f.ok()) return ctl::FlagError(f.status().message());
  if (!f->positional().empty()) return ctl::FlagError("unexpected argument '" + f->positional()[0] + "'");
  if (!f->Has("deployment")) return ctl::FlagError("missing required flag --deployment");
  if (!f->Has("prompt-tokens")) return ctl::FlagError("missing required flag --prompt-tokens (e.g. 5,17,42)");
  auto prompt = ParseTokenList(f->Get("prompt-tokens"), "flag --prompt-tokens");
  if (!prompt.ok()) return ctl::FlagError(prompt.status().message());
  if (prompt->empty()) return ctl::FlagError("flag --prompt-tokens: needs at least one token id");
  json::object body;
  json::array p;
  for (int64_t t : *prompt) p.push_back(t);
  body["prompt_tokens"] = std::move(p);
  if (f->Has("max-new-tokens")) {
    auto n = f->GetInt("max-new-tokens", 16);
    if (!n.ok()) return ctl::FlagError(n.status().message());
    if (*n < 1) return ctl::FlagError("flag --max-new-tokens: must be at least 1");
    body["max_new_tokens"] = *n;
  }
  if (Status s = ctl::AddSamplingFlags(*f, body); !s.ok()) return ctl::FlagError(s.message());
  const bool stream = f->GetBool("stream");
  const bool as_json = f->GetBool("json");
  body["stream"] = stream;

  auto client = ctl::RestClientFromFlags(*f);
  bool printed_token = false;
  auto r = orch::PostGenerate(client, f->Get("deployment"), json::serialize(body),
                              [&](int64_t, int64_t token, const std::string& event) {
                                if (as_json) {
                                  std::printf("%s\n", event.c_str());
                                } else {
                                  std::printf("%s%lld", printed_token ? " " : "", static_cast<long long>(token));
                                  printed_token = true;
                                }
                                std::fflush(stdout);
                              });
  if (printed_token) std::printf("\n");
  if (!r.ok()) return ctl::FlagError(std::string(StatusCodeName(r.status().code())) + ": " + r.status().message(), 1);
  if (as_json) {
    std::printf("%s\n", r->json.c_str());
    return 0;
  }
  if (!stream) {
    std::string text;
    for (int64_t t : r->tokens) text += (text.empty() ? "" : " ") + std::to_string(t);
    std::printf("%s\n", text.c_str());
  }
  std::printf("finish_reason=%s prompt_tokens=%lld tokens=%zu ttft_ms=%.2f ms_per_token=%.2f moves=%d stall_ms_max=%.2f "
              "epoch=%llu\n",
              r->finish_reason.c_str(), static_cast<long long>(r->prompt_tokens), r->tokens.size(), r->ttft_ms,
              r->ms_per_token, r->moves, r->stall_ms_max, static_cast<unsigned long long>(r->epoch));
  return 0;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(rest_generate, "generate", "generate tokens through the REST API (--stream: as they come)", Generate);

}  // namespace edgesplit
