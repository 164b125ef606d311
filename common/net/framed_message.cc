#include "common/net/framed_message.h"

#include <algorithm>

#include <array>

namespace edgesplit::net {

Awaitable<Status> ReadMessage(Stream& socket, google::protobuf::MessageLite* msg, Duration deadline,
                              size_t max_bytes) {
  std::array<uint8_t, kLengthPrefixBytes> prefix{};
  Status s = co_await ReadExactly(socket, asio::buffer(prefix), deadline);
  if (!s.ok()) co_return s;
  auto len = DecodeLengthPrefix(prefix.data(), max_bytes);
  if (!len.ok()) co_return len.status();
  // Grow as the bytes arrive (at most twice what was received): a peer that announces a large
  // message must send it before we hold that much memory. The deadline applies to each chunk.
  constexpr size_t kChunk = size_t{64} << 10;
  std::string body;
  while (body.size() < *len) {
    const size_t off = body.size(), n = std::min(kChunk, *len - off);
    body.resize(off + n);
    s = co_await ReadExactly(socket, asio::buffer(body.data() + off, n), deadline);
    if (!s.ok()) co_return s;
  }
  if (!msg->ParseFromString(body)) co_return InvalidArgument("message does not parse as " + msg->GetTypeName());
  co_return Status::Ok();
}

Result<std::string> SerializeFramed(const google::protobuf::MessageLite& msg) {
  std::string body;
  if (!msg.SerializeToString(&body)) return Internal("cannot serialize " + msg.GetTypeName());
  return FrameBody(body);
}

Awaitable<Status> WriteMessage(Stream& socket, const google::protobuf::MessageLite& msg, Duration deadline) {
  auto framed = SerializeFramed(msg);
  if (!framed.ok()) co_return framed.status();
  std::vector<asio::const_buffer> bufs;
  bufs.push_back(asio::buffer(*framed));
  co_return co_await WriteAll(socket, bufs, deadline);
}

MessageOutbox::MessageOutbox(Stream& socket, Options options)
    : socket_(socket), options_(options), wake_(socket.get_executor()) {
  wake_.expires_at(asio::steady_timer::time_point::max());
}

Status MessageOutbox::Push(const google::protobuf::MessageLite& msg) {
  ES_ASSIGN_OR_RETURN(std::string framed, SerializeFramed(msg));
  return PushFramed(std::move(framed));
}

Status MessageOutbox::PushFramed(std::string framed) {
  if (closed_) return FailedPrecondition("outbox closed");
  if (queue_.size() >= options_.max_queued)
    return ResourceExhausted("outbox full (" + std::to_string(options_.max_queued) + " messages)");
  queue_.push_back(std::move(framed));
  wake_.cancel();
  return Status::Ok();
}

void MessageOutbox::Close() {
  closed_ = true;
  queue_.clear();
  wake_.cancel();
}

Awaitable<Status> MessageOutbox::Run() {
  while (!closed_) {
    if (queue_.empty()) {
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    std::string msg = std::move(queue_.front());
    queue_.pop_front();
    std::vector<asio::const_buffer> bufs;
    bufs.push_back(asio::buffer(msg));
    Status s = co_await WriteAll(socket_, bufs, options_.write_deadline);
    if (!s.ok()) {
      closed_ = true;
      queue_.clear();
      co_return s;
    }
  }
  co_return Status::Ok();
}

}  // namespace edgesplit::net
