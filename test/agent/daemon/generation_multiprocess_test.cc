// Must-show for generation through real agents: three edgesplit-agent processes on loopback,
// driven over the control protocol, stream tokens identical to the whole model in one process
// (greedy and seeded sampling, several cut sets), serve concurrent sessions, free every
// stage's KV when a client cancels, refuse sessions past their limits with one clear error,
// and reclaim the state of sessions whose entry vanished.
#include <signal.h>

#include <atomic>
#include <catch.hpp>
#include <filesystem>
#include <thread>

#include "agent/runtime/chain_generator.h"
#include "agent/runtime/gpt_synth.h"
#include "agent/runtime/torch_threads.h"
#include "agent/transport/client.h"
#include "common/model/manifest.h"
#include "test/agent/daemon/gen_cluster.h"

using namespace edgesplit;
using namespace edgesplit::testing;
using namespace std::chrono_literals;


TEST_CASE("generation through three agents streams the whole model's tokens; cancel, limits and reclaim hold") {
  Cluster c;
  c.Start("a1");
  c.Start("a2", {"--kv-budget-bytes", "65536", "--max-sessions", "1"});
  c.Start("a3", {"--session-idle-timeout-ms", "500", "--compute-slowdown", "10"});
  REQUIRE(c.ctl.WaitForAgents(3, 60s));
  for (const char* n : {"a1", "a2", "a3"}) c.addr[n] = c.ctl.registration(n).data_address();

  auto whole = ChainGenerator::Load(c.models + "/gpt-gen", c.manifest, {}).value();
  const std::vector<GenerationRequest> reqs = {Req({1, 2, 3, 4, 5}, 20), Req({7, 8}, 24, {0.9, 30, 0.95, 42}),
                                               Req({50}, 16, {1.3, 0, 1.0, 5})};
  std::vector<std::vector<int64_t>> want;
  for (const auto& r : reqs) want.push_back(whole->Generate(r, true).value().tokens);

  auto client = transport::DataClient::Connect(c.addr.at("a1")).value();
  auto run = [&](const GenerationRequest& r, std::vector<int64_t>* got) {
    got->clear();
    return client->Generate("gpt", r, [&](int64_t i, int64_t t) {
      CHECK(i == static_cast<int64_t>(got->size()));  // consecutive indices, nothing repeated
      got->push_back(t);
      return true;
    });
  };

  // Three cut sets (and placements), each an epoch of its own.
  const std::vector<std::pair<std::vector<std::string>, std::vector<int>>> plans = {
      {{"a1", "a2", "a3"}, {2, 4}}, {{"a1", "a3", "a2"}, {1, 5}}, {{"a1", "a2", "a3"}, {3, 4}}};
  for (size_t e = 0; e < plans.size(); ++e) {
    c.Deploy(e + 1, plans[e].first, plans[e].second);
    for (size_t i = 0; i < reqs.size(); ++i) {
      std::vector<int64_t> got;
      auto sum = run(reqs[i], &got);
      INFO("epoch " << e + 1 << " request " << i << ": " << (sum.ok() ? "ok" : sum.status().ToString()));
      REQUIRE(sum.ok());
      CHECK(got == want[i]);
      CHECK(sum->finish_reason == "length");
      CHECK(sum->epoch == e + 1);
      CHECK(sum->tokens == reqs[i].max_new_tokens);
      CHECK(sum->ttft_ms > 0);
    }
  }
  REQUIRE(c.WaitKvSessions({"a1", "a2", "a3"}, 0));

  SECTION("concurrent sessions pipeline through three stages, each stream exact") {
    // a2 admits one session at a time: a fourth agent without limits takes the middle stage.
    c.Start("a4");
    REQUIRE(c.ctl.WaitForAgents(4, 60s));
    c.addr["a4"] = c.ctl.registration("a4").data_address();
    c.Deploy(10, {"a1", "a4", "a3"}, {2, 4});
    std::vector<std::thread> th;
    std::atomic<int> exact{0}, failed{0};
    for (int t = 0; t < 4; ++t) {
      th.emplace_back([&, t] {
        auto cl = transport::DataClient::Connect(c.addr.at("a1")).value();
        for (int k = 0; k < 3; ++k) {
          const auto& r = reqs[(t + k) % reqs.size()];
          std::vector<int64_t> got;
          auto s = cl->Generate("gpt", r, [&](int64_t, int64_t tok) {
            got.push_back(tok);
            return true;
          });
          if (!s.ok()) failed++;
          else if (got == want[(t + k) % reqs.size()]) exact++;
        }
      });
    }
    for (auto& t : th) t.join();
    CHECK(failed == 0);
    CHECK(exact == 12);
    CHECK(c.WaitKvSessions({"a1", "a4", "a3"}, 0));
  }

  SECTION("a client that cancels mid-stream frees the session's KV on every stage") {
    c.Call("a3", TestController::Load("gpt", 20, "gpt-gen", 2, c.L, c.L, "", false, c.addr["a1"]));
    c.Call("a1", TestController::Load("gpt", 20, "gpt-gen", 0, 2, c.L, c.addr["a3"], true, c.addr["a1"]));
    c.Call("a1", TestController::Activate("gpt", 20));
    std::atomic<bool> seen_state{false};
    int got = 0;
    auto s = client->Generate("gpt", Req({3, 4}, 200), [&](int64_t, int64_t) {
      if (++got == 3) {
        // Both stages hold the session's state while it streams.
        seen_state = c.WaitKvSessions({"a1", "a3"}, 1, 5s);
        return false;
      }
      return true;
    });
    CHECK(s.status().code() == StatusCode::kAborted);
    CHECK(seen_state);
    CHECK(c.WaitKvSessions({"a1", "a3"}, 0));
  }

  SECTION("sessions beyond an agent's limits are refused with resource_exhausted, nothing leaks") {
    // Epoch 3 runs a1 [0,3) -> a2 [3,4) -> a3 [4,6): a2 holds one block, 2*64*4 bytes per token,
    // a 64 KiB budget holds 128 tokens.
    std::vector<int64_t> got;
    auto big = run(Req({1, 2}, 150), &got);
    REQUIRE_FALSE(big.ok());
    CHECK(big.status().code() == StatusCode::kResourceExhausted);
    CHECK(big.status().message().find("KV budget") != std::string::npos);
    CHECK(got.empty());
    // The session was refused at a2: a1 freed its state too, and the agents still serve.
    REQUIRE(c.WaitKvSessions({"a1", "a2", "a3"}, 0));
    auto ok = run(reqs[0], &got);
    REQUIRE(ok.ok());
    CHECK(got == want[0]);
    // Bad requests: one clear error naming the field, nothing allocated.
    auto bad = run(Req({1, 100}, 4), &got);
    CHECK(bad.status().code() == StatusCode::kInvalidArgument);
    CHECK(bad.status().message().find("prompt_tokens[1]") != std::string::npos);
    bad = run(Req({1}, 300), &got);
    CHECK(bad.status().message().find("max_new_tokens") != std::string::npos);
    bad = run(Req({1}, 3, {-2, 0, 1, 0}), &got);
    CHECK(bad.status().message().find("temperature") != std::string::npos);
  }

  SECTION("when the entry dies mid-session, the stages reclaim its state after the idle timeout") {
    // a3 holds the last stage: its state must go once no step comes for 500 ms.
    std::thread killer;
    int got = 0;
    auto s = client->Generate("gpt", Req({9, 9}, 200), [&](int64_t, int64_t) {
      if (++got == 2) c.procs[0]->Stop(SIGKILL, 5);  // a1 is the entry
      return true;
    });
    CHECK_FALSE(s.ok());
    CHECK(c.WaitKvSessions({"a3"}, 0, 10s));
  }
}

TEST_CASE("agents that batch decode steps serve concurrent sessions with the whole model's greedy tokens") {
  Cluster c;
  c.Start("b1", {"--decode-batch-max", "8"});
  c.Start("b2", {"--decode-batch-max", "8"});
  REQUIRE(c.ctl.WaitForAgents(2, 60s));
  for (const char* n : {"b1", "b2"}) c.addr[n] = c.ctl.registration(n).data_address();
  c.Deploy(1, {"b1", "b2"}, {3});
  auto whole = ChainGenerator::Load(c.models + "/gpt-gen", c.manifest, {}).value();
  // Batched passes use other matrix shapes than single steps (not bitwise-equal): greedy tokens
  // on prompts whose top logits are well separated are the contract checked here.
  std::vector<GenerationRequest> reqs;
  std::vector<std::vector<int64_t>> want;
  for (int i = 0; i < 6; ++i) {
    reqs.push_back(Req({static_cast<int64_t>(i + 1), static_cast<int64_t>(2 * i + 3)}, 24));
    want.push_back(whole->Generate(reqs.back(), true).value().tokens);
  }
  std::vector<std::thread> th;
  std::atomic<int> exact{0}, failed{0};
  for (int t = 0; t < 6; ++t)
    th.emplace_back([&, t] {
      auto cl = transport::DataClient::Connect(c.addr.at("b1")).value();
      std::vector<int64_t> got;
      auto s = cl->Generate("gpt", reqs[t], [&](int64_t, int64_t tok) {
        got.push_back(tok);
        return true;
      });
      if (!s.ok()) failed++;
      else if (got == want[t]) exact++;
    });
  for (auto& t : th) t.join();
  CHECK(failed == 0);
  CHECK(exact == 6);
  CHECK(c.WaitKvSessions({"b1", "b2"}, 0));
}

TEST_CASE("a bfloat16 package streams the whole model's tokens through three agents (bf16 hops on the wire)") {
  Cluster c;
  GptSynthOptions go = SmallGpt("gpt-bf16");
  go.dtype = DType::kBFloat16;
  REQUIRE(SynthesizeGpt(go, c.models + "/gpt-bf16").ok());
  c.package = "gpt-bf16";
  c.manifest = LoadManifest(c.models + "/gpt-bf16").value();
  REQUIRE(c.manifest.layers[1].output.dtype == DType::kBFloat16);
  c.Start("f1");
  c.Start("f2");
  c.Start("f3");
  REQUIRE(c.ctl.WaitForAgents(3, 60s));
  for (const char* n : {"f1", "f2", "f3"}) c.addr[n] = c.ctl.registration(n).data_address();
  const std::vector<int> cuts = {2, 4};
  c.Deploy(1, {"f1", "f2", "f3"}, cuts);
  auto whole = ChainGenerator::Load(c.models + "/gpt-bf16", c.manifest, {}).value();
  auto client = transport::DataClient::Connect(c.addr.at("f1")).value();
  for (const auto& r : {Req({1, 2, 3, 4, 5}, 20), Req({7, 8}, 24, {0.9, 30, 0.95, 42})}) {
    const auto want = whole->Generate(r, true).value().tokens;
    std::vector<int64_t> got;
    auto s = client->Generate("gpt", r, [&](int64_t, int64_t t) {
      got.push_back(t);
      return true;
    });
    REQUIRE(s.ok());
    CHECK(got == want);
  }
}
