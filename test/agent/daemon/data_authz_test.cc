// Who may send which data frame (agent/daemon/data_authz.h), over an epoch entry n1 -> n2 -> n3.
#include "agent/daemon/data_authz.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::agent;
using security::Role;
using transport::Frame;
using transport::FrameKind;

namespace {

LoadSpec Stage(int index) {
  LoadSpec s;
  s.deployment = "d";
  s.epoch = 4;
  s.model = "m";
  s.stage_nodes = {"n1", "n2", "n3"};
  s.stage_index = index;
  s.is_entry = index == 0;
  s.first_layer = index * 2;
  s.end_layer = index * 2 + 2;
  s.num_layers = 6;
  return s;
}

Frame Of(FrameKind k, uint64_t session = 0) {
  Frame f;
  f.kind = k;
  f.deployment = "d";
  f.epoch = 4;
  f.session_id = session;
  return f;
}

Sender Agent(const std::string& name) { return {true, Role::kAgent, name}; }

}  // namespace

TEST_CASE("activations and steps only from the previous stage of the epoch") {
  const LoadSpec s2 = Stage(2);
  CHECK(AuthorizeFrame(Agent("n2"), Of(FrameKind::kActivation), &s2).ok());
  CHECK(AuthorizeFrame(Agent("n2"), Of(FrameKind::kStep, 7), &s2).ok());
  CHECK(AuthorizeFrame(Agent("n2"), Of(FrameKind::kSessionEnd, 7), &s2).ok());
  for (const char* other : {"n1", "n3", "n9"})
    CHECK(AuthorizeFrame(Agent(other), Of(FrameKind::kActivation), &s2).code() == StatusCode::kPermissionDenied);
  CHECK_FALSE(AuthorizeFrame({true, Role::kClient, "n2"}, Of(FrameKind::kActivation), &s2).ok());
  CHECK_FALSE(AuthorizeFrame({true, Role::kOrchestrator, "orchestrator"}, Of(FrameKind::kStep, 1), &s2).ok());
}

TEST_CASE("answers at the entry only from the epoch's last stage, errors from any of its stages") {
  const LoadSpec entry = Stage(0);
  CHECK(AuthorizeFrame(Agent("n3"), Of(FrameKind::kResult), &entry).ok());
  CHECK(AuthorizeFrame(Agent("n3"), Of(FrameKind::kToken, 3), &entry).ok());
  CHECK(AuthorizeFrame(Agent("n2"), Of(FrameKind::kError), &entry).ok());
  CHECK(AuthorizeFrame(Agent("n3"), Of(FrameKind::kError), &entry).ok());
  CHECK_FALSE(AuthorizeFrame(Agent("n2"), Of(FrameKind::kResult), &entry).ok());
  CHECK_FALSE(AuthorizeFrame(Agent("n9"), Of(FrameKind::kError), &entry).ok());
  CHECK_FALSE(AuthorizeFrame(Agent("n9"), Of(FrameKind::kToken, 3), &entry).ok());
  // A stage that is not the entry takes no answers at all.
  const LoadSpec s1 = Stage(1);
  CHECK_FALSE(AuthorizeFrame(Agent("n3"), Of(FrameKind::kResult), &s1).ok());
}

TEST_CASE("client requests need a client or orchestrator certificate") {
  CHECK(AuthorizeFrame({true, Role::kClient, "alice"}, Of(FrameKind::kRequest), nullptr).ok());
  CHECK(AuthorizeFrame({true, Role::kOrchestrator, "orchestrator"}, Of(FrameKind::kGenerate), nullptr).ok());
  CHECK(AuthorizeFrame({true, Role::kClient, "alice"}, Of(FrameKind::kSessionEnd, 0), nullptr).ok());
  CHECK(AuthorizeFrame(Agent("n3"), Of(FrameKind::kRequest), nullptr).code() == StatusCode::kPermissionDenied);
  CHECK_FALSE(AuthorizeFrame({true, Role::kClient, "alice"}, Of(FrameKind::kResult), nullptr).ok());
  // Anyone authenticated may probe; replies and summaries are never accepted inbound.
  CHECK(AuthorizeFrame({true, Role::kClient, "alice"}, Of(FrameKind::kProbe), nullptr).ok());
  CHECK_FALSE(AuthorizeFrame(Agent("n2"), Of(FrameKind::kProbeReply), nullptr).ok());
  CHECK_FALSE(AuthorizeFrame(Agent("n2"), Of(FrameKind::kGenDone), nullptr).ok());
}

TEST_CASE("without a stage list nothing pipeline-bound passes; plaintext is not checked") {
  LoadSpec bare = Stage(1);
  bare.stage_nodes.clear();
  CHECK_FALSE(AuthorizeFrame(Agent("n1"), Of(FrameKind::kActivation), &bare).ok());
  CHECK(AuthorizeFrame(Sender{}, Of(FrameKind::kActivation), &bare).ok());
  CHECK(AuthorizeFrame(Sender{}, Of(FrameKind::kResult), nullptr).ok());
}

TEST_CASE("a session's KV is pushed down the old chain, and taken only from the old holder of each layer") {
  // KV_PUSH follows the old epoch's chain like a step.
  const LoadSpec s1 = Stage(1);
  CHECK(AuthorizeFrame(Agent("n1"), Of(FrameKind::kKvPush, 7), &s1).ok());
  CHECK(AuthorizeFrame(Agent("n3"), Of(FrameKind::kKvPush, 7), &s1).code() == StatusCode::kPermissionDenied);
  // Epoch 4 replaces epoch 3, whose layers [0,3) were on n9 and [3,6) on n1.
  LoadSpec s = Stage(1);
  s.carry_from_epoch = 3;
  s.carry_from = {{"n9", "h:1", 0, 3}, {"n1", "h:2", 3, 6}};
  Frame d = Of(FrameKind::kKvData, 7);
  d.carry_epoch = 3;
  d.layer = 2;
  CHECK(AuthorizeFrame(Agent("n9"), d, &s).ok());
  const Status other = AuthorizeFrame(Agent("n1"), d, &s);
  CHECK(other.code() == StatusCode::kPermissionDenied);
  CHECK(other.message().find("old holder 'n9'") != std::string::npos);
  d.layer = 3;
  CHECK(AuthorizeFrame(Agent("n1"), d, &s).ok());
  d.carry_epoch = 2;  // not the epoch this one replaces
  CHECK(AuthorizeFrame(Agent("n1"), d, &s).code() == StatusCode::kPermissionDenied);
  d.carry_epoch = 3;
  CHECK(AuthorizeFrame({true, Role::kClient, "n1"}, d, &s).code() == StatusCode::kPermissionDenied);
  // A segment that was offered no copy takes no KV at all.
  CHECK(AuthorizeFrame(Agent("n1"), d, &s1).code() == StatusCode::kPermissionDenied);
}
