// Data frame fixed header and validation rules (pure: no sockets, no protobuf).
//
// Wire layout, all integers big-endian:
//   offset 0  u32 magic 0x45534631 ("ESF1")
//   offset 4  u16 version (1)
//   offset 6  u16 header length (24)
//   offset 8  u32 meta_len     serialized FrameMeta bytes that follow the header
//   offset 12 u32 reserved (0)
//   offset 16 u64 payload_len  raw tensor bytes that follow the metadata
// Everything is checked here before the receiver allocates anything for the frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/base/tensor.h"

namespace edgesplit::transport {

inline constexpr uint32_t kFrameMagic = 0x45534631u;
inline constexpr uint16_t kFrameVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 24;

struct FrameLimits {
  size_t max_frame_bytes = 256u << 20;  // header + meta + payload
  size_t max_meta_bytes = 64u << 10;
};

struct FrameHeader {
  uint32_t meta_len = 0;
  uint64_t payload_len = 0;
};

// Why a frame was rejected: the bounded label set of the rejected-frames metric.
enum class RejectReason {
  kBadMagic,
  kBadVersion,
  kTooLarge,
  kBadMeta,           // metadata does not parse / bad kind
  kUnknownDtype,
  kBadRank,
  kBadDims,
  kByteCountMismatch,  // payload_len != product(shape) * itemsize
  kSpecMismatch,       // dtype/shape differ from what the segment expects
  kUnknownEpoch,       // no such deployment/epoch (or layer) on this agent
  kTruncated,          // peer closed or stalled mid-frame
  kUnauthorized,       // the sender's certificate may not send this frame (data_authz.h)
};
inline constexpr int kNumRejectReasons = 12;
const char* RejectReasonName(RejectReason r);  // "bad_magic", ...

// A validation failure: the reason label and a message for logs/errors.
struct FrameError {
  RejectReason reason;
  Status status;
};

void EncodeFrameHeader(const FrameHeader& h, uint8_t out[kFrameHeaderBytes]);
// Checks magic, version, header length and sizes against the limits.
Result<FrameHeader> DecodeFrameHeader(const uint8_t in[kFrameHeaderBytes], const FrameLimits& limits,
                                      RejectReason* reason);

// Checks the tensor description in the metadata against the payload length:
// known dtype, rank <= kMaxRank, positive dims, payload_len == numel * itemsize.
// A frame carrying no tensor has dtype code 0, empty shape and payload_len 0.
Result<DType> ValidateTensorMeta(uint32_t dtype_code, const std::vector<int64_t>& shape, uint64_t payload_len,
                                 const FrameLimits& limits, RejectReason* reason);

}  // namespace edgesplit::transport
