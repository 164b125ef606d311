// The REST API (orchestrator/api/rest_api.cc and rest_generate.cc) on fake requests, without
// I/O: the input is up to 8 HTTP requests separated by NUL bytes, each a request line
// ("POST /v1/deployments"), header lines, a blank line and the body, applied in order to one
// RestApi over a controller with nodes and a deployment (fuzz_cluster.h). Inference echoes its
// input and generation emits a few tokens, both at once. Every request must be answered exactly
// once, with an HTTP status; an answer with 2xx/4xx/5xx JSON must be JSON.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <boost/json.hpp>

#include "common/base/log.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/rest_api.h"
#include "test/fuzz/fuzz_cluster.h"

using namespace edgesplit;
using namespace edgesplit::orch;

namespace {

constexpr int kMaxRequests = 8;
constexpr const char* kToken = "fuzz-token";

void Fail(const std::string& what, const HttpRequest& req) {
  std::fprintf(stderr, "%s: %s %s\n", what.c_str(), req.method.c_str(), req.target.c_str());
  std::abort();
}

// Target -> path and query, as the HTTP server (common/http/http_server.cc) does.
void SplitTarget(HttpRequest* r) {
  std::string raw_path = r->target, raw_query;
  if (auto q = r->target.find('?'); q != std::string::npos) {
    raw_path = r->target.substr(0, q);
    raw_query = r->target.substr(q + 1);
  }
  if (!UrlDecode(raw_path, &r->path, false)) r->path = raw_path;
  size_t pos = 0;
  while (!raw_query.empty()) {
    size_t amp = raw_query.find('&', pos);
    std::string kv = raw_query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    std::string k = kv, v, dk, dv;
    if (auto eq = kv.find('='); eq != std::string::npos) {
      k = kv.substr(0, eq);
      v = kv.substr(eq + 1);
    }
    if (!kv.empty() && UrlDecode(k, &dk, true) && UrlDecode(v, &dv, true)) r->query[dk] = dv;
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
}

// One record: "METHOD TARGET\nname: value\n...\n\nbody". False when there is no request line.
bool ParseRecord(std::string_view rec, HttpRequest* r) {
  size_t eol = rec.find('\n');
  std::string_view line = rec.substr(0, eol);
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return false;
  r->method = std::string(line.substr(0, sp));
  r->target = std::string(line.substr(sp + 1));
  r->remote = "127.0.0.1:1";
  SplitTarget(r);
  rec = eol == std::string_view::npos ? std::string_view() : rec.substr(eol + 1);
  while (!rec.empty()) {
    eol = rec.find('\n');
    line = rec.substr(0, eol);
    rec = eol == std::string_view::npos ? std::string_view() : rec.substr(eol + 1);
    if (line.empty()) break;
    size_t colon = line.find(':');
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = colon == std::string_view::npos ? "" : std::string(line.substr(colon + 1));
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r->headers[name] = value;
  }
  r->body = std::string(rec);
  return true;
}

void Generate(const std::string&, GenerationRequest req, TokenFn on_token, GenerateDone done) {
  const int64_t n = std::min<int64_t>(req.max_new_tokens, 4);
  for (int64_t i = 0; i < n; ++i) {
    if (!on_token(i, (i * 7) % 100)) {
      done(Aborted("cancelled"));
      return;
    }
  }
  GenerationSummary s;
  s.finish_reason = "length";
  s.prompt_tokens = static_cast<int64_t>(req.prompt.size());
  s.tokens = n;
  s.epoch = 1;
  done(s);
}

}  // namespace

// Refused input is the normal case here: keep the product's logs from drowning the fuzzer's
// output and slowing it down.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  SetLogLevel(LogLevel::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzCluster cluster;
  RestApiOptions o;
  o.bearer_token = kToken;
  o.max_json_bytes = 16 << 10;
  o.max_tensor_bytes = 64 << 10;
  o.max_json_tensor_bytes = 16 << 10;
  RestApi api(
      o, cluster.controller.get(), &cluster.clock,
      [](const std::string&, HostTensor in, Duration, InferDone done) { done(std::move(in)); },
      [] { return std::string("# metrics\n"); }, [] { return true; });
  api.SetGenerate(Generate);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  for (int i = 0; i < kMaxRequests && pos <= input.size(); ++i) {
    size_t nul = input.find('\0', pos);
    std::string_view rec = input.substr(pos, nul == std::string_view::npos ? std::string_view::npos : nul - pos);
    pos = nul == std::string_view::npos ? input.size() + 1 : nul + 1;
    HttpRequest req;
    if (!ParseRecord(rec, &req)) continue;
    // As the server does (http_server.cc): the header check first, on the request without its
    // body; a refusal is the answer and the body is never read.
    HttpRequest head = req;
    head.body.clear();
    if (auto refused = api.CheckHeaders(head)) {
      if (refused->status != 401 && refused->status != 413) Fail("header check answered " + std::to_string(refused->status), req);
      if (!ParseJson(refused->body).ok()) Fail("refusal is not JSON: " + refused->body.substr(0, 200), req);
      continue;
    }
    int answers = 0;
    HttpResponse resp;
    std::shared_ptr<StreamWriter> stream;
    api.Handle(req, Responder([&](HttpResponse r) { ++answers, resp = std::move(r); },
                              [&](StreamHead head) {
                                ++answers;
                                resp.status = head.status;
                                stream = std::make_shared<StreamWriter>();
                                return stream;
                              }));
    if (answers != 1) Fail("answered " + std::to_string(answers) + " times", req);
    if (resp.status < 200 || resp.status > 599) Fail("status " + std::to_string(resp.status), req);
    if (stream) {
      (void)stream->Take();
    } else if (resp.content_type == "application/json" && !ParseJson(resp.body).ok()) {
      Fail("answer is not JSON: " + resp.body.substr(0, 200), req);
    }
    cluster.clock.Advance(std::chrono::milliseconds(300));
    cluster.controller->Tick(cluster.clock.Now());
    (void)cluster.controller->TakeOutbox();
  }
  return 0;
}
