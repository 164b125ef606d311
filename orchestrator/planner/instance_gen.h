// Seeded random instances for tests and the planner benchmark (pure: std::mt19937_64 only).
// Families follow the issue: PipeEdge-like worlds (host bandwidth ~ N(500, 200) Mbps truncated
// to [5, 1000], a link gets the smaller of its hosts'), a low-bandwidth regime (mean 50 Mbps),
// clustered sites (1 Gbps inside a site, 10-100 Mbps across) and trusted fractions of 10-25 %
// with trusted prefixes of 1-4 layers.
#pragma once

#include <cstdint>
#include <string>

#include "orchestrator/planner/instance.h"

namespace edgesplit::planner {

// Tiny instances (n <= max_nodes, L <= max_layers) exercising every constraint: memory,
// trust, missing and asymmetric links, max_stages, pins, all objectives, re-planning, KV
// reservations (about a third of them).
PlanningInstance RandomTinyInstance(uint64_t seed, int max_nodes = 4, int max_layers = 6);

enum class Family { kPipeEdge, kLowBandwidth, kClustered, kTrusted };
const char* FamilyName(Family f);

// A transformer-like model (embedding, blocks, head) on n heterogeneous nodes.
PlanningInstance FamilyInstance(Family family, int nodes, int layers, uint64_t seed, ObjectiveKind objective);

}  // namespace edgesplit::planner
