// A small orchestrator for the control-channel and REST fuzzers: a Controller over a catalog of
// two models (a generating 4-layer "gpt" and a 2-layer "cnn"), nodes n1 and n2 registered and
// trusted by the operator (trusted_nodes), and deployment "d" of gpt placed on them, so fuzzed
// input meets a controller that has something to plan, fence and serve, not an empty one. Fresh
// per input (deterministic).
#pragma once

#include <memory>

#include "common/base/clock.h"
#include "orchestrator/controller/controller.h"

namespace edgesplit::fuzz {

struct FuzzCluster {
  FakeClock clock;
  std::unique_ptr<orch::Controller> controller;
  FuzzCluster();
};

orch::ModelCatalog FuzzCatalog();
orch::RegisterInfo FuzzNode(const std::string& name);

}  // namespace edgesplit::fuzz
