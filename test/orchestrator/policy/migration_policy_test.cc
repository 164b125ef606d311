#include "orchestrator/policy/migration_policy.h"

#include <catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

using namespace edgesplit;
using namespace edgesplit::orch;
using namespace std::chrono_literals;
using planner::Stage;

namespace {
PolicyInput Base() {
  PolicyInput in;
  in.trigger = Trigger::kProfileDrift;
  in.has_current = true;
  in.current_valid = true;
  in.current = {{"a", 0, 4}, {"b", 4, 8}};
  in.current_ms = 100;
  in.candidate_feasible = true;
  in.candidate = {{"c", 0, 4}, {"b", 4, 8}};
  in.candidate_ms = 50;
  in.migration_cost_ms = 100;
  in.request_rate = 10;
  in.now = TimePoint(1000s);
  in.last_reconfiguration = TimePoint(900s);
  in.confirmations = 3;
  return in;
}
}  // namespace

TEST_CASE("same cuts on other nodes is a migration, new cuts a re-split") {
  PolicySettings s;
  auto d = Decide(s, Base());
  CHECK(d.kind == DecisionKind::kMigrate);
  CHECK(d.predicted_gain_ms == Approx(50));
  CHECK(d.cost_ms == Approx(100));
  auto in = Base();
  in.candidate = {{"a", 0, 5}, {"b", 5, 8}};
  CHECK(Decide(s, in).kind == DecisionKind::kResplit);
}

TEST_CASE("a gain below the hysteresis keeps the plan") {
  PolicySettings s;
  auto in = Base();
  in.candidate_ms = 90;  // 10 % better, threshold 15 %
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kKeep);
  CHECK(d.reason.find("hysteresis") != std::string::npos);
  CHECK(d.predicted_gain_ms == Approx(10));
}

TEST_CASE("the cost jitter: a robust spread of successive fresh costs, blind to one jump") {
  CHECK(CostNoiseMs({100, 110, 90}) == 0);  // too few evaluations to tell
  CHECK(CostNoiseMs({100, 100, 100, 100, 100, 100, 100}) == 0);
  // Alternating +-10: every successive difference is 20.
  const std::vector<double> swing = {100, 120, 100, 120, 100, 120, 100, 120};
  CHECK(CostNoiseMs(swing) == Approx(1.4826 * 20 / std::sqrt(2.0)));
  // The same swing with one fault-sized jump in it: the jump is one difference among many.
  const std::vector<double> jump = {100, 120, 100, 120, 700, 720, 700, 720, 700};
  CHECK(CostNoiseMs(jump) == Approx(CostNoiseMs(swing)));
}

TEST_CASE("a gain within the current plan's cost jitter keeps the plan") {
  PolicySettings s;
  auto in = Base();  // gain 50 of 100: well past the hysteresis
  in.noise_ms = 20;  // 3 x 20 = 60 > 50
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kKeep);
  CHECK(d.reason.find("within the noise") != std::string::npos);
  in.noise_ms = 15;  // 45 < 50
  CHECK(Decide(s, in).kind == DecisionKind::kMigrate);
  s.noise_factor = 0;
  in.noise_ms = 1000;
  CHECK(Decide(s, in).kind == DecisionKind::kMigrate);
  // A broken plan is replaced whatever the noise.
  s.noise_factor = 3;
  in.current_valid = false;
  in.current_invalid_reason = "node a is not alive";
  CHECK(Decide(s, in).kind == DecisionKind::kMigrate);
}

TEST_CASE("a gain over the horizon smaller than the migration cost keeps the plan") {
  PolicySettings s;
  s.horizon_s = 1;
  auto in = Base();
  in.request_rate = 0.5;  // floor 1 rps -> 1 request over the horizon, gain 50 ms
  in.migration_cost_ms = 5000;
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kKeep);
  CHECK(d.reason.find("migration cost") != std::string::npos);
}

TEST_CASE("no voluntary reconfiguration during the cool-down") {
  PolicySettings s;
  s.cooldown = 10s;
  auto in = Base();
  in.last_reconfiguration = in.now - 3s;
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kKeep);
  CHECK(d.reason.find("cool-down") != std::string::npos);
}

TEST_CASE("a broken current plan is replaced even in cool-down") {
  PolicySettings s;
  auto in = Base();
  in.trigger = Trigger::kNodeLost;
  in.current_valid = false;
  in.current_invalid_reason = "node a is dead";
  in.last_reconfiguration = in.now;
  in.candidate_ms = 150;  // worse, but the current one does not work
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kMigrate);
  CHECK(d.adopt());
}

TEST_CASE("one reconfiguration in flight at a time") {
  PolicySettings s;
  auto in = Base();
  in.rollout_in_flight = true;
  CHECK(Decide(s, in).kind == DecisionKind::kKeep);
}

TEST_CASE("no feasible candidate keeps a working plan and reports none otherwise") {
  PolicySettings s;
  auto in = Base();
  in.candidate_feasible = false;
  in.candidate_reason = "no trusted node can hold layers 0-1";
  CHECK(Decide(s, in).kind == DecisionKind::kKeep);
  in.current_valid = false;
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kNone);
  CHECK(d.reason.find("trusted") != std::string::npos);
}

TEST_CASE("the best plan being the current one is recorded as kept") {
  PolicySettings s;
  auto in = Base();
  in.candidate = in.current;
  in.candidate_ms = in.current_ms;
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kKeep);
  CHECK(d.reason == "current plan is the best plan");
}

TEST_CASE("without a current plan the decision is a placement") {
  PolicySettings s;
  PolicyInput in = Base();
  in.has_current = false;
  in.current.clear();
  CHECK(Decide(s, in).kind == DecisionKind::kPlace);
}

TEST_CASE("bytes to move count only layers the node does not hold yet") {
  std::vector<double> params = {10, 20, 30, 40};
  std::vector<Stage> from = {{"a", 0, 2}, {"b", 2, 4}};
  CHECK(BytesToMove(from, from, params) == 0);
  CHECK(BytesToMove(from, {{"a", 0, 3}, {"b", 3, 4}}, params) == 30);
  CHECK(BytesToMove(from, {{"c", 0, 4}}, params) == 100);
  CHECK(FetchMs(1e6, 8) == Approx(1000));
}

TEST_CASE("policy settings validation reports every problem") {
  PolicySettings s;
  s.horizon_s = 0;
  s.weight_fetch_mbps = -1;
  auto st = s.Validate();
  CHECK(st.message().find("horizon_s") != std::string::npos);
  CHECK(st.message().find("weight_fetch_mbps") != std::string::npos);
}

TEST_CASE("a voluntary change waits until the same plan wins several evaluations in a row") {
  PolicySettings s;
  s.confirm_evaluations = 3;
  auto in = Base();
  in.confirmations = 2;
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kKeep);
  CHECK(d.reason.find("confirmation") != std::string::npos);
  in.confirmations = 3;
  CHECK(Decide(s, in).kind == DecisionKind::kMigrate);
  in.confirmations = 1;
  in.current_valid = false;  // forced changes do not wait
  in.current_invalid_reason = "node a is not alive";
  CHECK(Decide(s, in).adopt());
}

TEST_CASE("new cuts are proposed only when they beat the same-cuts plan by the re-split margin") {
  PolicySettings s;
  s.resplit_margin_fraction = 0.10;
  CHECK(PreferSameCuts(s, 95, 100));    // 5 % better: keep the cuts
  CHECK(PreferSameCuts(s, 90, 100));    // exactly the margin: keep the cuts
  CHECK_FALSE(PreferSameCuts(s, 89, 100));
  CHECK(PreferSameCuts(s, 100, 100));
  s.resplit_margin_fraction = 0;
  CHECK_FALSE(PreferSameCuts(s, 99.9, 100));
  s.resplit_margin_fraction = -1;
  CHECK_FALSE(s.Validate().ok());
}

TEST_CASE("a passed-over re-split is named in the decision") {
  PolicySettings s;
  auto in = Base();  // candidate keeps the cuts: a migration
  in.passed_over_resplit_ms = 48;
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kMigrate);
  CHECK(d.reason.find("re-split to 48.00 ms is within the re-split margin") != std::string::npos);
  in.candidate = in.current;
  in.candidate_ms = in.current_ms;
  d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kKeep);
  CHECK(d.reason.find("best with its cuts") != std::string::npos);
  in = Base();
  in.current_valid = false;
  in.current_invalid_reason = "node a is not alive";
  in.passed_over_resplit_ms = 48;
  d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kMigrate);
  CHECK(d.reason.find("with the same cuts") != std::string::npos);
}

TEST_CASE("a plan that costs far more than predicted at adoption is not protected by the cool-down") {
  PolicySettings s;
  s.cooldown = 10s;
  auto in = Base();  // current 100 ms, candidate 50 ms
  in.last_reconfiguration = in.now - 3s;
  in.adopted_ms = 60;  // 100 < 2 x 60: comparable to its prediction, the cool-down holds
  CHECK(Decide(s, in).kind == DecisionKind::kKeep);
  in.adopted_ms = 40;  // 100 > 2 x 40: badly wrong now
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kMigrate);
  CHECK(d.reason.find("cool-down waived: the current plan costs 2.5x its prediction") != std::string::npos);
  in.adopted_ms = 0;  // unknown (e.g. re-adopted after a restart): the cool-down holds
  CHECK(Decide(s, in).kind == DecisionKind::kKeep);
  s.cooldown_waiver_factor = 0;  // off
  in.adopted_ms = 40;
  CHECK(Decide(s, in).kind == DecisionKind::kKeep);
  // Outside the cool-down nothing changes, and the reason does not mention a waiver.
  in.last_reconfiguration = in.now - 30s;
  d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kMigrate);
  CHECK(d.reason.find("waived") == std::string::npos);
  s.cooldown_waiver_factor = 0.5;
  CHECK_FALSE(s.Validate().ok());
}

TEST_CASE("the cool-down waiver needs the observed latency to agree when requests are answered") {
  PolicySettings s;
  auto in = Base();
  in.last_reconfiguration = in.now - 1s;  // in cool-down
  in.adopted_ms = 40;
  in.current_ms = 100;  // priced at 2.5x its prediction
  in.candidate_ms = 50;
  CHECK(Decide(s, in).kind == DecisionKind::kMigrate);  // nothing observed: the model decides
  in.observed_recent_ms = 45;                           // but it answers as predicted
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kKeep);
  CHECK(d.reason.find("answers at p50 45.0 ms") != std::string::npos);
  in.observed_recent_ms = 130;  // the measurement agrees: badly wrong
  d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kMigrate);
  CHECK(d.reason.find("cool-down waived") != std::string::npos);
}

TEST_CASE("a voluntary change must gain against the measured latency too") {
  PolicySettings s;
  auto in = Base();             // priced 100 -> 50
  in.observed_recent_ms = 55;  // but it answers in 55: 5 ms to gain, below 15 % of 55
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kKeep);
  CHECK(d.reason.find("answers at p50 55.00 ms") != std::string::npos);
  in.observed_recent_ms = 90;  // 40 ms to gain
  CHECK(Decide(s, in).kind == DecisionKind::kMigrate);
  in.current_ms = 5000;         // priced as saturated: the measured threshold is 15 % of 90, not of 5000
  in.candidate_ms = 70;
  CHECK(Decide(s, in).kind == DecisionKind::kMigrate);
  in.current_ms = 100;
  in.candidate_ms = 50;
  in.observed_recent_ms = 0;   // nothing answered lately: the price decides
  CHECK(Decide(s, in).kind == DecisionKind::kMigrate);
  in.observed_recent_ms = 55;  // a broken plan is replaced whatever it measured
  in.current_valid = false;
  in.current_invalid_reason = "node a is not alive";
  CHECK(Decide(s, in).kind == DecisionKind::kMigrate);
}

TEST_CASE("live sessions add their rebuild stall to the migration cost") {
  // A 10 ms pipeline profiled at 64 tokens: 3 sessions holding 640 history tokens cost 100 ms.
  CHECK(RebuildSessionsMs(10, 64, 640) == Approx(100));
  CHECK(RebuildSessionsMs(10, 64, 0) == 0);
  CHECK(RebuildSessionsMs(std::numeric_limits<double>::infinity(), 64, 640) == 0);  // an unpriceable plan
  PolicySettings s;
  s.horizon_s = 1;
  auto in = Base();
  in.request_rate = 0.5;      // 1 request over the horizon: 50 ms of gain
  in.migration_cost_ms = 20;  // the weights alone would be worth moving
  auto d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kMigrate);
  in.live_sessions = 3;
  in.session_cost_ms = 100;
  d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kKeep);
  CHECK(d.cost_ms == Approx(120));
  CHECK(d.live_sessions == 3);
  CHECK(d.reason.find("3 live sessions rebuilt by a prefill") != std::string::npos);
  CHECK(d.session_move == "rebuild");  // the default when the controller named no way
  CHECK(d.kv_bytes == 0);
  // Copied instead, the same sessions cost what their KV takes over the links.
  in.session_move = "copy";
  in.session_cost_ms = 10;
  in.kv_bytes = 123456;
  in.session_other_ms = 100;  // what the rebuild would have cost: said, not counted
  d = Decide(s, in);
  CHECK(d.kind == DecisionKind::kMigrate);
  CHECK(d.cost_ms == Approx(30));
  CHECK(d.session_move == "copy");
  CHECK(d.kv_bytes == 123456);
  CHECK(d.reason.find("3 live sessions' KV copied between agents, 123456 bytes; a rebuild: 100 ms") != std::string::npos);
  in.session_other_ms = 0;
  in.session_move = "rebuild";
  in.session_cost_ms = 100;
  // A lost node moves them whatever they cost, and the decision says what it will cost them.
  in.current_valid = false;
  in.current_invalid_reason = "node a is not alive";
  d = Decide(s, in);
  CHECK(d.adopt());
  CHECK(d.session_cost_ms == Approx(100));
}

TEST_CASE("policy modes gate re-planning: adaptive always, static never (reload only), periodic once per period") {
  PolicySettings s;
  const TimePoint t0{};
  const TimePoint t = t0 + std::chrono::seconds(30);
  CHECK(GateFor(s, false, t, t0) == ModeGate::kPlan);
  CHECK(GateFor(s, true, t, t0) == ModeGate::kPlan);
  s.mode = PolicyMode::kStatic;
  CHECK(GateFor(s, false, t + std::chrono::hours(10), t0) == ModeGate::kHold);
  CHECK(GateFor(s, true, t, t0) == ModeGate::kReload);
  s.mode = PolicyMode::kPeriodic;
  s.period = std::chrono::seconds(60);
  CHECK(GateFor(s, false, t, t0) == ModeGate::kHold);
  CHECK(GateFor(s, true, t, t0) == ModeGate::kReload);
  CHECK(GateFor(s, false, t0 + std::chrono::seconds(60), t0) == ModeGate::kPlan);
  CHECK(GateFor(s, true, t0 + std::chrono::seconds(61), t0) == ModeGate::kPlan);
  for (const char* name : {"adaptive", "static", "periodic"}) CHECK(PolicyModeName(*ParsePolicyMode(name)) == std::string(name));
  CHECK(ParsePolicyMode("sometimes").status().message().find("policy.mode") != std::string::npos);
  s.period = std::chrono::milliseconds(500);
  CHECK(!s.Validate().ok());
}
