// POST /v1/deployments/{name}/generate over a fake GenerateFn: decoding, validation against
// the model, JSON and streamed (SSE) answers, errors before and during a stream.
#include <boost/json.hpp>
#include <catch.hpp>

#include "common/http/sse.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/rest_api.h"

using namespace edgesplit;
using namespace edgesplit::orch;

namespace {

CatalogModel Model(const std::string& name, bool generates) {
  CatalogModel m;
  m.name = name;
  m.manifest.name = name;
  m.manifest.input = {DType::kInt64, {1, 4}};
  for (int i = 0; i < 2; ++i) {
    LayerSpec l;
    l.name = "l" + std::to_string(i);
    l.param_bytes = 1000;
    l.output = {DType::kFloat32, {1, 4, 8}};
    m.manifest.layers.push_back(l);
    m.reference_layer_ms.push_back(1.0);
  }
  if (generates) m.manifest.generation = GenerationSpec{32, 100, "step"};
  return m;
}

// What the fake generation does: emit `tokens`, then end with `end` (or fail after `fail_after`).
struct Script {
  std::vector<int64_t> tokens = {7, 8, 9};
  Status end;
  int fail_after = -1;  // >= 0: stop after this many tokens with `end`
};

struct Fixture {
  FakeClock clock;
  std::unique_ptr<Controller> c;
  std::unique_ptr<RestApi> api;
  Script script;
  int calls = 0;
  int tokens_refused = 0;
  GenerationRequest seen;
  std::shared_ptr<StreamWriter> writer;  // set when the handler streams
  std::function<void()> before_token;    // runs before each token (e.g. the client hangs up)

  Fixture() {
    ModelCatalog cat;
    REQUIRE(cat.Add(Model("gpt", true)).ok());
    REQUIRE(cat.Add(Model("cnn", false)).ok());
    c = std::make_unique<Controller>(
        [] {
          ControllerOptions o;
          o.registry.trusted_nodes = {"n1", "n2"};  // the operator's choice; agents' claims grant nothing
          return o;
        }(),
        std::move(cat));
    for (std::string n : {"n1", "n2"}) {
      RegisterInfo r;
      r.node = n;
      r.data_address = "127.0.0.1:9";
      r.trusted = true;
      REQUIRE(c->OnRegister(r, clock.Now()).ok());
    }
    RestApiOptions o;
    o.max_json_bytes = 4096;
    api = std::make_unique<RestApi>(
        o, c.get(), &clock, [](const std::string&, HostTensor in, Duration, InferDone done) { done(std::move(in)); },
        [] { return std::string(); }, [] { return true; });
    api->SetGenerate([this](const std::string&, GenerationRequest req, TokenFn on_token, GenerateDone done) {
      ++calls;
      seen = req;
      for (size_t i = 0; i < script.tokens.size(); ++i) {
        if (script.fail_after == static_cast<int>(i)) {
          done(script.end);
          return;
        }
        if (before_token) before_token();
        if (!on_token(static_cast<int64_t>(i), script.tokens[i])) {
          ++tokens_refused;
          done(Aborted("cancelled"));
          return;
        }
      }
      if (!script.end.ok()) {
        done(script.end);
        return;
      }
      GenerationSummary s;
      s.finish_reason = "length";
      s.prompt_tokens = static_cast<int64_t>(req.prompt.size());
      s.tokens = static_cast<int64_t>(script.tokens.size());
      s.ttft_ms = 12.5;
      s.ms_per_token = 3.25;
      s.epoch = 4;
      done(s);
    });
    REQUIRE(Call("POST", "/v1/deployments", R"({"name":"d","model":"gpt","entry_node":"n1"})").status == 201);
    REQUIRE(Call("POST", "/v1/deployments", R"({"name":"c","model":"cnn","entry_node":"n1"})").status == 201);
  }

  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body = "") {
    HttpRequest r;
    r.method = method;
    r.target = path;
    r.path = path;
    r.body = body;
    HttpResponse out;
    bool called = false;
    api->Handle(r, Responder(
                       [&](HttpResponse resp) {
                         out = std::move(resp);
                         called = true;
                       },
                       [&](StreamHead head) {
                         out.status = head.status;
                         out.content_type = head.content_type;
                         called = true;
                         writer = std::make_shared<StreamWriter>();
                         return writer;
                       }));
    REQUIRE(called);
    return out;
  }
  HttpResponse Generate(const std::string& body, const std::string& name = "d") {
    return Call("POST", "/v1/deployments/" + name + "/generate", body);
  }
  // The streamed events' data, parsed.
  std::vector<boost::json::value> Events() {
    REQUIRE(writer);
    auto batch = writer->Take();
    CHECK(batch.closed);
    SseParser p;
    std::vector<boost::json::value> out;
    for (const auto& chunk : batch.chunks) {
      REQUIRE(p.Feed(chunk, [&](const std::string& data) {
        auto v = ParseJson(data);
        REQUIRE(v.ok());
        out.push_back(*v);
        return true;
      }));
    }
    return out;
  }
};

std::string Message(const HttpResponse& r) {
  auto v = ParseJson(r.body);
  REQUIRE(v.ok());
  return std::string(v->at("error").at("message").as_string());
}
std::string Code(const HttpResponse& r) {
  auto v = ParseJson(r.body);
  REQUIRE(v.ok());
  return std::string(v->at("error").at("code").as_string());
}

}  // namespace

TEST_CASE("a generation answers one JSON object with the tokens and the entry's summary") {
  Fixture f;
  auto r = f.Generate(R"({"prompt_tokens": [5, 17, 42]})");
  REQUIRE(r.status == 200);
  CHECK_FALSE(f.writer);
  auto v = *ParseJson(r.body);
  CHECK(boost::json::serialize(v.at("tokens")) == "[7,8,9]");
  CHECK(v.at("finish_reason").as_string() == "length");
  CHECK(v.at("prompt_tokens").as_int64() == 3);
  CHECK(v.at("ttft_ms").as_double() == 12.5);
  CHECK(v.at("ms_per_token").as_double() == 3.25);
  CHECK(v.at("epoch").to_number<uint64_t>() == 4);
  // Defaults for everything but prompt_tokens.
  CHECK(f.seen.prompt == std::vector<int64_t>{5, 17, 42});
  CHECK(f.seen.max_new_tokens == 16);
  CHECK(f.seen.sampling.temperature == 0);
  CHECK(f.seen.sampling.top_k == 0);
  CHECK(f.seen.sampling.top_p == 1);
  CHECK(f.seen.sampling.seed == 0);
  CHECK(f.seen.stop_tokens.empty());
}

TEST_CASE("every request field reaches the generation") {
  Fixture f;
  auto r = f.Generate(R"({"prompt_tokens": [1], "max_new_tokens": 8, "temperature": 0.7, "top_k": 5,
                          "top_p": 0.9, "seed": 18446744073709551615, "stop_tokens": [3, 4], "stream": false})");
  REQUIRE(r.status == 200);
  CHECK(f.seen.max_new_tokens == 8);
  CHECK(f.seen.sampling.temperature == 0.7);
  CHECK(f.seen.sampling.top_k == 5);
  CHECK(f.seen.sampling.top_p == 0.9);
  CHECK(f.seen.sampling.seed == UINT64_MAX);
  CHECK(f.seen.stop_tokens == std::vector<int64_t>{3, 4});
}

TEST_CASE("a streamed generation sends one event per token, then the done event") {
  Fixture f;
  auto r = f.Generate(R"({"prompt_tokens": [5, 17], "stream": true})");
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/event-stream");
  auto ev = f.Events();
  REQUIRE(ev.size() == 4);
  for (int i = 0; i < 3; ++i) {
    CHECK(ev[i].at("index").as_int64() == i);
    CHECK(ev[i].at("token").as_int64() == 7 + i);
  }
  CHECK(ev[3].at("done").as_bool());
  CHECK(boost::json::serialize(ev[3].at("tokens")) == "[7,8,9]");
  CHECK(ev[3].at("finish_reason").as_string() == "length");
  CHECK(ev[3].at("prompt_tokens").as_int64() == 2);
  CHECK(ev[3].at("epoch").to_number<uint64_t>() == 4);
}

TEST_CASE("an error before the first token is a plain JSON error with its HTTP status") {
  Fixture f;
  f.script.end = ResourceExhausted("too many sessions");
  f.script.fail_after = 0;
  auto r = f.Generate(R"({"prompt_tokens": [5], "stream": true})");
  CHECK(r.status == 429);
  CHECK(Code(r) == "resource_exhausted");
  CHECK_FALSE(f.writer);  // no stream was started
}

TEST_CASE("an error mid-stream is an error event that ends the stream") {
  Fixture f;
  f.script.end = Unavailable("stage down");
  f.script.fail_after = 2;
  f.Generate(R"({"prompt_tokens": [5], "stream": true})");
  auto ev = f.Events();
  REQUIRE(ev.size() == 3);
  CHECK(ev[1].at("token").as_int64() == 8);
  CHECK(ev[2].at("error").at("code").as_string() == "unavailable");
  CHECK(ev[2].at("error").at("message").as_string() == "stage down");
}

TEST_CASE("a streaming client that goes away cancels the generation") {
  Fixture f;
  int n = 0;
  f.before_token = [&] {
    if (++n == 2) f.writer->MarkGone();  // hung up after the first token
  };
  f.Generate(R"({"prompt_tokens": [5], "stream": true})");
  CHECK(f.tokens_refused == 1);
  CHECK(n == 2);  // no token after the refusal
}

TEST_CASE("bad generate input is a 400 naming the field and never reaches the gateway") {
  Fixture f;
  struct Case {
    std::string body, needle;
  };
  const std::vector<Case> cases = {
      {R"({})", "prompt_tokens: required"},
      {R"([1, 2])", "body must be a JSON object"},
      {R"({"prompt_tokens": "5,17"})", "prompt_tokens: must be an array"},
      {R"({"prompt_tokens": []})", "prompt_tokens: must not be empty"},
      {R"({"prompt_tokens": [1, 2.5]})", "prompt_tokens[1]: must be an integer"},
      {R"({"prompt_tokens": [1, -3]})", "prompt_tokens[1]: must be a non-negative integer"},
      {R"({"prompt_tokens": [1, "2"]})", "prompt_tokens[1]: must be a non-negative integer"},
      {R"({"prompt_tokens": [1, 18446744073709551615]})", "prompt_tokens[1]: must be at most"},
      {R"({"prompt_tokens": [1, 100]})", "prompt_tokens[1]: token 100 is outside the vocabulary"},
      {R"({"prompt_tokens": [1], "max_new_tokens": -1})", "max_new_tokens: must be a non-negative integer"},
      {R"({"prompt_tokens": [1], "max_new_tokens": 1.5})", "max_new_tokens: must be an integer"},
      {R"({"prompt_tokens": [1], "max_new_tokens": "3"})", "max_new_tokens: must be a non-negative integer"},
      {R"({"prompt_tokens": [1], "max_new_tokens": 0})", "max_new_tokens: must be at least 1"},
      {R"({"prompt_tokens": [1], "max_new_tokens": 32})", "max_new_tokens: prompt (1) + max_new_tokens (32) exceeds"},
      {R"({"prompt_tokens": [1], "temperature": -0.5})", "temperature: must be non-negative"},
      {R"({"prompt_tokens": [1], "temperature": "hot"})", "temperature: must be a number"},
      {R"({"prompt_tokens": [1], "temperature": 1e400})", "temperature"},
      {R"({"prompt_tokens": [1], "temperature": null})", "temperature: must be a number"},
      {R"({"prompt_tokens": [1], "top_k": -1})", "top_k: must be a non-negative integer"},
      {R"({"prompt_tokens": [1], "top_k": 2.5})", "top_k: must be an integer"},
      {R"({"prompt_tokens": [1], "top_p": -1})", "top_p: must be non-negative"},
      {R"({"prompt_tokens": [1], "top_p": 0})", "top_p"},
      {R"({"prompt_tokens": [1], "top_p": 1.5})", "top_p"},
      {R"({"prompt_tokens": [1], "seed": -1})", "seed: must be a non-negative integer"},
      {R"({"prompt_tokens": [1], "seed": 0.5})", "seed: must be an integer"},
      {R"({"prompt_tokens": [1], "stop_tokens": 3})", "stop_tokens: must be an array"},
      {R"({"prompt_tokens": [1], "stop_tokens": [-1]})", "stop_tokens[0]: must be a non-negative integer"},
      {R"({"prompt_tokens": [1], "stop_tokens": [100]})", "stop_tokens[0]: token 100 is outside the vocabulary"},
      {R"({"prompt_tokens": [1], "stream": "yes"})", "stream: must be a boolean"},
      {R"({"prompt_tokens": [1], "streaming": true})", "generate: unknown key \"streaming\""},
      {R"({"prompt_tokens": [1], "prompt_tokens": [2]})", "duplicate key \"prompt_tokens\""},
      {R"({"prompt_tokens": [1)", "malformed JSON"},
      {"", "request body is empty"},
  };
  const uint64_t rejected_before = f.api->rejected().count("invalid_argument") ? f.api->rejected().at("invalid_argument") : 0;
  for (const auto& c : cases) {
    INFO(c.body);
    auto r = f.Generate(c.body);
    CHECK(r.status == 400);
    CHECK(Code(r) == "invalid_argument");
    CHECK(Message(r).find(c.needle) != std::string::npos);
  }
  CHECK(f.calls == 0);
  CHECK(f.api->rejected().at("invalid_argument") == rejected_before + cases.size());
}

TEST_CASE("generate refuses unknown deployments, models that cannot generate and oversized bodies") {
  Fixture f;
  auto r = f.Generate(R"({"prompt_tokens": [1]})", "ghost");
  CHECK(r.status == 404);
  CHECK(Code(r) == "not_found");
  r = f.Generate(R"({"prompt_tokens": [1]})", "c");
  CHECK(r.status == 400);
  CHECK(Code(r) == "failed_precondition");
  CHECK(Message(r).find("cannot generate") != std::string::npos);
  r = f.Generate(R"({"prompt_tokens": [1]})" + std::string(5000, ' '));
  CHECK(r.status == 413);
  CHECK(f.Call("GET", "/v1/deployments/d/generate").status == 405);
  CHECK(f.calls == 0);
  CHECK(f.api->rejected().at("failed_precondition") == 1);
}
