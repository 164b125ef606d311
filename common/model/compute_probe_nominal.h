// The compute probe's nominal time (agent/runtime/compute_probe.h): an agent reports
// speed_factor = kComputeProbeNominalMs / its probe's median time. The probe does about 134
// MFLOP (four 64x512 by 512x512 matmuls), so speed 1 is ~20 GFLOP/s: the box the FLOP-based
// reference estimate assumes (orchestrator/cluster/model_catalog.cc). A package profiled with
// `edgesplitctl model profile` records the probe's time on the profiling machine (`probe_ms`),
// which is then what speed 1 means for that model's reference layer times.
#pragma once

namespace edgesplit {
inline constexpr double kComputeProbeNominalMs = 6.7;
}  // namespace edgesplit
