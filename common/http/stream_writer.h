// The producer end of a streamed HTTP response (Server-Sent Events): a bounded queue of chunks
// between a handler's thread and the connection that writes them. Pure (no sockets): the HTTP
// server drains it on the connection's executor; tests can drain it directly.
// Thread-safe: Write/Close/client_gone from any thread; Take/MarkGone from the consumer.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace edgesplit {

struct StreamLimits {
  size_t max_chunks = 1024;           // chunks queued and not yet written
  size_t max_bytes = size_t{1} << 20; // bytes queued and not yet written
};

class StreamWriter {
 public:
  // `wake` (may be empty) runs after each Write/Close that the consumer must see; it must not
  // block and must not call back into the writer.
  explicit StreamWriter(StreamLimits limits = {}, std::function<void()> wake = {});

  // Queues `chunk`. False when it was not queued: the client is gone, the stream is closed, or
  // the queue is full (the client reads too slowly). False means: stop producing and Close().
  bool Write(std::string chunk);
  // Ends the stream once the queued chunks are written. Idempotent.
  void Close();
  // True once the client disconnected or a write to it failed: the producer should cancel.
  bool client_gone() const;
  // Runs `fn` once when the client goes away (at once if it already has), on the consumer's
  // thread: lets a producer that is between writes cancel promptly. Must not block.
  void OnClientGone(std::function<void()> fn);

  // ---- consumer side (the connection) ----
  struct Batch {
    std::vector<std::string> chunks;  // in Write order
    bool closed = false;              // producer closed and nothing is left after `chunks`
    bool gone = false;
  };
  // Takes everything queued.
  Batch Take();
  // The client disconnected (or a write failed): later Writes return false; `wake` is dropped
  // so a producer outliving the connection never touches it.
  void MarkGone();

 private:
  StreamLimits limits_;
  mutable std::mutex mu_;
  std::function<void()> wake_;
  std::function<void()> on_gone_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool closed_ = false;
  bool gone_ = false;
};

}  // namespace edgesplit
