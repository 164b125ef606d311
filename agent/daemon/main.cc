// edgesplit-agent: parse config, build the agent, serve until SIGTERM has drained it.
#include <iostream>

#include "agent/daemon/agent.h"
#include "agent/runtime/blas_kernels.h"
#include "agent/runtime/torch_threads.h"
#include "common/base/log.h"

int main(int argc, char** argv) {
  using namespace edgesplit;
  auto config = agent::AgentConfigFromArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  LogLevel level;
  if (ParseLogLevel(config->log_level, &level)) SetLogLevel(level);
  SetLogComponent("agent");
  // Before any thread starts: may re-execute the agent with OPENBLAS_CORETYPE set.
  const BlasChoice blas = SelectBlasKernels(argv, config->blas_kernels);
  LogInfo("blas_kernels").Kv("core", blas.core).Kv("detected", blas.detected).Kv("source", blas.source);
  // intra_op_threads defaults to 1: several agents may share one small box (tests, testbeds).
  ConfigureTorch({config->intra_op_threads, config->intra_op_threads});
  auto a = agent::Agent::Create(*config);
  if (!a.ok()) {
    LogError("agent_config_invalid").Kv("error", a.status().ToString());
    return 2;
  }
  const std::vector<std::string> args(argv + 1, argv + argc);
  (*a)->SetReloader([args] { return agent::AgentConfigFromArgs(args); });
  return (*a)->RunUntilSignal();
}
