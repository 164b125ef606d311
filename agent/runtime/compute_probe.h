// A fixed libtorch workload whose run time tells how fast this node computes right now. The
// agent times it periodically on its compute pool and reports a speed factor from it, which the
// orchestrator uses for the layers this node has not run (layers it runs are measured directly).
#pragma once

#include "common/model/compute_probe_nominal.h"  // kComputeProbeNominalMs: speed 1

namespace edgesplit {

// Runs the probe once (a few ms: four [64 x 512] x [512 x 512] fp32 matmuls with GELU, on the
// threads torch is configured with) and returns its wall time in ms.
double RunComputeProbe();

// The median of `runs` probes (after one warm-up run).
double MedianComputeProbeMs(int runs);

}  // namespace edgesplit
