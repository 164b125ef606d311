// `edgesplitctl plan --instance FILE.yaml [--objective latency|period|mixed] [--time-limit-ms N]`:
// offline planning. Prints the plan JSON of DESIGN.md on stdout (exit 0, also for a proven
// "infeasible" answer); a bad instance or flag prints one message naming the key (exit 2).
#include <cstdio>

#include "common/base/clock.h"
#include "common/base/flags.h"
#include "common/base/subcommand.h"
#include "orchestrator/planner/instance_yaml.h"
#include "orchestrator/planner/plan_json.h"
#include "orchestrator/planner/planner.h"

namespace edgesplit {
namespace {

constexpr const char* kUsage =
    "usage: edgesplitctl plan --instance FILE.yaml [--objective latency|period|mixed] [--time-limit-ms N]\n"
    "                         [--alpha A] [--beta B]\n"
    "Prints the plan as JSON on stdout. The instance format is in docs/planner.md.\n";

int Fail(const Status& s) {
  std::fprintf(stderr, "edgesplitctl plan: error: %s\n", s.message().c_str());
  return 2;
}

int PlanMain(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"instance", "objective", "time-limit-ms", "alpha", "beta"}, {"help"});
  if (!f.ok()) return Fail(f.status());
  if (f->GetBool("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!f->positional().empty()) return Fail(InvalidArgument("unexpected argument '" + f->positional()[0] + "'"));
  auto path = f->Required("instance");
  if (!path.ok()) return Fail(path.status());
  auto inst = planner::LoadPlanningInstanceFile(*path);
  if (!inst.ok()) return Fail(inst.status());
  if (f->Has("objective")) {
    auto kind = planner::ParseObjectiveKind(f->Get("objective"));
    if (!kind.ok()) return Fail(InvalidArgument("--objective: '" + f->Get("objective") + "' is not one of latency, period, mixed"));
    inst->objective.kind = *kind;
  }
  for (auto [flag, dst] : {std::pair{"alpha", &inst->objective.alpha}, {"beta", &inst->objective.beta}}) {
    auto v = f->GetDouble(flag, *dst);
    if (!v.ok() || *v < 0) return Fail(InvalidArgument(std::string("--") + flag + ": must be a number >= 0"));
    *dst = *v;
  }
  if (Status s = planner::ValidateInstance(*inst); !s.ok()) return Fail(s);
  auto limit = f->GetInt("time-limit-ms", 1000);
  if (!limit.ok() || *limit <= 0 || *limit > 3'600'000)
    return Fail(InvalidArgument("--time-limit-ms: must be an integer in [1, 3600000]"));
  planner::PlannerOptions opt;
  opt.time_limit_ms = static_cast<double>(*limit);
  const Clock* clock = SteadyClock::Default();
  const TimePoint start = clock->Now();
  opt.elapsed_ms = [clock, start] { return ToMillis(clock->Now() - start); };
  const planner::PlanResult r = planner::Plan(*inst, opt);
  std::printf("%s\n", planner::PlanResultToJson(r, inst->current_plan.has_value() || inst->migration.has_value()).c_str());
  return 0;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(plan, "plan", "offline planning: --instance FILE.yaml -> plan JSON", PlanMain);

}  // namespace edgesplit
