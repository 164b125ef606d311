// `edgesplit-bench heartbeats [--json] [--counts 500,1000,2000,4000] [--window-s S]`: many
// lightweight simulated agents (the real control protocol: Register, then Heartbeat at 4 Hz) against
// one edgesplit-orchestrator process. Per agent count it reports the heartbeats processed per
// second, the processing lag (orchestrator receive time minus agent send time, p99 from the
// orchestrator's own histogram) and the orchestrator's CPU use (cores, from /proc). "sustained"
// means at least 95 % of the expected heartbeats arrived and the p99 lag stayed under 100 ms.
// The simulator runs in this process on one io thread, so on a small box it competes for CPU.
// The sweep runs twice in one invocation: plaintext (`tls: {mode: off}`), then with mutual TLS
// as deployed (the orchestrator and every simulated agent hold certificates issued by a fresh
// CA with common/security/pki, one per simulated node name). The top-level keys are the
// plaintext sweep; "tls" holds the same keys for the TLS sweep, and both report
// register_ms_p50 (connect + handshake + Register until the ack).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>

#include "common/base/flags.h"
#include "common/base/subcommand.h"
#include "common/net/async_io.h"
#include "common/net/framed_message.h"
#include "common/proto/control.pb.h"
#include "common/security/pki.h"
#include "common/security/tls_context.h"
#include "orchestrator/api/rest_client.h"

namespace edgesplit {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string SelfDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, n);
  return p.substr(0, p.rfind('/'));
}

long CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), {});
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return 0;
  std::istringstream is(s.substr(rp + 2));
  std::string tok;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && is >> tok; ++i) {
    if (i == 14) utime = std::stol(tok);
    if (i == 15) stime = std::stol(tok);
  }
  return utime + stime;
}

// Parses edgesplit_orchestrator_heartbeat_lag_seconds buckets and count from /metrics text.
struct LagHist {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)
  double count = 0;
};
LagHist ParseLag(const std::string& text) {
  LagHist h;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("edgesplit_orchestrator_heartbeat_lag_seconds_bucket{le=\"", 0) == 0) {
      auto q = line.find('"', 56);
      std::string le = line.substr(56, q - 56);
      double v = std::stod(line.substr(line.rfind(' ') + 1));
      h.buckets.emplace_back(le == "+Inf" ? 1e300 : std::stod(le), v);
    } else if (line.rfind("edgesplit_orchestrator_heartbeat_lag_seconds_count", 0) == 0) {
      h.count = std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return h;
}

struct Sim {
  asio::io_context io;
  std::string address;
  std::atomic<int> registered{0};
  std::atomic<long> sent{0};
  bool stop = false;
  std::vector<security::TlsPtr> tls;  // per simulated node (empty: plaintext)
  std::vector<double> register_ms;    // io thread only

  asio::awaitable<void> Agent(int i) {
    const auto t0 = std::chrono::steady_clock::now();
    security::TlsPtr ctx = tls.empty() ? nullptr : tls[i];
    auto sock = co_await net::Connect(address, std::chrono::seconds(10), ctx);
    if (!sock.ok()) co_return;
    net::Stream s = std::move(*sock);
    v1::AgentToOrchestrator reg;
    auto* r = reg.mutable_register_();
    r->set_node("sim-" + std::to_string(i));
    r->set_version("bench");
    r->set_data_address("127.0.0.1:1");
    r->set_incarnation(static_cast<uint64_t>(i) + 1);
    r->mutable_capacity()->set_cores(4);
    if (!(co_await net::WriteMessage(s, reg, std::chrono::seconds(10))).ok()) co_return;
    v1::OrchestratorToAgent ack;
    if (!(co_await net::ReadMessage(s, &ack, std::chrono::seconds(10))).ok()) co_return;
    if (!ack.register_ack().accepted()) co_return;
    register_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    ++registered;
    asio::steady_timer t(io);
    std::mt19937 rng(i);
    t.expires_after(std::chrono::milliseconds(rng() % 250));
    uint64_t seq = 0;
    v1::AgentToOrchestrator hb;
    while (!stop) {
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      t.expires_at(t.expiry() + std::chrono::milliseconds(250));
      hb.Clear();
      auto* h = hb.mutable_heartbeat();
      h->set_seq(++seq);
      h->set_sent_unix_ms(UnixMs());
      auto* c = h->mutable_capacity();
      c->set_version(seq);
      c->set_cores(4);
      c->set_cpu_utilization(0.25);
      c->set_memory_total_bytes(8ull << 30);
      c->set_memory_available_bytes(4ull << 30);
      if (!(co_await net::WriteMessage(s, hb, std::chrono::seconds(10))).ok()) co_return;
      ++sent;
    }
  }
};

// One sweep against a fresh orchestrator process: plaintext when `pki_dir` is empty, else TLS
// with certificates from that CA (the orchestrator's and one per simulated agent, issued here).
struct Sweep {
  std::string rows;
  int best = 0;
  double best_cpu = 0;
  double register_ms_p50 = 0;
  double issue_s = 0;  // time to issue the simulated agents' certificates (TLS only)
};

Sweep RunSweep(const std::vector<int>& counts, double window_s, bool print, const std::string& pki_dir) {
  Sweep out;
  const bool tls = !pki_dir.empty();
  Sim sim;
  std::vector<std::string> tls_args = {"--tls-mode", "off"};
  if (tls) {
    auto orch_files = security::IssueCertificate(pki_dir, "orchestrator", security::Role::kOrchestrator, pki_dir + "/orch");
    if (!orch_files.ok()) {
      std::fprintf(stderr, "pki: %s\n", orch_files.status().ToString().c_str());
      return out;
    }
    tls_args = {"--tls-ca", orch_files->ca, "--tls-cert", orch_files->cert, "--tls-key", orch_files->key};
    const int most = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < most; ++i) {
      auto files = security::IssueCertificate(pki_dir, "sim-" + std::to_string(i), security::Role::kAgent, pki_dir + "/sims");
      if (!files.ok()) {
        std::fprintf(stderr, "pki: %s\n", files.status().ToString().c_str());
        return out;
      }
      security::TlsConfig c;
      c.mode_given = true;
      c.ca = files->ca;
      c.cert = files->cert;
      c.key = files->key;
      auto ctx = security::TlsContext::Create(c);
      if (!ctx.ok()) {
        std::fprintf(stderr, "tls: %s\n", ctx.status().ToString().c_str());
        return out;
      }
      sim.tls.push_back(*ctx);
    }
    out.issue_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  // Free ports for the orchestrator.
  auto pick = [] {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
  };
  const int cport = pick(), hport = pick();
  const std::string orch = SelfDir() + "/edgesplit-orchestrator";
  const std::string c = "127.0.0.1:" + std::to_string(cport), h = "127.0.0.1:" + std::to_string(hport);
  std::vector<std::string> argv_s = {orch, "--control-listen", c, "--http-listen", h, "--models-dir", "/nonexistent",
                                     "--state-dir", "", "--log-level", "warn", "--set", "liveness.suspect_after_ms=2000",
                                     "--set", "liveness.dead_after_ms=5000",
                                     // Every simulated agent dials from 127.0.0.1: lift the per-peer (and total) caps.
                                     "--set", "control.max_connections=100000", "--set",
                                     "control.max_connections_per_peer=100000"};
  argv_s.insert(argv_s.end(), tls_args.begin(), tls_args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execv(orch.c_str(), argv.data());
    _exit(127);
  }
  orch::RestClient rest(h, "", std::chrono::seconds(10));
  for (int i = 0; i < 100; ++i) {
    auto r = rest.Call("GET", "/readyz");
    if (r.ok() && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  sim.address = c;
  auto guard = asio::make_work_guard(sim.io);
  std::thread io_thread([&] { sim.io.run(); });
  const long hz = sysconf(_SC_CLK_TCK);
  int started = 0;
  for (int n : counts) {
    for (; started < n; ++started) asio::co_spawn(sim.io, sim.Agent(started), asio::detached);
    // Registration is a one-time cost (with TLS a handshake per agent, all on the simulator's one
    // thread): wait up to 2 minutes for it; the window below measures the steady state.
    for (int i = 0; i < 2400 && sim.registered.load() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto m1 = rest.Call("GET", "/metrics");
    long cpu1 = CpuTicks(pid);
    long sent1 = sim.sent.load();
    auto t1 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(window_s));
    auto m2 = rest.Call("GET", "/metrics");
    long cpu2 = CpuTicks(pid);
    long sent2 = sim.sent.load();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    if (!m1.ok() || !m2.ok()) break;
    LagHist a = ParseLag(m1->body), b = ParseLag(m2->body);
    double processed = b.count - a.count;
    double p99 = 0;
    for (size_t i = 0; i < b.buckets.size() && i < a.buckets.size(); ++i) {
      double d = b.buckets[i].second - a.buckets[i].second;
      if (processed > 0 && d >= 0.99 * processed) {
        p99 = b.buckets[i].first;
        break;
      }
    }
    double expected = n * 4.0 * secs;
    double cpu = static_cast<double>(cpu2 - cpu1) / hz / secs;
    bool sustained = sim.registered.load() >= n && processed >= 0.95 * expected && p99 <= 0.1;
    if (sustained) {
      out.best = n;
      out.best_cpu = cpu;
    }
    char buf[512];
    std::snprintf(buf, sizeof(buf),
                  "%s{\"agents\": %d, \"registered\": %d, \"heartbeats_per_s\": %.0f, \"expected_per_s\": %.0f, "
                  "\"sent_per_s\": %.0f, \"lag_p99_ms_le\": %.0f, \"orchestrator_cpu_cores\": %.3f, \"sustained\": %s}",
                  out.rows.empty() ? "" : ", ", n, sim.registered.load(), processed / secs, expected / secs,
                  (sent2 - sent1) / secs, p99 >= 1e299 ? -1.0 : p99 * 1e3, cpu, sustained ? "true" : "false");
    out.rows += buf;
    if (print)
      std::fprintf(stderr, "%s agents %d: %.0f heartbeats/s (expected %.0f), p99 lag <= %.0f ms, cpu %.2f cores, %s\n",
                   tls ? "tls" : "plaintext", n, processed / secs, expected / secs, p99 * 1e3, cpu,
                   sustained ? "sustained" : "NOT sustained");
    if (!sustained) break;
  }
  sim.stop = true;
  guard.reset();
  sim.io.stop();
  io_thread.join();
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  std::vector<double> reg = sim.register_ms;
  std::sort(reg.begin(), reg.end());
  out.register_ms_p50 = reg.empty() ? 0 : reg[reg.size() / 2];
  return out;
}

int Heartbeats(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"counts", "window-s"}, {"json"});
  if (!f.ok()) {
    std::fprintf(stderr, "usage: edgesplit-bench heartbeats [--counts 500,1000,2000,4000] [--window-s 4] [--json]\n");
    return 2;
  }
  std::vector<int> counts;
  {
    std::stringstream ss(f->Get("counts", "500,1000,2000,3000,4000"));
    std::string tok;
    while (std::getline(ss, tok, ',')) counts.push_back(std::stoi(tok));
  }
  const double window_s = std::atof(f->Get("window-s", "4").c_str());
  const bool print = !f->GetBool("json");
  const std::string plaintext;
  Sweep plain = RunSweep(counts, window_s, print, plaintext);
  std::string templ = std::filesystem::temp_directory_path().string() + "/edgesplit-bench-pki.XXXXXX";
  if (!::mkdtemp(templ.data())) {
    std::fprintf(stderr, "mkdtemp failed\n");
    return 1;
  }
  Sweep tls;
  if (Status s = security::InitCa(templ, 1); s.ok()) tls = RunSweep(counts, window_s, print, templ);
  else std::fprintf(stderr, "pki: %s\n", s.ToString().c_str());
  std::filesystem::remove_all(templ);
  std::printf("{\"bench\": \"heartbeats\", \"heartbeat_hz\": 4, \"window_s\": %.1f, \"levels\": [%s], "
              "\"max_sustained_agents\": %d, \"cpu_cores_at_max\": %.3f, \"register_ms_p50\": %.2f, "
              "\"tls\": {\"levels\": [%s], \"max_sustained_agents\": %d, \"cpu_cores_at_max\": %.3f, "
              "\"register_ms_p50\": %.2f, \"certificates_issue_s\": %.2f}}\n",
              window_s, plain.rows.c_str(), plain.best, plain.best_cpu, plain.register_ms_p50, tls.rows.c_str(), tls.best,
              tls.best_cpu, tls.register_ms_p50, tls.issue_s);
  return 0;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(heartbeats, "heartbeats", "simulated agents heartbeating at 4 Hz against one orchestrator", Heartbeats);

}  // namespace edgesplit
