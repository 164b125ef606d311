// Runtime emulation control (test feature): the pure part of `PUT /v1/emulation`.
// A body is a flat JSON object with optional numeric keys "compute_slowdown" (1..1000) and
// "egress_mbps" (>= 0, 0 = uncapped). Anything else (bad JSON, unknown or duplicate keys,
// non-numbers, values out of range) is invalid_argument and changes nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/daemon/config.h"
#include "common/base/status.h"

namespace edgesplit::agent {

inline constexpr double kMaxComputeSlowdown = 1000.0;

struct EmulationUpdate {
  std::optional<double> compute_slowdown;
  std::optional<double> egress_mbps;
};

// Parses and validates a request body.
Result<EmulationUpdate> ParseEmulationUpdate(std::string_view json);
// `current` with the keys present in `update` replaced.
EmulationConfig ApplyEmulationUpdate(EmulationConfig current, const EmulationUpdate& update);
// {"compute_slowdown": x, "egress_mbps": y}
std::string EmulationJson(const EmulationConfig& e);

}  // namespace edgesplit::agent
