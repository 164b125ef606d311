#include "common/net/endpoint.h"

#include <charconv>

namespace edgesplit::net {

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(const std::string& text) {
  HostPort hp;
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return InvalidArgument("address '" + text + "' is not [host]:port");
    hp.host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return InvalidArgument("address '" + text + "' is not host:port");
    hp.host = text.substr(0, colon);
    if (hp.host.find(':') != std::string::npos)
      return InvalidArgument("address '" + text + "': IPv6 hosts need brackets, e.g. [::1]:7000");
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535 || port_text.empty())
    return InvalidArgument("address '" + text + "': bad port '" + port_text + "'");
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

}  // namespace edgesplit::net
