// `edgesplitctl trace check --trace FILE [--json]`: validates an adaptation trace
// (docs/trace.md). Prints a short summary, or with --json the normalised trace that
// scripts/trace.sh replays (exit 0). A bad trace prints its one message, naming the key, on
// stderr (exit 2), so the script can stop before it starts a cluster.
#include <cstdio>
#include <string>

#include "common/base/flags.h"
#include "common/base/subcommand.h"
#include "orchestrator/planner/instance.h"
#include "orchestrator/trace/trace_spec.h"

namespace edgesplit {
namespace {

constexpr const char* kUsage =
    "usage: edgesplitctl trace check --trace FILE [--json]\n"
    "Validates an adaptation trace (docs/trace.md) and prints a summary, or with --json the\n"
    "normalised trace (defaults filled in, events in time order). Exit 2 on a bad trace.\n";

int Fail(const Status& s) {
  std::fprintf(stderr, "edgesplitctl trace: error: %s\n", s.message().c_str());
  return 2;
}

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string Describe(const trace::TraceEvent& e) {
  std::string s = trace::EventKindName(e.kind);
  switch (e.kind) {
    case trace::EventKind::kSlow: return s + " " + e.node + " x" + Fmt(e.factor);
    case trace::EventKind::kLink: return s + " " + e.node + " " + trace::LinkDirectionName(e.direction) + " " + Fmt(e.mbps) + " Mbps";
    case trace::EventKind::kLinkRestore: return s + " " + e.node + " " + trace::LinkDirectionName(e.direction);
    case trace::EventKind::kRps: return s + " " + Fmt(e.value);
    default: return s + " " + e.node;
  }
}

void PrintSummary(const trace::TraceSpec& t) {
  std::printf("duration %s s, slo %s ms, load %s rps and %d streams, periodic %s s\n", Fmt(t.duration_s).c_str(),
              Fmt(t.slo_ms).c_str(), Fmt(t.load.rps).c_str(), t.load.streams, Fmt(t.periodic_s).c_str());
  std::printf("nodes (%zu):\n", t.nodes.size());
  for (const auto& n : t.nodes) {
    std::string line = "  " + n.name + ": speed " + Fmt(n.speed) + (n.trusted ? ", trusted" : "");
    if (n.uplink_mbps) line += ", uplink " + Fmt(*n.uplink_mbps) + " Mbps";
    if (n.downlink_mbps) line += ", downlink " + Fmt(*n.downlink_mbps) + " Mbps";
    std::printf("%s\n", line.c_str());
  }
  const auto& d = t.deployment;
  std::printf("deployment: model %s, objective %s, entry %s, max_stages %s, trusted_prefix_layers %d\n", d.model.c_str(),
              planner::ObjectiveKindName(d.objective), d.entry ? d.entry->c_str() : "(orchestrator's choice)",
              d.max_stages ? std::to_string(*d.max_stages).c_str() : "(no limit)", d.trusted_prefix_layers);
  std::printf("events (%zu):\n", t.events.size());
  for (const auto& e : t.events) std::printf("  %6s s  %s\n", Fmt(e.at_s).c_str(), Describe(e).c_str());
}

int TraceMain(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] != "check") return Fail(InvalidArgument("unknown trace command '" + args[0] + "' (check)"));
  auto f = Flags::Parse(std::vector<std::string>(args.begin() + 1, args.end()), {"trace"}, {"json", "help"});
  if (!f.ok()) return Fail(f.status());
  if (f->GetBool("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!f->positional().empty()) return Fail(InvalidArgument("unexpected argument '" + f->positional()[0] + "'"));
  auto path = f->Required("trace");
  if (!path.ok()) return Fail(path.status());
  auto t = trace::LoadTrace(*path);
  if (!t.ok()) {
    // The one message, as is: it already says "trace: <key path>: ...".
    std::fprintf(stderr, "%s\n", t.status().message().c_str());
    return 2;
  }
  if (f->GetBool("json")) {
    std::printf("%s\n", trace::TraceToJson(*t).c_str());
  } else {
    PrintSummary(*t);
  }
  return 0;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(trace, "trace", "adaptation traces: check --trace FILE [--json] (validate, print normalised)", TraceMain);

}  // namespace edgesplit
