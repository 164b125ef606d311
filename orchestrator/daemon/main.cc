// edgesplit-orchestrator: parse config, build the app, run until SIGTERM.
#include <csignal>
#include <cstdio>

#include "common/base/log.h"
#include "orchestrator/daemon/app.h"

int main(int argc, char** argv) {
  using namespace edgesplit;
  SetLogComponent("orchestrator");
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(orch::OrchestratorUsage().c_str(), stdout);
      return 0;
    }
  }
  auto config = orch::OrchestratorConfigFromArgs(args);
  if (!config.ok()) {
    std::fprintf(stderr, "edgesplit-orchestrator: %s\n%s", config.status().ToString().c_str(), orch::OrchestratorUsage().c_str());
    return 2;
  }
  // Signals are taken by sigwait in RunUntilSignal: block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  auto app = orch::OrchestratorApp::Create(*config);
  if (!app.ok()) {
    std::fprintf(stderr, "edgesplit-orchestrator: %s\n", app.status().ToString().c_str());
    return 1;
  }
  (*app)->EnableServiceNotifications();
  (*app)->Start();
  std::printf("control %s http %s\n", (*app)->control_address().c_str(), (*app)->http_address().c_str());
  std::fflush(stdout);
  (*app)->RunUntilSignal([args] { return orch::OrchestratorConfigFromArgs(args); });
  return 0;
}
