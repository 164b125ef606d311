#include "agent/runtime/compute_probe.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/full.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/matmul.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace edgesplit {

double RunComputeProbe() {
  c10::InferenceMode guard;
  // Fixed inputs (a seeded generator would cost more than the probe): the time, not the values,
  // is the result, and the values stay finite.
  static const at::Tensor w = at::full({512, 512}, 1.0f / 512);
  at::Tensor x = at::full({64, 512}, 0.5f);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) x = at::gelu(at::matmul(x, w));
  volatile float sink = x[0][0].item<float>();  // forces the computation
  (void)sink;
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double MedianComputeProbeMs(int runs) {
  (void)RunComputeProbe();
  std::vector<double> v;
  for (int i = 0; i < std::max(runs, 1); ++i) v.push_back(RunComputeProbe());
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace edgesplit
