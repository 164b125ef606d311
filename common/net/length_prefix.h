// Length-prefixed message framing (pure, no I/O): a 4-byte big-endian length, then the body.
// Used by the control channel (protobuf bodies). The length is checked against a limit before
// any buffer for the body is allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/base/status.h"

namespace edgesplit::net {

inline constexpr size_t kLengthPrefixBytes = 4;
// Default limit for one framed message body (control messages are small; data frames use
// agent/transport's own limit).
inline constexpr size_t kDefaultMaxMessageBytes = 256u << 20;

void EncodeLengthPrefix(uint32_t length, uint8_t out[kLengthPrefixBytes]);

// Decodes a prefix; resource_exhausted when the length exceeds `max_bytes`, invalid_argument
// when it is zero and `allow_empty` is false.
Result<uint32_t> DecodeLengthPrefix(const uint8_t in[kLengthPrefixBytes], size_t max_bytes, bool allow_empty = true);

// Prefix + body in one string (what goes on the wire). invalid_argument if body > 4 GiB - 1.
Result<std::string> FrameBody(const std::string& body);

}  // namespace edgesplit::net
