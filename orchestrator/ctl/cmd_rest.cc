// REST client commands of edgesplitctl: nodes, models, deploy, undeploy, deployments,
// plan-preview, infer, events, policy. Address and token from --addr/--token or the
// environment (EDGESPLIT_ADDR, default 127.0.0.1:8080; EDGESPLIT_TOKEN). --json prints the
// server's JSON unchanged. Exit codes: 0 ok, 1 server or network error, 2 usage.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "common/base/flags.h"
#include "common/base/subcommand.h"
#include "orchestrator/api/rest_client.h"

namespace edgesplit {
namespace {

namespace json = boost::json;
using orch::RestClient;
using orch::RestReply;

const std::set<std::string> kCommonValued = {"addr", "token"};

std::set<std::string> With(std::set<std::string> a, const std::set<std::string>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

RestClient ClientFrom(const Flags& f) {
  const char* env_addr = std::getenv("EDGESPLIT_ADDR");
  const char* env_token = std::getenv("EDGESPLIT_TOKEN");
  return RestClient(f.Get("addr", env_addr ? env_addr : "127.0.0.1:8080"), f.Get("token", env_token ? env_token : ""));
}

int Usage(const char* text) {
  std::fputs(text, stderr);
  return 2;
}

// Sends the request; prints errors; returns the parsed JSON body on 2xx.
bool Send(RestClient& c, const std::string& method, const std::string& target, const std::string& body, json::value* out,
          RestReply* raw = nullptr, const std::string& content_type = "application/json") {
  auto r = c.Call(method, target, body, content_type);
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.status().ToString().c_str());
    return false;
  }
  if (raw) *raw = *r;
  if (r->status < 200 || r->status >= 300) {
    std::fprintf(stderr, "error: HTTP %d: %s\n", r->status, orch::ErrorMessageOf(*r).c_str());
    return false;
  }
  if (out && r->content_type.find("json") != std::string::npos) {
    boost::system::error_code ec;
    *out = json::parse(r->body, ec);
  }
  return true;
}

std::string S(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return "-";
  return json::serialize(v);
}

std::string Num(const json::value& v, const char* fmt = "%.2f") {
  if (!v.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v.to_number<double>());
  return buf;
}

std::string StagesText(const json::value& stages) {
  std::string s;
  if (!stages.is_array()) return s;
  for (const auto& st : stages.as_array()) {
    const auto& o = st.as_object();
    if (!s.empty()) s += " -> ";
    s += S(o.at("node")) + "[" + S(o.at("first_layer")) + "," + S(o.at("end_layer")) + ")";
  }
  return s;
}

int Nodes(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, kCommonValued, {"json"});
  if (!f.ok()) return Usage("usage: edgesplitctl nodes [NAME] [--json] [--addr A] [--token T]\n");
  auto c = ClientFrom(*f);
  json::value v;
  RestReply raw;
  std::string target = f->positional().empty() ? "/v1/nodes" : "/v1/nodes/" + f->positional()[0];
  if (!Send(c, "GET", target, "", &v, &raw)) return 1;
  if (f->GetBool("json")) {
    std::printf("%s\n", raw.body.c_str());
    return 0;
  }
  std::vector<json::value> nodes;
  if (f->positional().empty()) {
    for (const auto& n : v.at("nodes").as_array()) nodes.push_back(n);
  } else {
    nodes.push_back(v);
  }
  std::printf("%-12s %-8s %-22s %-7s %6s %6s %8s %s\n", "NODE", "STATE", "DATA", "TRUSTED", "SPEED", "CPU", "SEEN_MS", "SEGMENTS");
  for (const auto& n : nodes) {
    const auto& o = n.as_object();
    std::string segs;
    for (const auto& s : o.at("segments").as_array()) {
      const auto& so = s.as_object();
      segs += S(so.at("deployment")) + "@" + S(so.at("epoch")) + "[" + S(so.at("first_layer")) + "," +
              S(so.at("end_layer")) + ")" + (so.at("active").as_bool() ? "*" : "") + " ";
    }
    std::printf("%-12s %-8s %-22s %-7s %6s %6s %8s %s\n", S(o.at("name")).c_str(), S(o.at("state")).c_str(),
                S(o.at("data_address")).c_str(), o.at("trusted").as_bool() ? "yes" : "no", Num(o.at("speed")).c_str(),
                Num(o.at("cpu_utilization")).c_str(), Num(o.at("last_seen_ms_ago"), "%.0f").c_str(), segs.c_str());
  }
  return 0;
}

int Models(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, kCommonValued, {"json"});
  if (!f.ok()) return Usage("usage: edgesplitctl models [NAME] [--json]\n");
  auto c = ClientFrom(*f);
  json::value v;
  RestReply raw;
  std::string target = f->positional().empty() ? "/v1/models" : "/v1/models/" + f->positional()[0];
  if (!Send(c, "GET", target, "", &v, &raw)) return 1;
  if (f->GetBool("json") || !f->positional().empty()) {
    std::printf("%s\n", raw.body.c_str());
    return 0;
  }
  std::printf("%-20s %7s %14s %s\n", "MODEL", "LAYERS", "PARAM_BYTES", "PROFILE");
  for (const auto& m : v.at("models").as_array()) {
    const auto& o = m.as_object();
    std::printf("%-20s %7s %14s %s\n", S(o.at("name")).c_str(), S(o.at("num_layers")).c_str(),
                S(o.at("total_param_bytes")).c_str(), S(o.at("profile_source")).c_str());
  }
  return 0;
}

// A flag that is a whole decimal integer goes as a JSON integer; anything else goes as the
// string, so the orchestrator's 400 names the key ("deployment.kv_sessions: must be a number").
json::value IntOrString(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || *end != '\0') return json::value(text);
  return json::value(static_cast<int64_t>(n));
}

json::object SpecFrom(const Flags& f, bool need_name) {
  json::object o;
  if (need_name) o["name"] = f.Get("name");
  o["model"] = f.Get("model");
  if (f.Has("entry")) o["entry_node"] = f.Get("entry");
  if (f.Has("objective")) o["objective"] = f.Get("objective");
  if (f.Has("slo-ms")) o["slo_latency_ms"] = std::atof(f.Get("slo-ms").c_str());
  if (f.Has("trusted-prefix")) o["trusted_prefix_layers"] = std::atoi(f.Get("trusted-prefix").c_str());
  if (f.Has("max-stages")) o["max_stages"] = std::atoi(f.Get("max-stages").c_str());
  if (f.Has("kv-sessions")) o["kv_sessions"] = IntOrString(f.Get("kv-sessions"));
  if (f.Has("kv-context-tokens")) o["kv_context_tokens"] = IntOrString(f.Get("kv-context-tokens"));
  return o;
}

void PrintDeployment(const json::value& v) {
  const auto& o = v.as_object();
  std::printf("%-16s %-13s epoch %-3s %-40s pred %s ms  obs p50 %s ms  req %s fail %s\n", S(o.at("name")).c_str(),
              S(o.at("status")).c_str(), S(o.at("epoch")).c_str(), StagesText(o.at("stages")).c_str(),
              Num(o.at("predicted_latency_ms")).c_str(), Num(o.at("observed_p50_ms")).c_str(),
              S(o.at("requests_total")).c_str(), S(o.at("failures_total")).c_str());
}

const char* kDeployUsage =
    "usage: edgesplitctl deploy --name NAME --model MODEL [--entry NODE] [--objective latency|period|mixed]\n"
    "         [--slo-ms MS] [--trusted-prefix N] [--max-stages N] [--kv-sessions N] [--kv-context-tokens N]\n"
    "         [--wait-s S] [--json]\n";

int Deploy(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, With(kCommonValued, {"name", "model", "entry", "objective", "slo-ms", "trusted-prefix",
                                                   "max-stages", "kv-sessions", "kv-context-tokens", "wait-s"}),
                        {"json"});
  if (!f.ok() || !f->Has("name") || !f->Has("model")) return Usage(kDeployUsage);
  auto c = ClientFrom(*f);
  json::value v;
  RestReply raw;
  if (!Send(c, "POST", "/v1/deployments", json::serialize(SpecFrom(*f, true)), &v, &raw)) return 1;
  const double wait_s = std::atof(f->Get("wait-s", "0").c_str());
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  while (wait_s > 0 && v.as_object().at("status").as_string() != "serving") {
    if (std::chrono::steady_clock::now() > until) {
      std::fprintf(stderr, "error: deployment not serving after %.1f s (status %s)\n", wait_s,
                   S(v.as_object().at("status")).c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!Send(c, "GET", "/v1/deployments/" + f->Get("name"), "", &v, &raw)) return 1;
  }
  if (f->GetBool("json")) {
    std::printf("%s\n", raw.body.c_str());
  } else {
    PrintDeployment(v);
  }
  return 0;
}

int Undeploy(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, kCommonValued, {"json"});
  if (!f.ok() || f->positional().size() != 1) return Usage("usage: edgesplitctl undeploy NAME\n");
  auto c = ClientFrom(*f);
  json::value v;
  if (!Send(c, "DELETE", "/v1/deployments/" + f->positional()[0], "", &v)) return 1;
  std::printf("deleted %s\n", f->positional()[0].c_str());
  return 0;
}

int Deployments(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, kCommonValued, {"json"});
  if (!f.ok()) return Usage("usage: edgesplitctl deployments [NAME] [--json]\n");
  auto c = ClientFrom(*f);
  json::value v;
  RestReply raw;
  std::string target = f->positional().empty() ? "/v1/deployments" : "/v1/deployments/" + f->positional()[0];
  if (!Send(c, "GET", target, "", &v, &raw)) return 1;
  if (f->GetBool("json")) {
    std::printf("%s\n", raw.body.c_str());
    return 0;
  }
  if (f->positional().empty()) {
    for (const auto& d : v.at("deployments").as_array()) PrintDeployment(d);
  } else {
    PrintDeployment(v);
  }
  return 0;
}

int PlanPreview(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, With(kCommonValued, {"model", "entry", "objective", "slo-ms", "trusted-prefix", "max-stages", "name",
                                                   "kv-sessions", "kv-context-tokens"}),
                        {"json"});
  if (!f.ok() || !f->Has("model"))
    return Usage("usage: edgesplitctl plan-preview --model MODEL [--entry NODE] [--objective K] [--trusted-prefix N]\n"
                 "         [--kv-sessions N] [--kv-context-tokens N]\n"
                 "  runs the orchestrator's planner on live profiles without applying (POST /v1/plan)\n");
  auto c = ClientFrom(*f);
  json::value v;
  RestReply raw;
  if (!Send(c, "POST", "/v1/plan", json::serialize(SpecFrom(*f, false)), &v, &raw)) return 1;
  if (f->GetBool("json")) {
    std::printf("%s\n", raw.body.c_str());
    return 0;
  }
  const auto& o = v.as_object();
  std::printf("%s: %s  latency %s ms  period %s ms  lower bound %s\n", S(o.at("status")).c_str(),
              StagesText(o.at("stages")).c_str(), Num(o.at("latency_ms")).c_str(), Num(o.at("period_ms")).c_str(),
              Num(o.at("lower_bound")).c_str());
  return 0;
}

int Infer(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, With(kCommonValued, {"deployment", "input", "out", "deadline-ms"}), {"json"});
  if (!f.ok() || !f->Has("deployment") || !f->Has("input"))
    return Usage("usage: edgesplitctl infer --deployment NAME --input IN.npy [--out OUT.npy] [--deadline-ms MS]\n");
  std::ifstream in(f->Get("input"), std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: cannot read %s\n", f->Get("input").c_str());
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = ClientFrom(*f);
  RestReply raw;
  std::string target = "/v1/deployments/" + f->Get("deployment") + "/infer";
  if (f->Has("deadline-ms")) target += "?deadline_ms=" + f->Get("deadline-ms");
  const auto t0 = std::chrono::steady_clock::now();
  if (!Send(c, "POST", target, ss.str(), nullptr, &raw, "application/x-npy")) return 1;
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (f->Has("out")) {
    std::ofstream out(f->Get("out"), std::ios::binary);
    out << raw.body;
    if (!out) {
      std::fprintf(stderr, "error: cannot write %s\n", f->Get("out").c_str());
      return 1;
    }
  }
  if (f->GetBool("json")) {
    std::printf("{\"ok\": true, \"latency_ms\": %.3f, \"bytes\": %zu}\n", ms, raw.body.size());
  } else {
    std::printf("ok: %zu bytes in %.2f ms%s%s\n", raw.body.size(), ms, f->Has("out") ? ", wrote " : "",
                f->Get("out").c_str());
  }
  return 0;
}

int Events(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, With(kCommonValued, {"deployment", "after", "limit"}), {"json", "follow"});
  if (!f.ok()) return Usage("usage: edgesplitctl events [--deployment NAME] [--after SEQ] [--limit N] [--follow] [--json]\n");
  auto c = ClientFrom(*f);
  std::string after = f->Get("after", "0");
  for (;;) {
    std::string target = "/v1/events?after=" + after + "&limit=" + f->Get("limit", "1000");
    if (f->Has("deployment")) target += "&deployment=" + f->Get("deployment");
    json::value v;
    RestReply raw;
    if (!Send(c, "GET", target, "", &v, &raw)) return 1;
    if (f->GetBool("json") && !f->GetBool("follow")) {
      std::printf("%s\n", raw.body.c_str());
      return 0;
    }
    for (const auto& e : v.at("events").as_array()) {
      const auto& o = e.as_object();
      if (f->GetBool("json")) {
        std::printf("%s\n", json::serialize(e).c_str());
      } else {
        std::printf("%8.3fs #%-5s %-10s %-12s %-14s %-14s epoch %-3s gain %7s ms cost %7s ms  %s\n",
                    o.at("t_ms").is_number() ? o.at("t_ms").to_number<double>() / 1e3 : 0.0, S(o.at("seq")).c_str(),
                    S(o.at("type")).c_str(), (S(o.at("deployment")) + S(o.at("node"))).c_str(), S(o.at("kind")).c_str(),
                    S(o.at("trigger")).c_str(), S(o.at("epoch")).c_str(), Num(o.at("predicted_gain_ms")).c_str(),
                    Num(o.at("cost_ms")).c_str(), S(o.at("reason")).c_str());
      }
      after = S(o.at("seq"));
    }
    std::fflush(stdout);
    if (!f->GetBool("follow")) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int Policy(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, kCommonValued, {"json"});
  if (!f.ok()) return Usage("usage: edgesplitctl policy [KEY=VALUE ...] [--json]   (no pairs: show)\n");
  auto c = ClientFrom(*f);
  json::value v;
  RestReply raw;
  if (f->positional().empty()) {
    if (!Send(c, "GET", "/v1/policy", "", &v, &raw)) return 1;
  } else {
    json::object body;
    for (const auto& kv : f->positional()) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) return Usage("policy: expected KEY=VALUE\n");
      char* end = nullptr;
      double d = std::strtod(kv.c_str() + eq + 1, &end);
      if (*end) return Usage("policy: values are numbers\n");
      body[kv.substr(0, eq)] = d;
    }
    if (!Send(c, "PUT", "/v1/policy", json::serialize(body), &v, &raw)) return 1;
  }
  std::printf("%s\n", raw.body.c_str());
  return 0;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(rest_nodes, "nodes", "list nodes (REST client)", Nodes);
ES_REGISTER_SUBCOMMAND(rest_models, "models", "list the orchestrator's model catalog", Models);
ES_REGISTER_SUBCOMMAND(rest_deploy, "deploy", "create a deployment", Deploy);
ES_REGISTER_SUBCOMMAND(rest_undeploy, "undeploy", "delete a deployment", Undeploy);
ES_REGISTER_SUBCOMMAND(rest_deployments, "deployments", "list or inspect deployments", Deployments);
ES_REGISTER_SUBCOMMAND(rest_plan_preview, "plan-preview", "planner preview on live profiles (POST /v1/plan)", PlanPreview);
ES_REGISTER_SUBCOMMAND(rest_infer, "infer", "run one inference through the gateway (.npy in/out)", Infer);
ES_REGISTER_SUBCOMMAND(rest_events, "events", "decision and rollout events", Events);
ES_REGISTER_SUBCOMMAND(rest_policy, "policy", "show or change migration policy settings", Policy);

}  // namespace edgesplit
