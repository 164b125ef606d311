// A bounded FIFO of frames with an awaitable Pop, for one writer coroutine per connection.
// Single-threaded: use only on its executor (the agent's io thread).
#pragma once

#include <deque>
#include <optional>

#include "agent/transport/frame.h"
#include "common/net/async_io.h"

namespace edgesplit::transport {

class FrameQueue {
 public:
  FrameQueue(net::asio::any_io_executor ex, size_t max_frames);
  // false when full or closed.
  bool Push(Frame f);
  // The next frame; nullopt once closed.
  net::Awaitable<std::optional<Frame>> Pop();
  // Wakes Pop with nullopt; drops queued frames (returned so callers can fail them).
  std::deque<Frame> Close();
  size_t size() const { return q_.size(); }
  bool closed() const { return closed_; }

 private:
  size_t max_;
  std::deque<Frame> q_;
  net::asio::steady_timer wake_;
  bool closed_ = false;
};

}  // namespace edgesplit::transport
