// Live generation sessions through reconfiguration, with real agent processes: a session keeps
// streaming, with consecutive indices and the whole model's tokens, while its deployment is
// re-split and migrated under it, and when a stage node is killed or hangs mid-stream. The old
// epochs' stages free the session's state as it leaves (nothing waits for the idle reclaim), and
// an old epoch drains as soon as its sessions have moved.
#include <atomic>
#include <catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/runtime/chain_generator.h"
#include "agent/transport/client.h"
#include "test/agent/daemon/gen_cluster.h"

using namespace edgesplit;
using namespace edgesplit::testing;
using namespace std::chrono_literals;

namespace {

// Streams `r` from the entry on a thread; `reached(n)` waits until n tokens arrived.
struct Stream {
  std::vector<int64_t> got;
  std::atomic<int> count{0};
  std::atomic<bool> indices_ok{true};
  Result<transport::DataClient::GenerateSummary> summary = Internal("not finished");
  std::thread th;
  Stream(const std::string& entry, const GenerationRequest& r) {
    th = std::thread([this, entry, r] {
      auto client = transport::DataClient::Connect(entry);
      if (!client.ok()) {
        summary = client.status();
        return;
      }
      summary = (*client)->Generate("gpt", r, [&](int64_t i, int64_t t) {
        if (i != static_cast<int64_t>(got.size())) indices_ok = false;
        got.push_back(t);
        count = static_cast<int>(got.size());
        return true;
      });
    });
  }
  bool Reached(int n, Duration timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (count < n && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(2ms);
    return count >= n;
  }
  void Join() { th.join(); }
};

// Lines of `node`'s log that contain `what`.
int LogCount(const Cluster& c, const std::string& node, const std::string& what) {
  std::ifstream in(c.tmp + "/" + node + ".log");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += line.find(what) != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("a live session follows a re-split and a migration with the whole model's tokens") {
  Cluster c;
  c.Start("a1", {"--compute-slowdown", "8"});  // the entry paces the stream (~10 ms a token)
  for (const char* n : {"a2", "a3", "a4"}) c.Start(n);
  REQUIRE(c.ctl.WaitForAgents(4, 60s));
  for (const char* n : {"a1", "a2", "a3", "a4"}) c.addr[n] = c.ctl.registration(n).data_address();
  auto whole = ChainGenerator::Load(c.models + "/gpt-gen", c.manifest, {}).value();
  const GenerationRequest req = Req({5, 17, 42, 7}, 200, {0.8, 40, 0.95, 7});
  const GenerationRequest late = Req({9, 9, 3}, 40, {1.0, 0, 1.0, 3});
  const auto want = whole->Generate(req, true).value().tokens;
  const auto want_late = whole->Generate(late, true).value().tokens;

  c.Deploy(1, {"a1", "a2", "a3"}, {2, 4});
  Stream s(c.addr.at("a1"), req);
  REQUIRE(s.Reached(20));
  c.Deploy(2, {"a1", "a3", "a4"}, {3, 5});  // re-split: new cuts, a2 leaves, a4 joins
  // The old epoch drains once its session has moved (the ack waits for that).
  c.Call("a1", TestController::Drain("gpt", 1));
  for (const char* n : {"a1", "a2", "a3"}) c.Call(n, TestController::Unload("gpt", 1));
  const int at_second = s.count + 20;
  REQUIRE(s.Reached(at_second));
  // A session that starts now starts on epoch 2 and moves with the other one.
  Stream s2(c.addr.at("a1"), late);
  c.Deploy(3, {"a1", "a2", "a4"}, {3, 5});  // migration: same cuts, a2 takes a3's stage
  s.Join();
  s2.Join();

  REQUIRE(s.summary.ok());
  CHECK(s.indices_ok);
  CHECK(s.got == want);
  CHECK(s.summary->moves == 2);
  CHECK(s.summary->epoch == 3);
  CHECK(s.summary->stall_ms_max >= 0);
  REQUIRE(s2.summary.ok());
  CHECK(s2.indices_ok);
  CHECK(s2.got == want_late);
  // Both moves of the first session copied its KV between the agents (none rebuilt it).
  CHECK(LogCount(c, "a1", "event=session_moved") >= 2);
  CHECK(LogCount(c, "a1", "how=rebuilt") == 0);
  CHECK(LogCount(c, "a1", "how=copied") >= 2);
  CHECK(LogCount(c, "a1", "kv_copy_failed") == 0);
  // Every stage of every epoch freed both sessions (the idle reclaim is 60 s away).
  CHECK(c.WaitKvSessions({"a1", "a2", "a3", "a4"}, 0, 5s));
}

TEST_CASE("a move whose KV copy does not arrive rebuilds the session instead, with the same tokens") {
  // pre-copy: the bulk never reaches a new stage, so the session keeps decoding on its epoch and
  // moves by a rebuild once kv_copy_timeout_ms passed; tail: the pre-copy arrived and the session
  // switched, but the last positions never came, so the new stage fails the step and the entry
  // rebuilds the session there.
  const bool tail = GENERATE(false, true);
  CAPTURE(tail);
  Cluster c;
  c.Start("a1", {"--compute-slowdown", "8", "--kv-copy-timeout-ms", "300"});
  c.Start("a2", {"--kv-copy-timeout-ms", "300"});
  c.Start("a3", {"--kv-copy-timeout-ms", "300", "--debug-drop-kv-tail", tail ? "true" : "false"});
  c.Start("a4", {"--kv-copy-timeout-ms", "300"});
  REQUIRE(c.ctl.WaitForAgents(4, 60s));
  for (const char* n : {"a1", "a2", "a3", "a4"}) c.addr[n] = c.ctl.registration(n).data_address();
  auto whole = ChainGenerator::Load(c.models + "/gpt-gen", c.manifest, {}).value();
  const GenerationRequest req = Req({3, 1, 4, 1, 5}, 200, {0.7, 20, 0.9, 5});
  const auto want = whole->Generate(req, true).value().tokens;
  c.Deploy(1, {"a1", "a2", "a3"}, {2, 4});
  Stream s(c.addr.at("a1"), req);
  REQUIRE(s.Reached(20));
  // a3's layers [4, L) move to a4; without the tail a4 waits for it in vain, and for the
  // pre-copy case the old holders are told to send a4's layers where nobody listens.
  if (!tail) c.kv_address["a4"] = "127.0.0.1:1";
  c.Deploy(2, {"a1", "a2", "a4"}, {2, 4});
  s.Join();
  REQUIRE(s.summary.ok());
  CHECK(s.indices_ok);
  CHECK(s.got == want);
  CHECK(s.summary->epoch == 2);
  if (tail) {
    CHECK(LogCount(c, "a3", "kv_push_dropped") == 1);
    CHECK(LogCount(c, "a1", "how=copied") == 1);
    CHECK(LogCount(c, "a1", "kv_copy_failed") == 1);
    CHECK(LogCount(c, "a1", "did not arrive") == 1);  // a4 gave up after kv_copy_timeout_ms
  } else {
    CHECK(LogCount(c, "a1", "kv_precopy_timeout") == 1);
    CHECK(LogCount(c, "a1", "how=copied") == 0);
    CHECK(LogCount(c, "a1", "how=rebuilt") == 1);
  }
  CHECK(c.WaitKvSessions({"a1", "a2", "a3", "a4"}, 0, 5s));
}

TEST_CASE("a live session survives the loss of a stage node: killed or hung, rebuilt on the new plan") {
  const bool hang = GENERATE(false, true);
  CAPTURE(hang);
  Cluster c;
  // A request deadline far beyond the test: a hung stage must not be waited for.
  c.Start("a1", {"--compute-slowdown", "8", "--request-timeout-ms", "60000"});
  for (const char* n : {"a2", "a3", "a4"}) c.Start(n);
  REQUIRE(c.ctl.WaitForAgents(4, 60s));
  for (const char* n : {"a1", "a2", "a3", "a4"}) c.addr[n] = c.ctl.registration(n).data_address();
  auto whole = ChainGenerator::Load(c.models + "/gpt-gen", c.manifest, {}).value();
  const GenerationRequest req = Req({1, 2, 3, 4, 5}, 150, {0.9, 30, 0.95, 42});
  const auto want = whole->Generate(req, true).value().tokens;

  c.Deploy(1, {"a1", "a2", "a3"}, {2, 4});
  Stream s(c.addr.at("a1"), req);
  REQUIRE(s.Reached(30));
  if (hang) kill(c.procs[2]->pid(), SIGSTOP);
  else c.procs[2]->Stop(SIGKILL, 5);
  std::this_thread::sleep_for(300ms);  // the stream stalls (or its step fails) meanwhile
  const int before = s.count;
  c.Deploy(2, {"a1", "a2", "a4"}, {2, 4}, /*lost=*/true);
  s.Join();
  if (hang) kill(c.procs[2]->pid(), SIGCONT);

  REQUIRE(s.summary.ok());
  CHECK(s.indices_ok);
  CHECK(s.got == want);
  CHECK(s.summary->moves == 1);
  CHECK(s.summary->epoch == 2);
  CHECK(before < static_cast<int>(want.size()));  // the loss hit the live stream
  CHECK(c.WaitKvSessions({"a1", "a2", "a4"}, 0, 5s));
}
