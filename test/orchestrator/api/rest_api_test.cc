#include "orchestrator/api/rest_api.h"

#include <boost/json.hpp>
#include <catch.hpp>

#include "common/model/npy.h"
#include "orchestrator/api/json_codec.h"

using namespace edgesplit;
using namespace edgesplit::orch;

namespace {

CatalogModel Model() {
  CatalogModel m;
  m.name = "gpt";
  m.manifest.name = "gpt";
  m.manifest.input = {DType::kInt64, {1, 4}};
  for (int i = 0; i < 4; ++i) {
    LayerSpec l;
    l.name = "l" + std::to_string(i);
    l.param_bytes = 1000;
    l.output = {DType::kFloat32, {1, 4, 8}};
    m.manifest.layers.push_back(l);
    m.reference_layer_ms.push_back(1.0);
  }
  return m;
}

struct Fixture {
  FakeClock clock;
  std::unique_ptr<Controller> c;
  std::unique_ptr<RestApi> api;
  int infer_calls = 0;
  explicit Fixture(std::string token = "") {
    ModelCatalog cat;
    REQUIRE(cat.Add(Model()).ok());
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
    o.bearer_token = token;
    o.max_json_bytes = 4096;
    api = std::make_unique<RestApi>(
        o, c.get(), &clock,
        [this](const std::string&, HostTensor in, Duration, InferDone done) {
          ++infer_calls;
          done(std::move(in));  // echo
        },
        [] { return std::string("# metrics\n"); }, [] { return true; });
  }
  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body = "",
                    std::map<std::string, std::string> headers = {}, std::map<std::string, std::string> query = {}) {
    HttpRequest r;
    r.method = method;
    r.target = path;
    r.path = path;
    r.body = body;
    r.headers = std::move(headers);
    r.query = std::move(query);
    HttpResponse out;
    bool called = false;
    api->Handle(r, Responder([&](HttpResponse resp) {
                  out = std::move(resp);
                  called = true;
                }));
    REQUIRE(called);
    return out;
  }
  std::string ErrorCode(const HttpResponse& r) {
    auto v = ParseJson(r.body);
    REQUIRE(v.ok());
    return std::string(v->at("error").at("code").as_string());
  }
};

}  // namespace

TEST_CASE("lists nodes and models, creates and inspects a deployment") {
  Fixture f;
  auto r = f.Call("GET", "/v1/nodes");
  CHECK(r.status == 200);
  CHECK(ParseJson(r.body)->at("nodes").as_array().size() == 2);
  CHECK(f.Call("GET", "/v1/models/gpt").status == 200);
  r = f.Call("POST", "/v1/deployments", R"({"name":"d","model":"gpt","entry_node":"n1"})");
  CHECK(r.status == 201);
  r = f.Call("GET", "/v1/deployments/d");
  REQUIRE(r.status == 200);
  auto v = *ParseJson(r.body);
  CHECK(v.at("status").as_string() == "deploying");
  CHECK(v.at("rollout").at("to_epoch").as_int64() == 1);
  CHECK(f.Call("GET", "/v1/deployments").status == 200);
  r = f.Call("GET", "/v1/events", "", {}, {{"deployment", "d"}});
  CHECK(r.status == 200);
  CHECK(!ParseJson(r.body)->at("events").as_array().empty());
  CHECK(f.Call("DELETE", "/v1/deployments/d").status == 200);
  CHECK(f.Call("GET", "/v1/deployments/d").status == 404);
}

TEST_CASE("nodes show the operator's trust, its source and the agent's claim; PUT trust may name an unregistered node") {
  Fixture f;
  auto n1 = *ParseJson(f.Call("GET", "/v1/nodes/n1").body);
  CHECK(n1.at("trusted").as_bool());
  CHECK(n1.at("trust_source").as_string() == "config");
  CHECK(n1.at("claims_trusted").as_bool());
  auto r = f.Call("PUT", "/v1/nodes/n1/trust", R"({"trusted":false})");
  REQUIRE(r.status == 200);
  auto v = *ParseJson(r.body);
  CHECK(!v.at("trusted").as_bool());
  CHECK(v.at("trust_source").as_string() == "api");
  r = f.Call("PUT", "/v1/nodes/later/trust", R"({"trusted":true})");
  REQUIRE(r.status == 200);
  v = *ParseJson(r.body);
  CHECK(v.at("name").as_string() == "later");
  CHECK(v.at("trusted").as_bool());
  CHECK(!v.at("registered").as_bool());
  CHECK(f.c->registry().IsTrusted("later"));
  CHECK(f.Call("GET", "/v1/nodes/later").status == 404);
}

TEST_CASE("bad REST input gets a 4xx JSON error and changes nothing") {
  Fixture f;
  struct Case {
    std::string method, path, body;
    int status;
    std::string code;
  };
  std::vector<Case> cases = {
      {"POST", "/v1/deployments", "{not json", 400, "invalid_argument"},
      {"POST", "/v1/deployments", "", 400, "invalid_argument"},
      {"POST", "/v1/deployments", R"({"name":"d","model":"nope"})", 404, "not_found"},
      {"POST", "/v1/deployments", R"({"name":"d","model":"gpt","extra":1})", 400, "invalid_argument"},
      {"POST", "/v1/deployments", R"([1,2])", 400, "invalid_argument"},
      {"POST", "/v1/deployments", R"({"name":"d","model":"gpt","kv_sessions":"2"})", 400, "invalid_argument"},
      // "gpt" has no generation section: a KV reservation is refused, naming the key.
      {"POST", "/v1/deployments", R"({"name":"d","model":"gpt","kv_sessions":2})", 400, "invalid_argument"},
      {"POST", "/v1/plan", R"({"model":"gpt","kv_context_tokens":64})", 400, "invalid_argument"},
      {"POST", "/v1/deployments", std::string(5000, ' '), 413, "payload_too_large"},
      {"PUT", "/v1/policy", R"({"cooldown_s":-3})", 400, "invalid_argument"},
      {"PUT", "/v1/nodes/n1/trust", R"({"trusted":"yes"})", 400, "invalid_argument"},
      {"PUT", "/v1/nodes/n1/trust", R"({"trusted":true,"why":1})", 400, "invalid_argument"},
      {"POST", "/v1/plan", R"({"model":"gpt","entry_node":"ghost"})", 409, "failed_precondition"},
      {"GET", "/v1/nope", "", 404, "not_found"},
      {"PATCH", "/v1/deployments", "", 405, "method_not_allowed"},
      // Decoded paths need not be UTF-8 (%C2n2, %FF); the errors naming them must still be JSON
      // (found by fuzz_rest), and a node name that is not UTF-8 is no name a trust decision can
      // hold (fuzz_rest: it was stored raw and echoed as invalid JSON).
      {"PUT", "/v1/nodes/\xC2n2/trust", R"({"trusted":true})", 400, "invalid_argument"},
      {"GET", "/v1/\xFF", "", 404, "not_found"},
  };
  const auto policy_before = f.Call("GET", "/v1/policy").body;
  for (const auto& c : cases) {
    INFO(c.method << " " << c.path << " " << c.body.substr(0, 60));
    auto r = f.Call(c.method, c.path, c.body);
    CHECK(r.status == c.status);
    CHECK(f.ErrorCode(r) == c.code);
  }
  CHECK(f.c->deployments().empty());
  CHECK(f.Call("GET", "/v1/policy").body == policy_before);
  CHECK(f.Call("POST", "/v1/deployments", R"({"name":"d","model":"gpt","kv_sessions":2})").body.find(
            "deployment.kv_sessions: model gpt has no generation section") != std::string::npos);
  CHECK(f.api->rejected().at("invalid_argument") >= 5);
}

TEST_CASE("a configured token is required on /v1 but not on probes") {
  Fixture f("s3cret");
  auto r = f.Call("GET", "/v1/nodes");
  CHECK(r.status == 401);
  CHECK(f.ErrorCode(r) == "unauthenticated");
  CHECK(f.Call("GET", "/v1/nodes", "", {{"authorization", "Bearer wrong"}}).status == 401);
  CHECK(f.Call("GET", "/v1/nodes", "", {{"authorization", "Bearer s3cret"}}).status == 200);
  CHECK(f.Call("GET", "/livez").status == 200);
  CHECK(f.Call("GET", "/metrics").status == 200);
}

namespace {
std::string HeaderOf(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}
}  // namespace

TEST_CASE("the live view is served at / as a self-contained page that reads only its own origin") {
  Fixture f;
  auto r = f.Call("GET", "/");
  REQUIRE(r.status == 200);
  CHECK(r.content_type.rfind("text/html", 0) == 0);
  CHECK(r.body.find("/v1/deployments") != std::string::npos);
  CHECK(r.body.find("data-plan") != std::string::npos);
  // Nothing loaded from elsewhere: no external script, style or image reference in the page,
  // and the CSP forbids it anyway.
  CHECK(r.body.find("src=\"http") == std::string::npos);
  CHECK(r.body.find("href=\"http") == std::string::npos);
  CHECK(HeaderOf(r, "Content-Security-Policy").find("connect-src 'self'") != std::string::npos);
  CHECK(f.Call("POST", "/", "{}").status == 405);
}

TEST_CASE("with a token the live view asks browsers for it (Basic) and the API takes it as Basic or Bearer") {
  Fixture f("s3cret");
  auto r = f.Call("GET", "/");
  CHECK(r.status == 401);
  CHECK(HeaderOf(r, "WWW-Authenticate").rfind("Basic realm=", 0) == 0);
  CHECK(f.Call("GET", "/v1/nodes").status == 401);
  // "ops:s3cret" and "ops:wrong" in base64.
  CHECK(f.Call("GET", "/", "", {{"authorization", "Basic b3BzOnMzY3JldA=="}}).status == 200);
  CHECK(f.Call("GET", "/v1/nodes", "", {{"authorization", "Basic b3BzOnMzY3JldA=="}}).status == 200);
  CHECK(f.Call("GET", "/v1/nodes", "", {{"authorization", "Basic b3BzOndyb25n"}}).status == 401);
  CHECK(f.Call("GET", "/", "", {{"authorization", "Bearer s3cret"}}).status == 200);
  // The header check (before any body is read) agrees.
  HttpRequest head;
  head.method = "GET";
  head.path = "/";
  CHECK(f.api->CheckHeaders(head).has_value());
  head.headers["authorization"] = "Basic b3BzOnMzY3JldA==";
  CHECK(!f.api->CheckHeaders(head).has_value());
}

TEST_CASE("inference accepts .npy and JSON tensors and answers in the same form") {
  Fixture f;
  REQUIRE(f.Call("POST", "/v1/deployments", R"({"name":"d","model":"gpt","entry_node":"n1"})").status == 201);
  auto r = f.Call("POST", "/v1/deployments/d/infer", R"({"dtype":"int64","shape":[1,2],"data":[5,6]})");
  REQUIRE(r.status == 200);
  CHECK(ParseJson(r.body)->at("data").as_array().size() == 2);
  HostTensor t = HostTensor::Allocate(DType::kFloat32, {2});
  std::memset(t.data, 0, t.nbytes);
  r = f.Call("POST", "/v1/deployments/d/infer", EncodeNpy(t), {{"content-type", "application/x-npy"}});
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/x-npy");
  CHECK(DecodeNpy(r.body)->SameBytes(t));
  // Bad .npy, bad deadline and unknown deployment never reach the gateway.
  const int before = f.infer_calls;
  CHECK(f.Call("POST", "/v1/deployments/d/infer", "garbage", {{"content-type", "application/x-npy"}}).status == 400);
  for (const char* bad : {"-4", "0", "0.5", "1e3", " 5", "0x10", "5.", "1.2.3", "", "nan", "99999999999"}) {
    INFO("deadline_ms=" << bad);
    auto e = f.Call("POST", "/v1/deployments/d/infer", R"({"dtype":"int64","shape":[1,2],"data":[5,6]})", {},
                    {{"deadline_ms", bad}});
    CHECK(e.status == 400);
    CHECK(e.body.find("deadline_ms must be a number of milliseconds") != std::string::npos);
  }
  // A JSON tensor body above its own (smaller than .npy) limit is refused before parsing.
  std::string big = R"({"dtype":"int64","shape":[1,2],"data":[5,6]})" + std::string((4u << 20) + 1, ' ');
  auto too_big = f.Call("POST", "/v1/deployments/d/infer", big);
  CHECK(too_big.status == 413);
  CHECK(too_big.body.find("application/x-npy") != std::string::npos);
  CHECK(f.Call("POST", "/v1/deployments/x/infer", "{}").status == 404);
  CHECK(f.infer_calls == before);
}

TEST_CASE("plan preview runs the planner without applying") {
  Fixture f;
  auto r = f.Call("POST", "/v1/plan", R"({"model":"gpt","entry_node":"n1","objective":"latency"})");
  REQUIRE(r.status == 200);
  auto v = *ParseJson(r.body);
  CHECK(v.at("status").as_string() != "infeasible");
  CHECK(!v.at("stages").as_array().empty());
  CHECK(f.c->deployments().empty());
  CHECK(f.c->TakeOutbox().empty());
}

TEST_CASE("policy changes are validated and applied") {
  Fixture f;
  auto r = f.Call("PUT", "/v1/policy", R"({"cooldown_s": 12, "hysteresis_fraction": 0.2})");
  REQUIRE(r.status == 200);
  CHECK(f.c->policy().hysteresis_fraction == 0.2);
  CHECK(f.c->policy().cooldown == std::chrono::seconds(12));
}

TEST_CASE("hostile JSON bodies and query values get a 400 naming the problem, not a 500") {
  Fixture f;
  REQUIRE(f.Call("POST", "/v1/deployments", R"({"name":"d","model":"gpt","entry_node":"n1"})").status == 201);
  const int before = f.infer_calls;
  auto message = [&](const HttpResponse& r) {
    return std::string(ParseJson(r.body)->at("error").at("message").as_string());
  };
  // Was: TensorFromJson threw boost::system::system_error out of Handle (the server's catch made it a 500).
  auto r = f.Call("POST", "/v1/deployments/d/infer", R"({"dtype":"int64","shape":[9223372036854775808],"data":[]})");
  CHECK(r.status == 400);
  CHECK(message(r) == "tensor.shape[0]: dimension exceeds the size limit");
  r = f.Call("POST", "/v1/deployments/d/infer", R"({"dtype":"int64","shape":[1],"data":[18446744073709551615]})");
  CHECK(r.status == 400);
  CHECK(message(r) == "tensor.data[0]: out of int64 range");
  CHECK(f.infer_calls == before);
  // Was: silently read as the last value.
  r = f.Call("PUT", "/v1/policy", R"({"cooldown_s":1,"cooldown_s":2})");
  CHECK(r.status == 400);
  CHECK(message(r).find("duplicate key \"cooldown_s\"") != std::string::npos);
  // Was: std::stoull read "-1" as 2^64 - 1 (so no events) and "5abc" as 5.
  for (std::string bad : {"-1", "5abc", " 5", "", "+5", "99999999999999999999"}) {
    INFO("after=" << bad);
    r = f.Call("GET", "/v1/events", "", {}, {{"after", bad}});
    CHECK(r.status == 400);
    CHECK(message(r) == "after: must be a non-negative integer");
  }
  r = f.Call("GET", "/v1/events", "", {}, {{"limit", "-1"}});
  CHECK(r.status == 400);
  CHECK(message(r) == "limit: must be a non-negative integer");
  r = f.Call("GET", "/v1/events", "", {}, {{"after", "0"}, {"limit", "18446744073709551615"}});
  CHECK(r.status == 200);
  CHECK(!ParseJson(r.body)->at("events").as_array().empty());
}
