#include "common/net/length_prefix.h"

#include <limits>

namespace edgesplit::net {

void EncodeLengthPrefix(uint32_t length, uint8_t out[kLengthPrefixBytes]) {
  out[0] = static_cast<uint8_t>(length >> 24);
  out[1] = static_cast<uint8_t>(length >> 16);
  out[2] = static_cast<uint8_t>(length >> 8);
  out[3] = static_cast<uint8_t>(length);
}

Result<uint32_t> DecodeLengthPrefix(const uint8_t in[kLengthPrefixBytes], size_t max_bytes, bool allow_empty) {
  const uint32_t n = (uint32_t{in[0]} << 24) | (uint32_t{in[1]} << 16) | (uint32_t{in[2]} << 8) | uint32_t{in[3]};
  if (n > max_bytes)
    return ResourceExhausted("message length " + std::to_string(n) + " exceeds limit " + std::to_string(max_bytes));
  if (n == 0 && !allow_empty) return InvalidArgument("empty message");
  return n;
}

Result<std::string> FrameBody(const std::string& body) {
  if (body.size() > std::numeric_limits<uint32_t>::max())
    return InvalidArgument("message body of " + std::to_string(body.size()) + " bytes does not fit a 4-byte length");
  std::string out(kLengthPrefixBytes + body.size(), '\0');
  EncodeLengthPrefix(static_cast<uint32_t>(body.size()), reinterpret_cast<uint8_t*>(out.data()));
  std::copy(body.begin(), body.end(), out.begin() + kLengthPrefixBytes);
  return out;
}

}  // namespace edgesplit::net
