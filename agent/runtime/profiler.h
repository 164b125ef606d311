// Per-layer profiling of a package on this machine: the numbers the planner consumes.
#pragma once

#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/base/tensor.h"
#include "common/model/manifest.h"

namespace edgesplit {

struct LayerProfile {
  std::string name;
  double median_ms = 0;
  uint64_t param_bytes = 0;
  uint64_t output_bytes = 0;
};

struct ModelProfile {
  std::string model;
  int runs = 0;
  uint64_t input_bytes = 0;
  std::vector<LayerProfile> layers;
  double total_median_ms = 0;
  // The compute probe's median time on this machine with the same threads (compute_probe.h):
  // what speed 1 means for these layer times.
  double probe_ms = 0;
};

// A deterministic input matching the manifest's input spec (token ids below `vocab_hint` for
// integer inputs, standard normal for float inputs) from `seed`.
HostTensor MakeExampleInput(const Manifest& m, uint64_t seed, int64_t vocab_hint = 0);

// Loads the whole package and runs it `runs` times (after one warm-up), reporting per-layer medians.
Result<ModelProfile> ProfileModel(const std::string& dir, int runs);

std::string ModelProfileToJson(const ModelProfile& p);

}  // namespace edgesplit
