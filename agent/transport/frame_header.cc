#include "agent/transport/frame_header.h"

namespace edgesplit::transport {

const char* RejectReasonName(RejectReason r) {
  switch (r) {
    case RejectReason::kBadMagic: return "bad_magic";
    case RejectReason::kBadVersion: return "bad_version";
    case RejectReason::kTooLarge: return "too_large";
    case RejectReason::kBadMeta: return "bad_meta";
    case RejectReason::kUnknownDtype: return "unknown_dtype";
    case RejectReason::kBadRank: return "bad_rank";
    case RejectReason::kBadDims: return "bad_dims";
    case RejectReason::kByteCountMismatch: return "byte_count_mismatch";
    case RejectReason::kSpecMismatch: return "spec_mismatch";
    case RejectReason::kUnknownEpoch: return "unknown_epoch";
    case RejectReason::kTruncated: return "truncated";
    case RejectReason::kUnauthorized: return "unauthorized";
  }
  return "unknown";
}

namespace {
void Put16(uint8_t* p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
void Put32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i)); }
void Put64(uint8_t* p, uint64_t v) { for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i)); }
uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Get32(const uint8_t* p) { uint32_t v = 0; for (int i = 0; i < 4; ++i) v = (v << 8) | p[i]; return v; }
uint64_t Get64(const uint8_t* p) { uint64_t v = 0; for (int i = 0; i < 8; ++i) v = (v << 8) | p[i]; return v; }
}  // namespace

void EncodeFrameHeader(const FrameHeader& h, uint8_t out[kFrameHeaderBytes]) {
  Put32(out, kFrameMagic);
  Put16(out + 4, kFrameVersion);
  Put16(out + 6, kFrameHeaderBytes);
  Put32(out + 8, h.meta_len);
  Put32(out + 12, 0);
  Put64(out + 16, h.payload_len);
}

Result<FrameHeader> DecodeFrameHeader(const uint8_t in[kFrameHeaderBytes], const FrameLimits& limits,
                                      RejectReason* reason) {
  if (Get32(in) != kFrameMagic) {
    *reason = RejectReason::kBadMagic;
    return InvalidArgument("bad frame magic (not an edgesplit data frame)");
  }
  if (Get16(in + 4) != kFrameVersion || Get16(in + 6) != kFrameHeaderBytes) {
    *reason = RejectReason::kBadVersion;
    return InvalidArgument("unsupported frame version " + std::to_string(Get16(in + 4)));
  }
  FrameHeader h;
  h.meta_len = Get32(in + 8);
  h.payload_len = Get64(in + 16);
  if (h.meta_len > limits.max_meta_bytes) {
    *reason = RejectReason::kTooLarge;
    return ResourceExhausted("frame metadata of " + std::to_string(h.meta_len) + " bytes exceeds limit " +
                             std::to_string(limits.max_meta_bytes));
  }
  if (h.payload_len > limits.max_frame_bytes ||
      kFrameHeaderBytes + h.meta_len + h.payload_len > limits.max_frame_bytes) {
    *reason = RejectReason::kTooLarge;
    return ResourceExhausted("frame of " + std::to_string(h.payload_len) + " payload bytes exceeds limit " +
                             std::to_string(limits.max_frame_bytes));
  }
  return h;
}

Result<DType> ValidateTensorMeta(uint32_t dtype_code, const std::vector<int64_t>& shape, uint64_t payload_len,
                                 const FrameLimits& limits, RejectReason* reason) {
  if (!IsKnownDTypeCode(dtype_code)) {
    *reason = RejectReason::kUnknownDtype;
    return InvalidArgument("unknown dtype code " + std::to_string(dtype_code));
  }
  const DType dtype = static_cast<DType>(dtype_code);
  if (shape.size() > static_cast<size_t>(kMaxRank)) {
    *reason = RejectReason::kBadRank;
    return InvalidArgument("rank " + std::to_string(shape.size()) + " exceeds " + std::to_string(kMaxRank));
  }
  for (int64_t d : shape) {
    if (d <= 0) {
      *reason = RejectReason::kBadDims;
      return InvalidArgument("non-positive dimension in shape " + ShapeToString(shape));
    }
  }
  auto numel = CheckedNumel(shape, dtype, limits.max_frame_bytes);
  if (!numel.ok()) {
    *reason = numel.status().code() == StatusCode::kResourceExhausted ? RejectReason::kTooLarge : RejectReason::kBadDims;
    return numel.status();
  }
  if (*numel * DTypeSize(dtype) != payload_len) {
    *reason = RejectReason::kByteCountMismatch;
    return InvalidArgument("payload of " + std::to_string(payload_len) + " bytes does not match shape " +
                           ShapeToString(shape) + " of " + DTypeName(dtype));
  }
  return dtype;
}

}  // namespace edgesplit::transport
