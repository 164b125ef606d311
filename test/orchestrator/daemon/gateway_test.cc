// The gateway's inference path without agents: a route on hold (no entry address, e.g. after a
// trust revocation until the new epoch commits) sends nothing and makes the request wait; at its
// deadline the request fails naming why.
#include "orchestrator/daemon/gateway.h"

#include <catch.hpp>
#include <future>

using namespace edgesplit;
using namespace edgesplit::orch;

TEST_CASE("a request on a route on hold waits for an entry and fails at its deadline naming the hold") {
  GatewayOptions o;
  o.threads = 1;
  o.retry_backoff = std::chrono::milliseconds(5);
  RouteTable routes;
  Route held;
  held.entry_node = "";
  held.unavailable_reason = "deployment d epoch 3 is on hold: entry node n1 is not trusted by the operator";
  routes.Publish({{"d", held}});
  std::vector<GatewayResult> results;
  std::mutex mu;
  Gateway g(o, &routes, [&](const GatewayResult& r) {
    std::lock_guard<std::mutex> l(mu);
    results.push_back(r);
  });
  g.Start();
  std::promise<Status> done;
  g.Submit("d", HostTensor{}, std::chrono::milliseconds(60),
           [&](Result<HostTensor> r) { done.set_value(r.status()); });
  Status s = done.get_future().get();
  g.Stop();
  CHECK(s.code() == StatusCode::kDeadlineExceeded);
  CHECK(s.message().find("on hold: entry node n1 is not trusted") != std::string::npos);
  REQUIRE(results.size() == 1);
  CHECK(results[0].attempts == 0);  // nothing was sent anywhere
}
