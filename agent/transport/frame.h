// A decoded data frame (plain struct, no protobuf) and its conversion to/from the wire metadata.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/base/tensor.h"
#include "common/model/generation_request.h"

namespace edgesplit::transport {

enum class FrameKind : int {
  kUnspecified = 0,
  kRequest = 1,
  kActivation = 2,
  kResult = 3,
  kError = 4,
  kProbe = 5,
  kProbeReply = 6,
  kGenerate = 7,
  kStep = 8,
  kToken = 9,
  kGenDone = 10,
  kSessionEnd = 11,
  kKvPush = 12,
  kKvData = 13,
  kKvReady = 14,
};
const char* FrameKindName(FrameKind k);

// A stage of an epoch as FRAME_KV_PUSH names it: where the session's KV of its layers goes.
struct StageRange {
  std::string node;
  std::string address;
  int32_t first_layer = 0;
  int32_t end_layer = 0;
};
constexpr size_t kMaxCarryStages = 256;

struct Frame {
  FrameKind kind = FrameKind::kUnspecified;
  uint64_t request_id = 0;
  std::string deployment;
  uint64_t epoch = 0;
  int32_t layer = 0;
  int64_t deadline_unix_ms = 0;
  std::string origin;
  std::string error_code;
  std::string error;
  std::string stage;
  // Generation sessions (data.proto).
  uint64_t session_id = 0;
  int64_t position = 0;
  int64_t token_index = 0;
  int64_t token = 0;
  int64_t context_tokens = 0;
  bool has_gen = false;
  GenerationRequest gen;  // sampling, max_new_tokens, stop tokens (prompt travels as the tensor)
  std::string finish_reason;
  int64_t prompt_tokens = 0;
  double ttft_ms = 0;
  double ms_per_token = 0;
  int32_t moves = 0;
  double stall_ms_max = 0;
  // KV copy (data.proto): STEP/KV_DATA: the epoch the session's KV comes from; KV_PUSH: the
  // epoch it goes to, the end of the positions to send and that epoch's stages.
  uint64_t carry_epoch = 0;
  int64_t kv_end = 0;
  std::vector<StageRange> carry_stages;
  bool has_tensor = false;  // false: dtype 0, empty shape, no payload
  HostTensor tensor;        // shares bytes with the sender's/receiver's buffer

  // This frame's metadata without its tensor (for errors about it once the tensor moved on).
  Frame WithoutTensor() const;
  // A FRAME_ERROR carrying `status` for `request_id`.
  static Frame ErrorFor(const Frame& req, const Status& status, const std::string& stage);
  // The Status of a FRAME_ERROR (internal if the code name is unknown).
  Status ErrorStatus() const;
};

// Serialized FrameMeta for `f` (dtype/shape from f.tensor when has_tensor).
std::string EncodeFrameMeta(const Frame& f);
// Parses FrameMeta into `f` (tensor left empty; dtype code and shape returned for validation).
Status DecodeFrameMeta(const void* bytes, size_t len, Frame* f, uint32_t* dtype_code, std::vector<int64_t>* shape);

StatusCode StatusCodeFromName(const std::string& name);

}  // namespace edgesplit::transport
