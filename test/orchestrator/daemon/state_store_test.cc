#include "orchestrator/daemon/state_store.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::orch;

namespace {
std::string TmpDir(const std::string& name) {
  const char* base = std::getenv("ES_TEST_TMP");
  std::string dir = std::string(base ? base : "/tmp") + "/orch_state_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  return dir;
}
}  // namespace

TEST_CASE("deployments and policy survive a save and load") {
  CatalogModel m;
  m.name = "gpt";
  m.manifest.name = "gpt";
  m.manifest.input = {DType::kInt64, {1, 4}};
  LayerSpec l;
  l.name = "l0";
  l.param_bytes = 10;
  l.output = {DType::kFloat32, {1, 4}};
  m.manifest.layers = {l, l};
  m.reference_layer_ms = {1, 1};
  ModelCatalog cat;
  REQUIRE(cat.Add(m).ok());
  ControllerOptions o;
  o.registry.trusted_nodes = {"n1"};
  Controller c(o, std::move(cat));
  RegisterInfo r;
  r.node = "n1";
  r.data_address = "127.0.0.1:1";
  FakeClock clock;
  REQUIRE(c.OnRegister(r, clock.Now()).ok());
  DeploymentSpec spec;
  spec.name = "d";
  spec.model = "gpt";
  spec.slo_latency_ms = 33;
  REQUIRE(c.CreateDeployment(spec, clock.Now()).ok());
  PolicySettings p;
  p.horizon_s = 77;
  REQUIRE(c.SetPolicy(p).ok());

  StateStore store(TmpDir("roundtrip"));
  CHECK(store.Load().status().code() == StatusCode::kNotFound);
  REQUIRE(store.Save(StateToJson(c)).ok());
  auto text = store.Load();
  REQUIRE(text.ok());
  auto st = StateFromJson(*text, PolicySettings{});
  REQUIRE(st.ok());
  CHECK(st->policy.horizon_s == 77);
  REQUIRE(st->deployments.size() == 1);
  CHECK(st->deployments[0].spec.slo_latency_ms == 33);
  CHECK(st->deployments[0].spec.entry_node == "n1");
  CHECK(st->deployments[0].max_epoch == 1);
  CHECK(!std::filesystem::exists(store.path() + ".tmp"));
}

TEST_CASE("the operator's trust decisions survive a save and load, registered nodes or not") {
  ControllerOptions o;
  o.registry.trusted_nodes = {"n1"};
  Controller c(o, ModelCatalog{});
  FakeClock clock;
  RegisterInfo r;
  r.node = "n1";
  r.data_address = "127.0.0.1:1";
  REQUIRE(c.OnRegister(r, clock.Now()).ok());
  REQUIRE(c.SetTrusted("n1", false, clock.Now()).ok());    // revokes what the config granted
  REQUIRE(c.SetTrusted("later", true, clock.Now()).ok());  // pre-approves a name
  CHECK(c.TakeDirty());
  auto st = StateFromJson(StateToJson(c), PolicySettings{});
  REQUIRE(st.ok());
  CHECK(st->trust == std::map<std::string, bool>{{"later", true}, {"n1", false}});

  // A restarted orchestrator with the same config: the decisions win over trusted_nodes.
  Controller c2(o, ModelCatalog{});
  REQUIRE(c2.RestoreTrust(st->trust).ok());
  REQUIRE(c2.OnRegister(r, clock.Now()).ok());
  CHECK(!c2.registry().Find("n1")->trusted);
  CHECK(c2.registry().IsTrusted("later"));
  // A state file from before trust was persisted has no decisions.
  auto old = StateFromJson(R"({"format_version":1,"deployments":[]})", PolicySettings{});
  REQUIRE(old.ok());
  CHECK(old->trust.empty());
}

TEST_CASE("a corrupt trust section is reported, not half-loaded") {
  for (const char* bad : {R"({"format_version":1,"trust":[]})", R"({"format_version":1,"trust":{"n1":"yes"}})",
                          R"({"format_version":1,"trust":{"":true}})"}) {
    auto st = StateFromJson(bad, PolicySettings{});
    CHECK(st.status().code() == StatusCode::kDataLoss);
    CHECK(st.status().message().rfind("state.trust", 0) == 0);
  }
}

TEST_CASE("a corrupt state file is reported, not half-loaded") {
  auto empty_name = StateFromJson("{\"format_version\": 1, \"deployments\": [{\"spec\": {\"name\": \"\"}}]}", PolicySettings{});
  CHECK(empty_name.status().code() == StatusCode::kDataLoss);
  CHECK(empty_name.status().message().rfind("state.deployments[0].spec: deployment: name must be", 0) == 0);
  CHECK(!StateFromJson("{trunc", PolicySettings{}).ok());
}

// --- a corrupt, truncated or hostile state file: one DataLoss naming the key, never a throw ---

namespace {

const char kState[] =
    R"({"format_version":1,"policy":{"horizon_s":30,"cooldown_s":5},"deployments":[)"
    R"({"spec":{"name":"d","model":"gpt","entry_node":"n1"},"epoch":3,"max_epoch":4,)"
    R"("stages":[{"node":"n1","address":"127.0.0.1:1","first_layer":0,"end_layer":1},)"
    R"({"node":"n2","address":"127.0.0.1:2","first_layer":1,"end_layer":2}]},)"
    R"({"spec":{"name":"e","model":"gpt"}}]})";

std::string StateError(const std::string& text) {
  auto st = StateFromJson(text, PolicySettings{});
  REQUIRE(!st.ok());
  CHECK(st.status().code() == StatusCode::kDataLoss);
  return st.status().message();
}

std::string WithEpoch(const std::string& epoch) {
  return R"({"format_version":1,"deployments":[{"spec":{"name":"d","model":"gpt"},"epoch":)" + epoch + "}]}";
}

}  // namespace

TEST_CASE("a hand-written state file with every key loads") {
  auto st = StateFromJson(kState, PolicySettings{});
  REQUIRE(st.ok());
  REQUIRE(st->deployments.size() == 2);
  CHECK(st->deployments[0].epoch == 3);
  CHECK(st->deployments[0].max_epoch == 4);
  CHECK(st->deployments[0].stages.size() == 2);
  CHECK(st->deployments[1].epoch == 0);
  CHECK(st->policy.cooldown == std::chrono::seconds(5));
  // Written before the KV keys existed: no reservation.
  CHECK(st->deployments[0].spec.kv_sessions == 0);
  CHECK(st->deployments[0].spec.kv_context_tokens == 0);
}

TEST_CASE("a deployment's KV reservation keys are persisted") {
  const std::string text =
      R"({"format_version":1,"deployments":[{"spec":{"name":"d","model":"gen","kv_sessions":6,"kv_context_tokens":300}}]})";
  auto st = StateFromJson(text, PolicySettings{});
  REQUIRE(st.ok());
  REQUIRE(st->deployments.size() == 1);
  CHECK(st->deployments[0].spec.kv_sessions == 6);
  CHECK(st->deployments[0].spec.kv_context_tokens == 300);
  CHECK(StateError(R"({"format_version":1,"deployments":[{"spec":{"name":"d","model":"gen","kv_sessions":-2}}]})") ==
        "state.deployments[0].spec: deployment.kv_sessions: must be in [0, 1000000]");
}

TEST_CASE("an epoch that is not a non-negative integer is data loss, not an exception") {
  // Was: to_number<uint64_t> threw boost::system::system_error for -1, 2.5 and 1e300, which ended
  // the daemon at start-up; a string was silently read as epoch 0.
  for (std::string bad : {"-1", "2.5", "1e300", "\"3\"", "null", "true", "[3]"}) {
    INFO("epoch " << bad);
    CHECK(StateError(WithEpoch(bad)) == "state.deployments[0].epoch: must be a non-negative integer");
  }
  // Past 2^53 it is corruption (and max_epoch + 1 must never wrap to 0).
  CHECK(StateError(WithEpoch("18446744073709551615")) ==
        "state.deployments[0].epoch: 18446744073709551615 is implausibly large");
  CHECK(StateFromJson(WithEpoch("9007199254740992"), PolicySettings{}).ok());
  CHECK(StateFromJson(WithEpoch("3.0e0"), PolicySettings{}).status().code() == StatusCode::kDataLoss);
}

TEST_CASE("a state file that names a deployment twice, has unknown keys or another version is refused") {
  // Was: the second entry silently replaced the first on restore.
  CHECK(StateError(R"({"format_version":1,"deployments":[{"spec":{"name":"d","model":"a"}},)"
                   R"({"spec":{"name":"d","model":"b"}}]})") ==
        "state.deployments[1].spec.name: deployment \"d\" appears twice");
  // Was: unknown keys and format_version were never looked at.
  CHECK(StateError(R"({"format_version":1,"deployment":[]})") == "state: unknown key \"deployment\"");
  CHECK(StateError(R"({"format_version":2})") == "state.format_version: must be 1 (the only version this build reads)");
  CHECK(StateError(R"({"deployments":[]})") == "state.format_version: missing");
  CHECK(StateError(R"({"format_version":1,"deployments":[{"spec":{"name":"d","model":"a"},"epoc":1}]})") ==
        "state.deployments[0]: unknown key \"epoc\"");
  CHECK(StateError(R"({"format_version":1,"deployments":[7]})") == "state.deployments[0]: not an object");
  CHECK(StateError(R"({"format_version":1,"deployments":[{"spec":{"name":"d","model":"a"},)"
                   R"("stages":[{"node":"n","first_layer":0,"end_layer":-1}]}]})") ==
        "state.deployments[0].stages[0].end_layer: must be in [0, 1000000]");
  CHECK(StateError(R"({"format_version":1,"policy":{"horizon_s":"30"}})") == "state.policy.horizon_s: must be a number");
}

TEST_CASE("every truncation of a state file is data loss") {
  // Was: invalid_argument (a request error) for a file the daemon itself wrote.
  const std::string text = kState;
  for (size_t n = 0; n < text.size(); ++n) {
    auto st = StateFromJson(text.substr(0, n), PolicySettings{});
    REQUIRE(!st.ok());
    CHECK(st.status().code() == StatusCode::kDataLoss);
    CHECK(st.status().message().rfind("state: malformed JSON at byte ", 0) == 0);
  }
}

TEST_CASE("random corruption of a state file loads consistently or is data loss") {
  std::mt19937 rng(7);
  static const char kBytes[] = "{}[]\",:0123456789eE.-+ntfu\\\x00\x01\xff ";
  int loaded = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text = kState;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % text.size();
      const char c = kBytes[rng() % (sizeof(kBytes) - 1)];
      switch (rng() % 3) {
        case 0: text[pos] = c; break;
        case 1: text.insert(text.begin() + static_cast<long>(pos), c); break;
        default: text.erase(pos, 1 + rng() % 6); break;
      }
    }
    Result<PersistedState> st = DataLoss("unset");
    try {
      st = StateFromJson(text, PolicySettings{});
    } catch (const std::exception& e) {
      FAIL("threw " << e.what() << " on " << text);
    }
    if (!st.ok()) {
      CHECK(st.status().code() == StatusCode::kDataLoss);
      CHECK(!st.status().message().empty());
      continue;
    }
    ++loaded;
    std::set<std::string> names;
    for (const auto& d : st->deployments) {
      CHECK(d.spec.Validate().ok());
      CHECK(names.insert(d.spec.name).second);
      CHECK(d.epoch <= (uint64_t{1} << 53));
      CHECK(d.max_epoch <= (uint64_t{1} << 53));
    }
    CHECK(st->policy.Validate().ok());
  }
  CHECK(loaded > 50);  // many edits land in digits and still load
}
