// "host:port" parsing (pure). Hosts are IPv4/IPv6 literals or "localhost"; no DNS lookups on
// the data path.
#pragma once

#include <cstdint>
#include <string>

#include "common/base/status.h"

namespace edgesplit::net {

struct HostPort {
  std::string host;  // "127.0.0.1", "::1" (brackets stripped), "localhost"
  uint16_t port = 0;
  std::string ToString() const;  // brackets around IPv6
};

// Accepts "h:p" and "[v6]:p"; port 0..65535 (0 = pick any, for listeners).
Result<HostPort> ParseHostPort(const std::string& text);

}  // namespace edgesplit::net
