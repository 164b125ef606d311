// Data frames as an agent receives them (agent/transport/frame_io.cc, ReadFrame), over a byte
// buffer instead of a socket and in the same order: fixed header, FrameMeta, the tensor
// description, then the payload. A frame that decodes must re-encode to the same frame.
#include <cstdlib>
#include <cstring>

#include <google/protobuf/stubs/logging.h>

#include "agent/transport/frame.h"
#include "agent/transport/frame_header.h"
#include "agent/transport/payload_policy.h"
#include "common/base/log.h"

using namespace edgesplit;
using namespace edgesplit::transport;

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "frame round trip: %s\n", what);
    std::abort();
  }
}

void CheckRoundTrip(const Frame& f) {
  const std::string meta = EncodeFrameMeta(f);
  Frame g;
  uint32_t dtype_code = 0;
  std::vector<int64_t> shape;
  Check(DecodeFrameMeta(meta.data(), meta.size(), &g, &dtype_code, &shape).ok(), "re-encoded metadata refused");
  Check(g.kind == f.kind && g.request_id == f.request_id && g.deployment == f.deployment && g.epoch == f.epoch &&
            g.layer == f.layer && g.session_id == f.session_id && g.token_index == f.token_index &&
            g.error_code == f.error_code && g.error == f.error && g.has_gen == f.has_gen &&
            g.gen.stop_tokens == f.gen.stop_tokens && g.moves == f.moves,
        "fields differ");
  if (f.has_tensor) Check(dtype_code == static_cast<uint32_t>(f.tensor.dtype) && shape == f.tensor.shape, "tensor differs");
}

}  // namespace

// Refused input is the normal case here: keep the product's logs (and protobuf's complaints
// about invalid UTF-8) from drowning the fuzzer's output and slowing it down.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  SetLogLevel(LogLevel::kError);
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kFrameHeaderBytes) return 0;
  FrameLimits limits;
  limits.max_frame_bytes = size_t{1} << 20;  // the decoder's checks, with less memory per input
  RejectReason reason{};
  auto header = DecodeFrameHeader(data, limits, &reason);
  if (!header.ok()) return 0;
  const uint8_t* p = data + kFrameHeaderBytes;
  size_t left = size - kFrameHeaderBytes;
  if (header->meta_len > left) return 0;  // truncated: the reader would time out
  Frame f;
  uint32_t dtype_code = 0;
  std::vector<int64_t> shape;
  if (!DecodeFrameMeta(p, header->meta_len, &f, &dtype_code, &shape).ok()) return 0;
  p += header->meta_len;
  left -= header->meta_len;
  (void)FrameKindName(f.kind);
  if (f.kind == FrameKind::kError) (void)f.ErrorStatus().ToString();
  f.has_tensor = dtype_code != 0 || !shape.empty() || header->payload_len != 0;
  // As the agent's frame check (agent_core_data.cc): kinds without a tensor refuse one before
  // anything is allocated for it.
  if (f.has_tensor && !PayloadRuleFor(f.kind).tensor_allowed) return 0;
  if (f.has_tensor) {
    auto dtype = ValidateTensorMeta(dtype_code, shape, header->payload_len, limits, &reason);
    if (!dtype.ok()) return 0;
    if (header->payload_len > left) return 0;
    f.tensor = HostTensor::Allocate(*dtype, shape);
    Check(f.tensor.nbytes == header->payload_len, "validated payload length differs from the tensor's");
    if (f.tensor.nbytes) std::memcpy(f.tensor.data, p, f.tensor.nbytes);
  }
  if (f.has_gen) {
    GenerationRequest req = f.gen;
    req.prompt = {1, 2, 3};  // the prompt travels as the tensor; the agent validates the rest
    (void)req.Validate(100, 64);
  }
  CheckRoundTrip(f);
  (void)Frame::ErrorFor(f, InvalidArgument("fuzz"), "stage").WithoutTensor();
  return 0;
}
