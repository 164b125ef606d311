// `edgesplitctl load`: drives steady load at a deployment, through the orchestrator's gateway
// (REST) or straight to the entry agent's data port, and reports what clients saw. Used by the
// demo and the integration tests. Entry mode resolves the entry from the REST API and, when a
// request fails in a retryable way, re-resolves and retries until the request's deadline: only
// requests that miss their deadline count as failed.
//   --timeline FILE writes one line per request: start_ms latency_ms ok error
//   --stop-file FILE ends the run early once FILE exists (the report is still written)
// With --generate-sessions N it instead runs N concurrent streamed generation sessions through
// the gateway (load_generate.h) and reports sessions ok/failed, aggregate tokens/s and the
// client-seen time to first token and inter-token latency.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "agent/transport/client.h"
#include "common/base/flags.h"
#include "common/base/subcommand.h"
#include "common/model/npy.h"
#include "orchestrator/api/rest_client.h"
#include "orchestrator/ctl/client_tls.h"
#include "orchestrator/ctl/generate_flags.h"
#include "orchestrator/ctl/load_generate.h"

namespace edgesplit {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

struct Sample {
  double start_ms;
  double latency_ms;
  bool ok;
  std::string error;
};

const char* kUsage =
    "usage: edgesplitctl load --deployment NAME --input IN.npy [--rps N] [--duration-s S] [--concurrency N]\n"
    "         [--via gateway|entry] [--deadline-ms MS] [--timeline FILE] [--stop-file FILE] [--json] [--addr A] [--token T]\n"
    "         [--ca F --cert F --key F]   (--via entry over TLS: a client certificate; or EDGESPLIT_TLS_CA/CERT/KEY)\n"
    "       edgesplitctl load --deployment NAME --generate-sessions N [--prompt-len P] [--new-tokens M] [--json]\n"
    "         [--via gateway|entry] [--stop-file FILE] [--streams-log FILE] [--temperature T --top-k K --top-p P]\n";

int Load(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"addr", "token", "deployment", "input", "rps", "duration-s", "concurrency", "via",
                               "deadline-ms", "timeline", "stop-file", "generate-sessions", "prompt-len", "new-tokens",
                               "ca", "cert", "key", "streams-log", "temperature", "top-k", "top-p"},
                        {"json"});
  if (!f.ok()) return ctl::FlagError(f.status().message());
  if (f->Has("generate-sessions")) return ctl::LoadGenerate(*f);
  if (!f->Has("deployment") || !f->Has("input")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const char* env_addr = std::getenv("EDGESPLIT_ADDR");
  const char* env_token = std::getenv("EDGESPLIT_TOKEN");
  const std::string addr = f->Get("addr", env_addr ? env_addr : "127.0.0.1:8080");
  const std::string token = f->Get("token", env_token ? env_token : "");
  const std::string deployment = f->Get("deployment");
  const std::string via = f->Get("via", "gateway");
  const double rps = std::atof(f->Get("rps", "20").c_str());
  const double duration_s = std::atof(f->Get("duration-s", "10").c_str());
  const int concurrency = std::atoi(f->Get("concurrency", "4").c_str());
  const double deadline_ms = std::atof(f->Get("deadline-ms", "10000").c_str());
  if (!(rps > 0) || !(duration_s > 0) || concurrency < 1 || concurrency > 256 || !(deadline_ms > 0) ||
      (via != "gateway" && via != "entry")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto tls = ctl::ClientTls(*f);
  if (!tls.ok()) return ctl::FlagError(tls.status().message());
  auto input = ReadNpyFile(f->Get("input"));
  if (!input.ok()) {
    std::fprintf(stderr, "error: %s\n", input.status().ToString().c_str());
    return 2;
  }
  const std::string npy = EncodeNpy(*input);
  const std::string stop_file = f->Get("stop-file");
  const auto t0 = Clock::now();
  const long long total = static_cast<long long>(rps * duration_s);
  std::atomic<long long> next{0};
  std::mutex mu;
  std::vector<Sample> samples;
  std::string shared_entry;
  auto worker = [&]() {
    orch::RestClient rest(addr, token, std::chrono::milliseconds(static_cast<long long>(deadline_ms) + 1000));
    std::unique_ptr<transport::DataClient> client;
    std::string client_addr;
    for (;;) {
      long long i = next.fetch_add(1);
      if (i >= total) return;
      if (!stop_file.empty() && i % 4 == 0 && std::ifstream(stop_file).good()) {
        next.store(total);
        return;
      }
      const auto at = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / rps));
      std::this_thread::sleep_until(at);
      const auto start = Clock::now();
      const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(deadline_ms));
      Sample s{std::chrono::duration<double, std::milli>(start - t0).count(), 0, false, ""};
      if (via == "gateway") {
        auto r = rest.Call("POST", "/v1/deployments/" + deployment + "/infer?deadline_ms=" + f->Get("deadline-ms", "10000"),
                           npy, "application/x-npy");
        if (r.ok() && r->status == 200) {
          s.ok = true;
        } else {
          s.error = r.ok() ? "http_" + std::to_string(r->status) : StatusCodeName(r.status().code());
        }
      } else {
        while (Clock::now() < deadline) {
          std::string entry;
          {
            std::lock_guard<std::mutex> l(mu);
            entry = shared_entry;
          }
          if (entry.empty()) {
            entry = ctl::ResolveEntry(rest, deployment);
            std::lock_guard<std::mutex> l(mu);
            shared_entry = entry;
          }
          if (entry.empty()) {
            s.error = "no_route";
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
          }
          if (!client || client_addr != entry) {
            transport::ClientOptions o;
            o.connect_timeout = std::chrono::seconds(1);
            o.request_timeout = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(deadline_ms));
            o.tls = *tls;
            auto c = transport::DataClient::Connect(entry, o);
            if (!c.ok()) {
              s.error = StatusCodeName(c.status().code());
              std::lock_guard<std::mutex> l(mu);
              if (shared_entry == entry) shared_entry.clear();
              std::this_thread::sleep_for(std::chrono::milliseconds(20));
              continue;
            }
            client = std::move(*c);
            client_addr = entry;
          }
          auto out = client->Infer(deployment, *input, 0);
          if (out.ok()) {
            s.ok = true;
            break;
          }
          s.error = StatusCodeName(out.status().code());
          if (out.status().code() == StatusCode::kInvalidArgument) break;
          client.reset();
          {
            std::lock_guard<std::mutex> l(mu);
            if (shared_entry == entry) shared_entry.clear();
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
      s.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (s.ok) s.error.clear();
      std::lock_guard<std::mutex> l(mu);
      samples.push_back(std::move(s));
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < concurrency; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  std::sort(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) { return a.start_ms < b.start_ms; });
  std::vector<double> lat;
  std::map<std::string, int> errors;
  int failed = 0;
  for (const auto& s : samples) {
    if (s.ok) {
      lat.push_back(s.latency_ms);
    } else {
      ++failed;
      ++errors[s.error];
    }
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))]; };
  if (f->Has("timeline")) {
    std::ofstream out(f->Get("timeline"));
    for (const auto& s : samples)
      out << s.start_ms << " " << s.latency_ms << " " << (s.ok ? 1 : 0) << " " << (s.error.empty() ? "-" : s.error) << "\n";
  }
  json::object errs;
  for (const auto& [k, v] : errors) errs[k] = v;
  json::object o{{"deployment", deployment}, {"via", via}, {"total_requests", samples.size()}, {"failed_requests", failed},
                 {"p50_ms", pct(0.5)}, {"p99_ms", pct(0.99)}, {"errors", errs}};
  if (f->GetBool("json")) {
    std::printf("%s\n", json::serialize(o).c_str());
  } else {
    std::printf("%zu requests via %s, %d failed, p50 %.2f ms, p99 %.2f ms\n", samples.size(), via.c_str(), failed,
                pct(0.5), pct(0.99));
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(rest_load, "load", "drive steady load at a deployment (gateway or entry)", Load);

}  // namespace edgesplit
