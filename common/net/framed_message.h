// Length-prefixed protobuf messages over a Stream (TLS or TCP), with deadlines (the control channel
// framing: 4-byte big-endian length + serialized message). The length is validated against
// `max_bytes` before the body buffer is allocated.
//
// MessageOutbox serialises writes from several coroutines onto one socket through a bounded
// queue; like the helpers it must only be used on the socket's executor (one io thread or strand).
#pragma once

#include <deque>
#include <memory>
#include <string>

#include <google/protobuf/message_lite.h>

#include "common/net/async_io.h"
#include "common/net/length_prefix.h"

namespace edgesplit::net {

// Reads one message into `msg`. Errors: unavailable (closed/reset), deadline_exceeded,
// resource_exhausted (length over max_bytes: the caller should close the connection),
// invalid_argument (body does not parse).
Awaitable<Status> ReadMessage(Stream& socket, google::protobuf::MessageLite* msg, Duration deadline,
                              size_t max_bytes = kDefaultMaxMessageBytes);

// Serialises and writes one message.
Awaitable<Status> WriteMessage(Stream& socket, const google::protobuf::MessageLite& msg, Duration deadline);

// Prefix + serialized message, ready for MessageOutbox::Push.
Result<std::string> SerializeFramed(const google::protobuf::MessageLite& msg);

class MessageOutbox {
 public:
  struct Options {
    size_t max_queued = 1024;                       // messages waiting to be written
    Duration write_deadline = std::chrono::seconds(10);  // per message
  };
  MessageOutbox(Stream& socket, Options options);

  // Queues a message; resource_exhausted when the queue is full, failed_precondition once closed.
  Status Push(const google::protobuf::MessageLite& msg);
  Status PushFramed(std::string framed);
  size_t queued() const { return queue_.size(); }

  // Writes queued messages until Close() or a write error (returned). Spawn once per socket.
  Awaitable<Status> Run();
  // Stops Run() after the message being written; queued messages are dropped.
  void Close();

 private:
  Stream& socket_;
  Options options_;
  std::deque<std::string> queue_;
  asio::steady_timer wake_;
  bool closed_ = false;
};

}  // namespace edgesplit::net
