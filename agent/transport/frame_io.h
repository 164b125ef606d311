// Reading and writing data frames on a socket (Asio coroutines), with deadlines.
// Writes are scatter-gather from the tensor's own memory; reads validate the header and the
// metadata (and the caller's check) before allocating the tensor, then receive straight into it.
// Must run on the socket's executor; not thread-safe per socket.
#pragma once

#include <functional>
#include <optional>

#include "agent/transport/frame.h"
#include "agent/transport/frame_header.h"
#include "agent/transport/token_bucket.h"
#include "common/net/async_io.h"

namespace edgesplit::transport {

using net::Awaitable;
using net::tcp;

// Called after the metadata is decoded and the tensor description validated, before the payload
// is allocated. Return a FrameError to reject the frame (e.g. unknown epoch, spec mismatch).
using FrameCheck = std::function<std::optional<FrameError>(const Frame& meta)>;

struct ReadFrameOutcome {
  std::optional<RejectReason> reject;  // set when the frame was bad (the caller closes the connection)
  bool clean_close = false;            // the peer closed between frames
};

// idle_deadline: waiting for the first byte of a frame; frame_deadline: the rest of it.
// On success `f->tensor` holds the payload (when has_tensor).
Awaitable<Status> ReadFrame(net::Stream& socket, const FrameLimits& limits, Duration idle_deadline,
                            Duration frame_deadline, const FrameCheck& check, Frame* f, ReadFrameOutcome* outcome);

// Writes header + metadata + tensor bytes. With `egress`, paces the bytes through the bucket
// (chunks of 64 KiB), emulating a slower link.
Awaitable<Status> WriteFrame(net::Stream& socket, const Frame& f, Duration deadline, TokenBucket* egress = nullptr);

}  // namespace edgesplit::transport
