// POST /v1/completions and /v1/chat/completions over a fake GenerateFn and a fake tokenizer:
// OpenAI's request fields, reply objects, SSE chunks ending with [DONE] and usage in the last
// one, stop strings, EOS as a stop token, OpenAI-style errors naming the field, and
// GET /v1/models in both shapes.
#include <boost/json.hpp>
#include <catch.hpp>

#include "common/http/sse.h"
#include "common/model/chat_template.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/openai_codec.h"
#include "orchestrator/api/rest_api.h"

using namespace edgesplit;
using namespace edgesplit::orch;
namespace json = boost::json;

namespace {

// One byte per token (id = byte + 3, ASCII only; 1 BOS, 2 EOS); a decode drops one leading
// space, as SentencePiece does.
class ByteTokenizer final : public Tokenizer {
 public:
  Result<std::vector<int64_t>> Encode(std::string_view text) const override {
    std::vector<int64_t> out;
    for (unsigned char c : text) out.push_back(c < 128 ? c + 3 : 0);
    return out;
  }
  Result<std::string> Decode(const std::vector<int64_t>& ids) const override {
    std::string out;
    for (int64_t id : ids) {
      if (id < 0 || id >= vocab_size()) return InvalidArgument("bad id");
      if (id >= 3) out.push_back(static_cast<char>(id - 3));
    }
    if (!out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
  }
  int64_t vocab_size() const override { return 131; }
  int64_t bos_id() const override { return 1; }
  int64_t eos_id() const override { return 2; }
};

std::vector<int64_t> Ids(const std::string& s) {
  std::vector<int64_t> out;
  for (unsigned char c : s) out.push_back(c + 3);
  return out;
}

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
  if (generates) m.manifest.generation = GenerationSpec{64, 140, "step", ""};
  return m;
}

struct Fixture {
  FakeClock clock;
  std::unique_ptr<Controller> c;
  std::unique_ptr<RestApi> api;
  std::vector<int64_t> tokens = Ids(" world");
  std::string finish = "length";
  Status end;  // a failure after the tokens
  int calls = 0;
  int refused = 0;  // tokens the session refused (it cancelled)
  GenerationRequest seen;
  std::shared_ptr<StreamWriter> writer;

  Fixture() {
    ModelCatalog cat;
    REQUIRE(cat.Add(Model("gpt", true)).ok());
    REQUIRE(cat.Add(Model("bare", true)).ok());  // no tokenizer
    REQUIRE(cat.Add(Model("cnn", false)).ok());
    ControllerOptions o;
    o.registry.trusted_nodes = {"n1"};
    c = std::make_unique<Controller>(o, std::move(cat));
    RegisterInfo r;
    r.node = "n1";
    r.data_address = "127.0.0.1:9";
    r.trusted = true;
    REQUIRE(c->OnRegister(r, clock.Now()).ok());
    RestApiOptions ao;
    ao.max_json_bytes = 8192;
    ao.origin_unix_ms = 1700000000000;
    api = std::make_unique<RestApi>(
        ao, c.get(), &clock, [](const std::string&, HostTensor in, Duration, InferDone done) { done(std::move(in)); },
        [] { return std::string(); }, [] { return true; });
    auto tok = std::make_shared<ByteTokenizer>();
    api->SetTokenizers([tok](const CatalogModel& m) -> Result<std::shared_ptr<const Tokenizer>> {
      if (m.name == "gpt") return std::shared_ptr<const Tokenizer>(tok);
      return FailedPrecondition("its package has no tokenizer");
    });
    api->SetGenerate([this](const std::string&, GenerationRequest req, TokenFn on_token, GenerateDone done) {
      ++calls;
      seen = req;
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (!on_token(static_cast<int64_t>(i), tokens[i])) {
          ++refused;
          done(Aborted("cancelled"));
          return;
        }
      }
      if (!end.ok()) {
        done(end);
        return;
      }
      GenerationSummary s;
      s.finish_reason = finish;
      s.prompt_tokens = static_cast<int64_t>(req.prompt.size());
      s.tokens = static_cast<int64_t>(tokens.size());
      done(s);
    });
    for (auto [name, model] : {std::pair{"d", "gpt"}, std::pair{"b", "bare"}, std::pair{"c", "cnn"}})
      REQUIRE(Call("POST", "/v1/deployments",
                   std::string(R"({"name":")") + name + R"(","model":")" + model + R"(","entry_node":"n1"})")
                  .status == 201);
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
  HttpResponse Completion(const std::string& body) { return Call("POST", "/v1/completions", body); }
  HttpResponse Chat(const std::string& body) { return Call("POST", "/v1/chat/completions", body); }

  // The streamed events' data: JSON chunks, and whether the stream ended with [DONE].
  std::vector<json::value> Chunks(bool* done) {
    REQUIRE(writer);
    auto batch = writer->Take();
    CHECK(batch.closed);
    SseParser p;
    std::vector<json::value> out;
    *done = false;
    for (const auto& chunk : batch.chunks) {
      REQUIRE(p.Feed(chunk, [&](const std::string& data) {
        CHECK_FALSE(*done);  // nothing after [DONE]
        if (data == "[DONE]") {
          *done = true;
          return true;
        }
        auto v = ParseJson(data);
        REQUIRE(v.ok());
        out.push_back(*v);
        return true;
      }));
    }
    return out;
  }
};

json::object Error(const HttpResponse& r) {
  auto v = ParseJson(r.body);
  REQUIRE(v.ok());
  return v->at("error").as_object();
}

}  // namespace

TEST_CASE("a completion answers a text_completion object with the text and usage") {
  Fixture f;
  auto r = f.Completion(R"({"model": "d", "prompt": "Hello", "max_tokens": 6, "temperature": 0, "seed": 7})");
  REQUIRE(r.status == 200);
  CHECK_FALSE(f.writer);
  auto v = *ParseJson(r.body);
  CHECK(v.at("object").as_string() == "text_completion");
  CHECK(v.at("id").as_string().starts_with("cmpl-"));
  CHECK(v.at("model").as_string() == "d");
  CHECK(v.at("created").as_int64() == 1700000000);
  const auto& choice = v.at("choices").as_array().at(0);
  CHECK(choice.at("index").as_int64() == 0);
  CHECK(choice.at("text").as_string() == " world");  // the leading space survives streaming decode
  CHECK(choice.at("finish_reason").as_string() == "length");
  CHECK(choice.at("logprobs").is_null());
  CHECK_FALSE(choice.as_object().contains("token_ids"));
  CHECK(v.at("usage").at("prompt_tokens").as_int64() == 6);  // BOS + 5 bytes
  CHECK(v.at("usage").at("completion_tokens").as_int64() == 6);
  CHECK(v.at("usage").at("total_tokens").as_int64() == 12);
  // What the generation got: BOS + the encoded prompt, the sampling fields, EOS as a stop token.
  std::vector<int64_t> want = {1};
  for (int64_t t : Ids("Hello")) want.push_back(t);
  CHECK(f.seen.prompt == want);
  CHECK(f.seen.max_new_tokens == 6);
  CHECK(f.seen.sampling.temperature == 0);
  CHECK(f.seen.sampling.seed == 7);
  CHECK(f.seen.stop_tokens == std::vector<int64_t>{2});
}

TEST_CASE("OpenAI's defaults: temperature 1, 16 tokens for completions, the rest of the context for chat") {
  Fixture f;
  REQUIRE(f.Completion(R"({"model": "d", "prompt": "Hi"})").status == 200);
  CHECK(f.seen.sampling.temperature == 1.0);
  CHECK(f.seen.sampling.top_p == 1.0);
  CHECK(f.seen.max_new_tokens == 16);
  REQUIRE(f.Chat(R"({"model": "d", "messages": [{"role": "user", "content": "Hi"}]})").status == 200);
  CHECK(f.seen.max_new_tokens == 64 - static_cast<int64_t>(f.seen.prompt.size()));
}

TEST_CASE("a prompt given as token ids is used as is, without BOS") {
  Fixture f;
  REQUIRE(f.Completion(R"({"model": "d", "prompt": [5, 6, 7], "max_tokens": 2, "return_token_ids": true,
                           "top_k": 3, "stop_token_ids": [9], "add_bos": false})").status == 200);
  CHECK(f.seen.prompt == std::vector<int64_t>{5, 6, 7});
  CHECK(f.seen.sampling.top_k == 3);
  CHECK(f.seen.stop_tokens == std::vector<int64_t>{9, 2});
  REQUIRE(f.Completion(R"({"model": "d", "prompt": [[5, 6]], "max_tokens": 2})").status == 200);
  CHECK(f.seen.prompt == std::vector<int64_t>{5, 6});
  REQUIRE(f.Completion(R"({"model": "d", "prompt": "ab", "add_bos": false})").status == 200);
  CHECK(f.seen.prompt == Ids("ab"));
}

TEST_CASE("a streamed completion sends text_completion chunks, usage in the last, then [DONE]") {
  Fixture f;
  auto r = f.Completion(R"({"model": "d", "prompt": "Hello", "max_tokens": 6, "stream": true, "return_token_ids": true})");
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/event-stream");
  bool done = false;
  auto chunks = f.Chunks(&done);
  CHECK(done);
  REQUIRE(chunks.size() == f.tokens.size() + 1);  // one per token (ids asked for), then the last
  std::string text;
  std::vector<int64_t> ids;
  std::string id;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    CHECK(c.at("object").as_string() == "text_completion");
    if (i == 0) id = std::string(c.at("id").as_string());
    CHECK(c.at("id").as_string() == id);  // one id for the whole stream
    const auto& choice = c.at("choices").as_array().at(0);
    text += std::string(choice.at("text").as_string());
    for (const auto& t : choice.at("token_ids").as_array()) ids.push_back(t.as_int64());
    const bool last = i + 1 == chunks.size();
    CHECK(choice.at("finish_reason").is_null() != last);
    CHECK(c.as_object().contains("usage") == last);
  }
  CHECK(text == " world");
  CHECK(ids == f.tokens);
  CHECK(chunks.back().at("choices").at(0).at("finish_reason").as_string() == "length");
  CHECK(chunks.back().at("usage").at("completion_tokens").as_int64() == 6);
}

TEST_CASE("a streamed chat sends chat.completion.chunk deltas, the role first") {
  Fixture f;
  f.finish = "stop";  // the entry stopped at EOS
  auto r = f.Chat(R"({"model": "d", "messages": [{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "stream": true, "max_tokens": 8})");
  CHECK(r.status == 200);
  bool done = false;
  auto chunks = f.Chunks(&done);
  CHECK(done);
  REQUIRE(chunks.size() >= 2);
  CHECK(chunks[0].at("choices").at(0).at("delta").at("role").as_string() == "assistant");
  std::string text;
  for (const auto& c : chunks) {
    CHECK(c.at("object").as_string() == "chat.completion.chunk");
    CHECK(c.at("id").as_string().starts_with("chatcmpl-"));
    const auto& delta = c.at("choices").at(0).at("delta").as_object();
    if (delta.contains("content")) text += std::string(delta.at("content").as_string());
  }
  CHECK(text == " world");
  CHECK(chunks.back().at("choices").at(0).at("finish_reason").as_string() == "stop");
  CHECK(chunks.back().at("usage").at("total_tokens").as_int64() ==
        static_cast<int64_t>(f.seen.prompt.size() + f.tokens.size()));
  // The prompt is the documented template, after BOS.
  std::vector<int64_t> want = {1};
  for (int64_t t : Ids("<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n")) want.push_back(t);
  CHECK(f.seen.prompt == want);
}

TEST_CASE("a chat answers one chat.completion object") {
  Fixture f;
  auto r = f.Chat(R"({"model": "d", "messages": [{"role": "user", "content": "Hi"}], "max_completion_tokens": 4,
                      "n": 1, "presence_penalty": 0, "logprobs": false, "user": "u1"})");
  REQUIRE(r.status == 200);
  auto v = *ParseJson(r.body);
  CHECK(v.at("object").as_string() == "chat.completion");
  CHECK(v.at("choices").at(0).at("message").at("role").as_string() == "assistant");
  CHECK(v.at("choices").at(0).at("message").at("content").as_string() == " world");
  CHECK(f.seen.max_new_tokens == 4);
}

TEST_CASE("a stop string ends the generation; the text stops before it") {
  Fixture f;
  f.tokens = Ids(" one. two. three");
  auto r = f.Completion(R"({"model": "d", "prompt": "x", "max_tokens": 30, "stop": [". t", "zz"]})");
  REQUIRE(r.status == 200);
  auto v = *ParseJson(r.body);
  CHECK(v.at("choices").at(0).at("text").as_string() == " one");
  CHECK(v.at("choices").at(0).at("finish_reason").as_string() == "stop");
  CHECK(f.refused == 1);  // the session cancelled the generation at the stop string
  CHECK(v.at("usage").at("completion_tokens").as_int64() == 7);  // " one. t"
  // Streamed: the same text, nothing of the stop string.
  f.Completion(R"({"model": "d", "prompt": "x", "max_tokens": 30, "stop": ". t", "stream": true})");
  bool done = false;
  std::string text;
  for (const auto& c : f.Chunks(&done)) text += std::string(c.at("choices").at(0).at("text").as_string());
  CHECK(done);
  CHECK(text == " one");
}

TEST_CASE("unsupported fields are refused by name, with OpenAI's error object") {
  Fixture f;
  for (auto [body, param] : std::vector<std::pair<std::string, std::string>>{
           {R"({"model": "d", "prompt": "x", "logprobs": 2})", "logprobs"},
           {R"({"model": "d", "prompt": "x", "n": 2})", "n"},
           {R"({"model": "d", "prompt": "x", "echo": true})", "echo"},
           {R"({"model": "d", "prompt": "x", "frequency_penalty": 0.5})", "frequency_penalty"},
           {R"({"model": "d", "prompt": "x", "suffix": "y"})", "suffix"},
           {R"({"model": "d", "prompt": "x", "bogus": 1})", "bogus"},
           {R"({"model": "d", "prompt": "x", "messages": []})", "messages"},
           {R"({"model": "d", "prompt": "x", "temperature": 2.5})", "temperature"},
           {R"({"model": "d", "prompt": "x", "top_p": 0})", "top_p"},
           {R"({"model": "d", "prompt": "x", "max_tokens": 0})", "max_tokens"},
           {R"({"model": "d", "prompt": "x", "stop": ["a", "b", "c", "d", "e"]})", "stop"},
           {R"({"model": "d", "prompt": "x", "stream": "yes"})", "stream"},
           {R"({"model": "d", "prompt": ["a", "b"]})", "prompt"},
           {R"({"model": "d", "prompt": 5})", "prompt"},
           {R"({"prompt": "x"})", "model"}}) {
    auto r = f.Completion(body);
    INFO(body << " -> " << r.body);
    CHECK(r.status == 400);
    auto e = Error(r);
    CHECK(e.at("type").as_string() == "invalid_request_error");
    CHECK(e.at("code").as_string() == "invalid_argument");
    REQUIRE(e.at("param").is_string());
    CHECK(e.at("param").as_string() == param);
    CHECK(std::string(e.at("message").as_string()).rfind(param + ":", 0) == 0);
  }
  for (auto [body, param] : std::vector<std::pair<std::string, std::string>>{
           {R"({"model": "d", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]})", "tools"},
           {R"({"model": "d", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json"}})",
            "response_format"},
           {R"({"model": "d", "messages": [{"role": "tool", "content": "x"}]})", "messages[0].role"},
           {R"({"model": "d", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
            "messages[0].content[0].type"},
           {R"({"model": "d", "messages": []})", "messages"},
           {R"({"model": "d", "prompt": "x"})", "prompt"}}) {
    auto r = f.Chat(body);
    INFO(body << " -> " << r.body);
    CHECK(r.status == 400);
    CHECK(Error(r).at("param").as_string() == param);
  }
  CHECK(f.calls == 0);
}

TEST_CASE("bad text is a 400 naming the problem: invalid UTF-8, empty prompt, beyond the context") {
  Fixture f;
  auto bad = f.Completion("{\"model\": \"d\", \"prompt\": \"ab\xC3\x28\"}");
  CHECK(bad.status == 400);
  CHECK(std::string(Error(bad).at("message").as_string()).find("not valid UTF-8") != std::string::npos);
  CHECK(Error(bad).at("param").is_null());  // the body, not a field
  auto empty = f.Completion(R"({"model": "d", "prompt": ""})");
  CHECK(empty.status == 400);
  CHECK(Error(empty).at("message").as_string() == "prompt: must not be empty");
  CHECK(f.Completion(R"({"model": "d", "prompt": []})").status == 400);
  auto lone = f.Completion(R"({"model": "d", "prompt": "\ud800"})");  // a lone surrogate escape
  CHECK(lone.status == 400);
  const std::string long_prompt(70, 'a');
  auto too_long = f.Completion(R"({"model": "d", "prompt": ")" + long_prompt + R"("})");
  CHECK(too_long.status == 400);
  CHECK(std::string(Error(too_long).at("message").as_string()).find("71 tokens, the model's context is 64") !=
        std::string::npos);
  auto over = f.Completion(R"({"model": "d", "prompt": "abc", "max_tokens": 61})");
  CHECK(over.status == 400);
  CHECK(Error(over).at("param").as_string() == "max_tokens");
  auto oov = f.Completion(R"({"model": "d", "prompt": [1, 140]})");
  CHECK(oov.status == 400);
  CHECK(Error(oov).at("param").as_string() == "prompt[1]");
  CHECK(f.calls == 0);
  // Every refusal is counted by its code.
  CHECK(f.api->rejected().at("invalid_argument") >= 7);
}

TEST_CASE("the model names a deployment that can generate and has a tokenizer") {
  Fixture f;
  auto unknown = f.Completion(R"({"model": "nope", "prompt": "x"})");
  CHECK(unknown.status == 404);
  CHECK(Error(unknown).at("param").as_string() == "model");
  auto bare = f.Completion(R"({"model": "b", "prompt": "x"})");
  CHECK(bare.status == 400);
  CHECK(std::string(Error(bare).at("message").as_string()).find("no usable tokenizer") != std::string::npos);
  auto cnn = f.Completion(R"({"model": "c", "prompt": "x"})");
  CHECK(cnn.status == 400);
  CHECK(std::string(Error(cnn).at("message").as_string()).find("cannot generate") != std::string::npos);
  CHECK(f.Call("GET", "/v1/completions").status == 405);
}

TEST_CASE("an error after the stream started ends it with an error chunk and no [DONE]") {
  Fixture f;
  f.end = Unavailable("stage down");
  f.Completion(R"({"model": "d", "prompt": "x", "stream": true})");
  bool done = false;
  auto chunks = f.Chunks(&done);
  CHECK_FALSE(done);
  REQUIRE_FALSE(chunks.empty());
  CHECK(chunks.back().at("error").at("code").as_string() == "unavailable");
  CHECK(chunks.back().at("error").at("message").as_string() == "stage down");
}

TEST_CASE("GET /v1/models keeps the catalog and adds OpenAI's list of deployments") {
  Fixture f;
  auto r = f.Call("GET", "/v1/models");
  REQUIRE(r.status == 200);
  auto v = *ParseJson(r.body);
  CHECK(v.at("models").as_array().size() == 3);  // our catalog shape, unchanged
  CHECK(v.at("object").as_string() == "list");
  const auto& data = v.at("data").as_array();
  REQUIRE(data.size() == 3);
  std::set<std::string> ids;
  for (const auto& d : data) {
    ids.insert(std::string(d.at("id").as_string()));
    CHECK(d.at("object").as_string() == "model");
    CHECK(d.at("owned_by").as_string() == "edgesplit");
    CHECK(d.at("created").as_int64() == 1700000000);
  }
  CHECK(ids == std::set<std::string>{"b", "c", "d"});
}

TEST_CASE("the chat template renders each message with its role tag, then the assistant's") {
  CHECK(RenderDefaultChat({{"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}}) ==
        "<|system|>\nS\n<|user|>\nU\n<|assistant|>\nA\n<|user|>\nV\n<|assistant|>\n");
}
