// Trust is the operator's: the configured list, API decisions over it, and the registry keeping
// both apart from what agents claim.
#include "orchestrator/cluster/trust_list.h"

#include <catch.hpp>

#include "orchestrator/cluster/node_registry.h"

using namespace edgesplit;
using namespace edgesplit::orch;

namespace {
RegisterInfo Claiming(const std::string& name, bool claims, uint64_t incarnation = 1) {
  RegisterInfo r;
  r.node = name;
  r.data_address = "127.0.0.1:1";
  r.trusted = claims;
  r.incarnation = incarnation;
  return r;
}
}  // namespace

TEST_CASE("an API decision outranks the configured list, both ways") {
  TrustList t({"gw-1", "gw-2"});
  CHECK(t.IsTrusted("gw-1"));
  CHECK(t.SourceOf("gw-1") == TrustSource::kConfig);
  CHECK(!t.IsTrusted("edge-9"));
  CHECK(t.SourceOf("edge-9") == TrustSource::kNone);
  REQUIRE(t.Set("gw-1", false).ok());
  REQUIRE(t.Set("edge-9", true).ok());
  CHECK(!t.IsTrusted("gw-1"));
  CHECK(t.IsTrusted("edge-9"));
  CHECK(t.SourceOf("gw-1") == TrustSource::kApi);
  CHECK(std::string(TrustSourceName(t.SourceOf("edge-9"))) == "api");
  CHECK(t.decisions().size() == 2);
}

TEST_CASE("trust decisions are bounded and need a plausible name") {
  TrustList t({}, 2);
  CHECK(t.Set("", true).code() == StatusCode::kInvalidArgument);
  CHECK(t.Set(std::string(kMaxTrustNameBytes + 1, 'x'), true).code() == StatusCode::kInvalidArgument);
  // Names are persisted and echoed in JSON: bytes that are not UTF-8 (from a URL) are refused.
  TrustList u({}, 4);
  CHECK(u.Set("\xC2n2", true).code() == StatusCode::kInvalidArgument);  // a truncated sequence
  CHECK(u.Restore({{"ok", true}, {"\xFF", false}}).code() == StatusCode::kInvalidArgument);
  CHECK(u.Set("n\xC3\xA9ud", true).ok());  // UTF-8 beyond ASCII is a name like any other
  REQUIRE(t.Set("a", true).ok());
  REQUIRE(t.Set("b", true).ok());
  CHECK(t.Set("c", true).code() == StatusCode::kResourceExhausted);
  CHECK(t.Set("a", false).ok());  // changing a decision takes no new room
  CHECK(t.Restore({{"x", true}, {"y", false}, {"z", true}}).code() == StatusCode::kResourceExhausted);
  CHECK(ValidateTrustedNodes({"a", "b"}).ok());
  CHECK(!ValidateTrustedNodes({"a", "a"}).ok());
  CHECK(!ValidateTrustedNodes({""}).ok());
}

TEST_CASE("an agent's claim of trust is recorded for display and grants nothing") {
  NodeRegistry reg;
  FakeClock clock;
  REQUIRE(reg.Register(Claiming("evil", true), clock.Now(), nullptr).ok());
  const NodeRecord* n = reg.Find("evil");
  CHECK(n->claims_trusted);
  CHECK(!n->trusted);
  CHECK(n->trust_source == TrustSource::kNone);
  CHECK(!reg.IsTrusted("evil"));
}

TEST_CASE("a configured node is trusted whatever it claims, and a re-registration does not undo a revocation") {
  NodeRegistryOptions o;
  o.trusted_nodes = {"gw"};
  NodeRegistry reg(o);
  FakeClock clock;
  REQUIRE(reg.Register(Claiming("gw", false), clock.Now(), nullptr).ok());
  CHECK(reg.Find("gw")->trusted);
  CHECK(reg.Find("gw")->trust_source == TrustSource::kConfig);
  REQUIRE(reg.SetTrusted("gw", false).ok());
  CHECK(!reg.Find("gw")->trusted);
  // Reconnect, restart: the claim changes nothing.
  REQUIRE(reg.Register(Claiming("gw", true), clock.Now(), nullptr).ok());
  REQUIRE(reg.Register(Claiming("gw", true, 2), clock.Now(), nullptr).ok());
  CHECK(!reg.Find("gw")->trusted);
  CHECK(reg.Find("gw")->claims_trusted);
  CHECK(reg.Find("gw")->trust_source == TrustSource::kApi);
}

TEST_CASE("a decision may name a node before it registers; restored decisions apply to registered nodes") {
  NodeRegistry reg;
  FakeClock clock;
  REQUIRE(reg.SetTrusted("later", true).ok());
  CHECK(reg.Find("later") == nullptr);
  REQUIRE(reg.Register(Claiming("later", false), clock.Now(), nullptr).ok());
  CHECK(reg.Find("later")->trusted);
  REQUIRE(reg.RestoreTrust({{"later", false}}).ok());
  CHECK(!reg.Find("later")->trusted);
  CHECK(reg.SetTrusted("", true).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("registry options refuse a bad trusted_nodes list") {
  NodeRegistryOptions o;
  o.trusted_nodes = {"a", "a"};
  CHECK(o.Validate().message().find("listed twice") != std::string::npos);
}
