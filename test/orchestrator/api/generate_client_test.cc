// PostGenerate against the real RestApi on a real HttpServer (loopback) with a fake GenerateFn
// producing tokens on its own thread, as the gateway does.
#include "orchestrator/api/generate_client.h"

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <catch.hpp>
#include <future>
#include <thread>

#include "common/http/http_server.h"
#include "orchestrator/api/rest_api.h"

using namespace edgesplit;
using namespace edgesplit::orch;
namespace asio = boost::asio;

namespace {

CatalogModel GenModel() {
  CatalogModel m;
  m.name = "gpt";
  m.manifest.name = "gpt";
  m.manifest.input = {DType::kInt64, {1, 4}};
  LayerSpec l;
  l.name = "l0";
  l.param_bytes = 1000;
  l.output = {DType::kFloat32, {1, 4, 8}};
  m.manifest.layers.push_back(l);
  m.reference_layer_ms.push_back(1.0);
  m.manifest.generation = GenerationSpec{64, 1000, "step"};
  return m;
}

struct Site {
  FakeClock clock;
  std::unique_ptr<Controller> c;
  std::unique_ptr<RestApi> api;
  asio::io_context io;
  std::unique_ptr<HttpServer> server;
  std::thread io_thread;
  std::vector<std::thread> producers;
  // The fake: tokens 100, 101, ... up to `count`, then `end` (ok: a summary).
  int64_t count = 4;
  Status end;
  std::promise<int64_t> refused_at;  // set when on_token returned false
  bool endless = false;              // emit until refused

  Site() {
    ModelCatalog cat;
    REQUIRE(cat.Add(GenModel()).ok());
    c = std::make_unique<Controller>(
        [] {
          ControllerOptions o;
          o.registry.trusted_nodes = {"n1", "n2"};  // the operator's choice; agents' claims grant nothing
          return o;
        }(),
        std::move(cat));
    RegisterInfo r;
    r.node = "n1";
    r.data_address = "127.0.0.1:9";
    r.trusted = true;
    REQUIRE(c->OnRegister(r, clock.Now()).ok());
    DeploymentSpec spec;
    spec.name = "d";
    spec.model = "gpt";
    spec.entry_node = "n1";
    REQUIRE(c->CreateDeployment(spec, clock.Now()).ok());
    api = std::make_unique<RestApi>(RestApiOptions{}, c.get(), &clock, InferFn{}, [] { return std::string(); },
                                    [] { return true; });
    api->SetGenerate([this](const std::string&, GenerationRequest req, TokenFn on_token, GenerateDone done) {
      producers.emplace_back([this, req, on_token, done] {
        const int64_t n = endless ? (int64_t{1} << 40) : count;
        for (int64_t i = 0; i < n; ++i) {
          if (!on_token(i, 100 + (i % 800))) {
            refused_at.set_value(i);
            done(Aborted("cancelled"));
            return;
          }
        }
        if (!end.ok()) {
          done(end);
          return;
        }
        GenerationSummary s;
        s.finish_reason = "length";
        s.prompt_tokens = static_cast<int64_t>(req.prompt.size());
        s.tokens = n;
        s.epoch = 1;
        done(s);
      });
    });
    HttpServerOptions o;
    o.stream_limits = {size_t{1} << 22, size_t{1} << 30};  // so only the hang-up can refuse a token
    auto srv = HttpServer::Start(io, o, [this](HttpRequest req, Responder respond) {
      api->Handle(std::move(req), std::move(respond));
    });
    REQUIRE(srv.ok());
    server = std::move(*srv);
    io_thread = std::thread([this] {
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }
  ~Site() {
    for (auto& t : producers) t.join();
    server->Stop();
    io.stop();
    io_thread.join();
  }
  RestClient Client() { return RestClient("127.0.0.1:" + std::to_string(server->port()), ""); }
};

}  // namespace

TEST_CASE("a streamed generation reaches the client token by token, then its summary") {
  Site s;
  auto client = s.Client();
  std::vector<std::pair<int64_t, int64_t>> seen;
  auto r = PostGenerate(client, "d", R"({"prompt_tokens": [1, 2], "stream": true})",
                        [&](int64_t i, int64_t t, const std::string&) { seen.push_back({i, t}); });
  REQUIRE(r.ok());
  CHECK(seen == std::vector<std::pair<int64_t, int64_t>>{{0, 100}, {1, 101}, {2, 102}, {3, 103}});
  CHECK(r->tokens == std::vector<int64_t>{100, 101, 102, 103});
  CHECK(r->finish_reason == "length");
  CHECK(r->prompt_tokens == 2);
  CHECK(boost::json::parse(r->json).at("done").as_bool());
}

TEST_CASE("an unstreamed generation is one JSON reply") {
  Site s;
  auto client = s.Client();
  int events = 0;
  auto r = PostGenerate(client, "d", R"({"prompt_tokens": [1]})", [&](int64_t, int64_t, const std::string&) { ++events; });
  REQUIRE(r.ok());
  CHECK(events == 0);
  CHECK(r->tokens.size() == 4);
}

TEST_CASE("errors come back with the server's code, before or during a stream") {
  Site s;
  auto client = s.Client();
  auto bad = PostGenerate(client, "d", R"({"prompt_tokens": [1000], "stream": true})", {});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("prompt_tokens[0]") != std::string::npos);
  s.end = Unavailable("stage down");
  int tokens = 0;
  auto mid = PostGenerate(client, "d", R"({"prompt_tokens": [1], "stream": true})",
                          [&](int64_t, int64_t, const std::string&) { ++tokens; });
  REQUIRE_FALSE(mid.ok());
  CHECK(tokens == 4);
  CHECK(mid.status().code() == StatusCode::kUnavailable);
  CHECK(mid.status().message() == "stage down");
}

TEST_CASE("a client that hangs up mid-stream cancels the generation") {
  Site s;
  s.endless = true;
  auto client = s.Client();
  int events = 0;
  auto r = client.CallStream("POST", "/v1/deployments/d/generate", R"({"prompt_tokens": [1], "stream": true})",
                             [&](const std::string&) { return ++events < 3; });  // then the client closes
  REQUIRE(r.ok());
  CHECK(events == 3);
  auto refused = s.refused_at.get_future().get();  // the generation learns and stops
  CHECK(refused >= 2);
}
