#include "agent/transport/payload_policy.h"

namespace edgesplit::transport {

PayloadRule PayloadRuleFor(FrameKind kind) {
  switch (kind) {
    case FrameKind::kRequest:
    case FrameKind::kGenerate:
    case FrameKind::kActivation:
    case FrameKind::kStep:
    case FrameKind::kKvData:
      return {true, PayloadMode::kAllocate};
    case FrameKind::kResult:
      return {true, PayloadMode::kGrow};
    case FrameKind::kProbe:
      return {true, PayloadMode::kDiscard};
    default:
      return {false, PayloadMode::kDiscard};
  }
}

}  // namespace edgesplit::transport
