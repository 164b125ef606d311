// How a data port receives each frame kind's payload (pure). A payload is never allocated from
// its announced length unless the receiver checked that length against what it expects:
//   REQUEST, GENERATE, ACTIVATION, STEP  the receiver's check compares the tensor with the
//                                        segment's input spec: allocate once, read into it;
//   RESULT                               an answer to a pending request grows as its bytes
//                                        arrive (at most twice what came); one nobody waits
//                                        for is read and dropped;
//   PROBE                                filler that measures bandwidth: read and dropped;
//   every other kind                     carries no tensor: a payload makes it a bad frame.
#pragma once

#include "agent/transport/frame.h"

namespace edgesplit::transport {

enum class PayloadMode {
  kAllocate,  // the size was verified: one allocation, received straight into
  kGrow,      // not verified: a buffer that doubles as it fills (64 KiB first)
  kDiscard,   // not needed: read through a fixed 64 KiB buffer and dropped
};

struct PayloadRule {
  bool tensor_allowed = false;
  PayloadMode mode = PayloadMode::kDiscard;
};

PayloadRule PayloadRuleFor(FrameKind kind);

}  // namespace edgesplit::transport
