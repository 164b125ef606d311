#include "common/http/stream_writer.h"

namespace edgesplit {

StreamWriter::StreamWriter(StreamLimits limits, std::function<void()> wake)
    : limits_(limits), wake_(std::move(wake)) {}

bool StreamWriter::Write(std::string chunk) {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (gone_ || closed_) return false;
    if (queue_.size() >= limits_.max_chunks || queued_bytes_ + chunk.size() > limits_.max_bytes) return false;
    queued_bytes_ += chunk.size();
    queue_.push_back(std::move(chunk));
    wake = wake_;
  }
  // Outside the lock: wake posts to the connection, which then calls Take.
  if (wake) wake();
  return true;
}

void StreamWriter::Close() {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return;
    closed_ = true;
    wake = wake_;
  }
  if (wake) wake();
}

bool StreamWriter::client_gone() const {
  std::lock_guard<std::mutex> l(mu_);
  return gone_;
}

void StreamWriter::OnClientGone(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!gone_) {
      on_gone_ = std::move(fn);
      return;
    }
  }
  if (fn) fn();
}

StreamWriter::Batch StreamWriter::Take() {
  std::lock_guard<std::mutex> l(mu_);
  Batch b;
  b.chunks.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  queued_bytes_ = 0;
  b.closed = closed_;
  b.gone = gone_;
  return b;
}

void StreamWriter::MarkGone() {
  std::function<void()> on_gone;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (gone_) return;
    gone_ = true;
    wake_ = nullptr;
    queue_.clear();
    queued_bytes_ = 0;
    on_gone.swap(on_gone_);
  }
  if (on_gone) on_gone();
}

}  // namespace edgesplit
