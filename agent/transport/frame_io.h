// Reading and writing data frames on a socket (Asio coroutines), with deadlines.
// Writes are scatter-gather from the tensor's own memory; reads validate the header and the
// metadata (and the caller's check) before receiving the payload, which the check's verdict
// says how to receive (payload_policy.h): into one allocation, a growing buffer, or nowhere.
// Must run on the socket's executor; not thread-safe per socket.
#pragma once

#include <functional>
#include <optional>

#include "agent/transport/frame.h"
#include "agent/transport/frame_header.h"
#include "agent/transport/payload_policy.h"
#include "agent/transport/token_bucket.h"
#include "common/net/async_io.h"

namespace edgesplit::transport {

using net::Awaitable;
using net::tcp;

// The caller's word on a frame whose metadata is valid: an error rejects it (e.g. unknown
// epoch, spec mismatch); otherwise `payload` says how to receive its bytes.
struct FrameVerdict {
  FrameVerdict(std::optional<FrameError> e = std::nullopt, PayloadMode p = PayloadMode::kGrow)
      : error(std::move(e)), payload(p) {}
  FrameVerdict(FrameError e) : error(std::move(e)) {}
  std::optional<FrameError> error;
  PayloadMode payload = PayloadMode::kGrow;
};

// Called after the metadata is decoded and the tensor description validated, before any of
// the payload is read.
using FrameCheck = std::function<FrameVerdict(const Frame& meta)>;

struct ReadFrameOutcome {
  std::optional<RejectReason> reject;  // set when the frame was bad (the caller closes the connection)
  bool clean_close = false;            // the peer closed between frames
  bool payload_discarded = false;      // the verdict was kDiscard: `f->tensor` holds no bytes
};

// idle_deadline: waiting for the first byte of a frame; frame_deadline: the rest of it, all of
// it together (a peer dripping bytes cannot stretch one frame forever).
// Without a check the payload is allocated at once (a client reading its own server's answers).
// On success `f->tensor` holds the payload (when has_tensor and not discarded).
Awaitable<Status> ReadFrame(net::Stream& socket, const FrameLimits& limits, Duration idle_deadline,
                            Duration frame_deadline, const FrameCheck& check, Frame* f, ReadFrameOutcome* outcome);

// Writes header + metadata + tensor bytes. With `egress`, paces the bytes through the bucket
// (chunks of 64 KiB), emulating a slower link.
Awaitable<Status> WriteFrame(net::Stream& socket, const Frame& f, Duration deadline, TokenBucket* egress = nullptr);

}  // namespace edgesplit::transport
