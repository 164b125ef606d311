#include "agent/transport/frame_queue.h"

namespace edgesplit::transport {

namespace asio = boost::asio;

FrameQueue::FrameQueue(asio::any_io_executor ex, size_t max_frames) : max_(max_frames), wake_(ex) {
  wake_.expires_at(asio::steady_timer::time_point::max());
}

bool FrameQueue::Push(Frame f) {
  if (closed_ || q_.size() >= max_) return false;
  q_.push_back(std::move(f));
  wake_.cancel();
  return true;
}

net::Awaitable<std::optional<Frame>> FrameQueue::Pop() {
  while (q_.empty() && !closed_) {
    wake_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (closed_) co_return std::nullopt;
  Frame f = std::move(q_.front());
  q_.pop_front();
  co_return f;
}

std::deque<Frame> FrameQueue::Close() {
  closed_ = true;
  wake_.cancel();
  return std::exchange(q_, {});
}

}  // namespace edgesplit::transport
