// The gateway's generation sessions without agents: admission (the session cap, 429 before
// any work), shutdown, unknown routes and an unreachable entry.
#include <catch.hpp>
#include <future>

#include "orchestrator/daemon/gateway.h"

using namespace edgesplit;
using namespace edgesplit::orch;

namespace {

GenerationRequest Request() {
  GenerationRequest r;
  r.prompt = {1, 2};
  r.max_new_tokens = 4;
  return r;
}

struct Recorder {
  std::mutex mu;
  std::vector<GenerateObservation> seen;
  std::function<void(const GenerateObservation&)> fn() {
    return [this](const GenerateObservation& o) {
      std::lock_guard<std::mutex> l(mu);
      seen.push_back(o);
    };
  }
};

}  // namespace

TEST_CASE("generation sessions beyond max_generate_sessions are refused at once, the queued ones at shutdown") {
  GatewayOptions o;
  o.threads = 2;
  o.max_generate_sessions = 2;
  RouteTable routes;
  Recorder rec;
  Gateway g(o, &routes, {}, rec.fn());  // not started: sessions stay queued
  std::vector<StatusCode> codes;
  auto done = [&](Result<GenerationSummary> r) { codes.push_back(r.status().code()); };
  for (int i = 0; i < 3; ++i) g.SubmitGenerate("d", Request(), [](int64_t, int64_t) { return true; }, done);
  REQUIRE(codes.size() == 1);
  CHECK(codes[0] == StatusCode::kResourceExhausted);
  REQUIRE(rec.seen.size() == 1);
  CHECK(rec.seen[0].outcome == "resource_exhausted");
  CHECK(g.inflight() == 2);
  g.Stop();
  CHECK(codes == std::vector<StatusCode>{StatusCode::kResourceExhausted, StatusCode::kUnavailable,
                                         StatusCode::kUnavailable});
  // Refused after Stop too.
  g.SubmitGenerate("d", Request(), [](int64_t, int64_t) { return true; }, done);
  CHECK(codes.back() == StatusCode::kUnavailable);
}

TEST_CASE("a generation for a deployment without a route fails not_found without tokens") {
  GatewayOptions o;
  o.threads = 1;
  RouteTable routes;
  Recorder rec;
  Gateway g(o, &routes, {}, rec.fn());
  g.Start();
  std::promise<Status> result;
  int tokens = 0;
  g.SubmitGenerate("ghost", Request(), [&](int64_t, int64_t) { return ++tokens > 0; },
                   [&](Result<GenerationSummary> r) { result.set_value(r.status()); });
  Status s = result.get_future().get();
  CHECK(s.code() == StatusCode::kNotFound);
  CHECK(tokens == 0);
  g.Stop();
  REQUIRE(rec.seen.size() == 1);
  CHECK(rec.seen[0].outcome == "not_found");
  CHECK(rec.seen[0].ttft_ms < 0);
}

TEST_CASE("an unreachable entry is retried before the first token, then reported unavailable") {
  GatewayOptions o;
  o.threads = 1;
  o.retry_backoff = std::chrono::milliseconds(5);
  o.generate_start_timeout = std::chrono::milliseconds(50);
  RouteTable routes;
  std::map<std::string, Route> table;
  table["d"] = Route{"n1", "127.0.0.1:1", 1};  // nothing listens on port 1
  routes.Publish(table);
  Recorder rec;
  Gateway g(o, &routes, {}, rec.fn());
  g.Start();
  std::promise<Status> result;
  g.SubmitGenerate("d", Request(), [](int64_t, int64_t) { return true; },
                   [&](Result<GenerationSummary> r) { result.set_value(r.status()); });
  CHECK(result.get_future().get().code() == StatusCode::kUnavailable);
  g.Stop();
  REQUIRE(rec.seen.size() == 1);
  CHECK(rec.seen[0].outcome == "unavailable");
  CHECK(rec.seen[0].attempts >= 1);
  CHECK(rec.seen[0].tokens == 0);
}
