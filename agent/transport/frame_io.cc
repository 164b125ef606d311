#include "agent/transport/frame_io.h"

#include <algorithm>
#include <array>
#include <memory>

namespace edgesplit::transport {

namespace asio = boost::asio;

namespace {

constexpr size_t kPayloadChunk = size_t{64} << 10;

// What is left of a deadline that started at `start`.
class Budget {
 public:
  explicit Budget(Duration total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  Duration left() const {
    if (total_ == net::kNoDeadline) return net::kNoDeadline;
    return std::max(Duration(1), total_ - Duration(std::chrono::steady_clock::now() - start_));
  }

 private:
  Duration total_;
  std::chrono::steady_clock::time_point start_;
};

// Receives `t->nbytes` bytes into a buffer that doubles each time it is full: the memory held
// is at most twice what arrived (the copies add up to at most the final size once).
Awaitable<Status> ReadGrowing(net::Stream& socket, HostTensor* t, const Budget& budget) {
  const size_t total = t->nbytes;
  size_t cap = std::min(total, kPayloadChunk), got = 0;
  std::shared_ptr<std::byte> buf(new std::byte[std::max<size_t>(cap, 1)], std::default_delete<std::byte[]>());
  while (got < total) {
    if (got == cap) {
      const size_t bigger = std::min(total, cap * 2);
      std::shared_ptr<std::byte> next(new std::byte[bigger], std::default_delete<std::byte[]>());
      std::copy(buf.get(), buf.get() + got, next.get());
      buf = std::move(next);
      cap = bigger;
    }
    Status s = co_await net::ReadExactly(socket, asio::buffer(buf.get() + got, cap - got), budget.left());
    if (!s.ok()) co_return s;
    got = cap;
  }
  t->storage = std::move(buf);
  t->data = t->storage.get();
  co_return Status::Ok();
}

// Reads and drops `n` bytes through a fixed buffer.
Awaitable<Status> ReadDiscard(net::Stream& socket, uint64_t n, const Budget& budget) {
  auto sink = std::make_unique<std::byte[]>(kPayloadChunk);
  while (n > 0) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(n, kPayloadChunk));
    Status s = co_await net::ReadExactly(socket, asio::buffer(sink.get(), k), budget.left());
    if (!s.ok()) co_return s;
    n -= k;
  }
  co_return Status::Ok();
}

}  // namespace

Awaitable<Status> ReadFrame(net::Stream& socket, const FrameLimits& limits, Duration idle_deadline,
                            Duration frame_deadline, const FrameCheck& check, Frame* f, ReadFrameOutcome* outcome) {
  std::array<uint8_t, kFrameHeaderBytes> hdr{};
  // The header (24 bytes, sent together) may take as long as the connection is allowed to idle;
  // reading it in one operation keeps wakeups per frame low.
  size_t got = 0;
  Status s = co_await net::ReadExactly(socket, asio::buffer(hdr), idle_deadline, &got);
  if (!s.ok()) {
    // Nothing of this frame had arrived: a close (or idle timeout) between frames.
    if (got == 0) {
      outcome->clean_close = true;
    } else {
      outcome->reject = RejectReason::kTruncated;
    }
    co_return s;
  }
  RejectReason reason{};
  auto header = DecodeFrameHeader(hdr.data(), limits, &reason);
  if (!header.ok()) {
    outcome->reject = reason;
    co_return header.status();
  }
  const Budget budget(frame_deadline);
  std::string meta(header->meta_len, '\0');  // at most max_meta_bytes (64 KiB), checked above
  if (!meta.empty()) {
    s = co_await net::ReadExactly(socket, asio::buffer(meta), budget.left());
    if (!s.ok()) {
      outcome->reject = RejectReason::kTruncated;
      co_return s;
    }
  }
  uint32_t dtype_code = 0;
  std::vector<int64_t> shape;
  s = DecodeFrameMeta(meta.data(), meta.size(), f, &dtype_code, &shape);
  if (!s.ok()) {
    outcome->reject = RejectReason::kBadMeta;
    co_return s;
  }
  f->has_tensor = dtype_code != 0 || !shape.empty() || header->payload_len != 0;
  DType dtype = DType::kFloat32;
  if (f->has_tensor) {
    auto d = ValidateTensorMeta(dtype_code, shape, header->payload_len, limits, &reason);
    if (!d.ok()) {
      outcome->reject = reason;
      co_return d.status();
    }
    dtype = *d;
    f->tensor.dtype = dtype;
    f->tensor.shape = shape;  // description only; allocated after the caller's check
  }
  FrameVerdict verdict(std::nullopt, PayloadMode::kAllocate);
  if (check) verdict = check(*f);
  if (verdict.error) {
    outcome->reject = verdict.error->reason;
    co_return verdict.error->status;
  }
  if (f->has_tensor && header->payload_len > 0) {
    switch (verdict.payload) {
      case PayloadMode::kAllocate:
        f->tensor = HostTensor::Allocate(dtype, std::move(shape));
        s = co_await net::ReadExactly(socket, asio::buffer(f->tensor.data, f->tensor.nbytes), budget.left());
        break;
      case PayloadMode::kGrow:
        f->tensor.nbytes = header->payload_len;
        s = co_await ReadGrowing(socket, &f->tensor, budget);
        break;
      case PayloadMode::kDiscard:
        outcome->payload_discarded = true;
        s = co_await ReadDiscard(socket, header->payload_len, budget);
        break;
    }
    if (!s.ok()) {
      f->tensor = {};
      outcome->reject = RejectReason::kTruncated;
      co_return s;
    }
  } else if (f->has_tensor) {
    f->tensor = HostTensor::Allocate(dtype, std::move(shape));  // no bytes: nothing to wait for
  }
  co_return Status::Ok();
}

Awaitable<Status> WriteFrame(net::Stream& socket, const Frame& f, Duration deadline, TokenBucket* egress) {
  const std::string meta = EncodeFrameMeta(f);
  std::array<uint8_t, kFrameHeaderBytes> hdr{};
  FrameHeader h;
  h.meta_len = static_cast<uint32_t>(meta.size());
  h.payload_len = f.has_tensor ? f.tensor.nbytes : 0;
  EncodeFrameHeader(h, hdr.data());
  if (egress == nullptr || egress->rate_bytes_per_s() <= 0) {
    std::vector<asio::const_buffer> bufs;
    bufs.push_back(asio::buffer(hdr));
    bufs.push_back(asio::buffer(meta));
    if (h.payload_len) bufs.push_back(asio::buffer(f.tensor.data, f.tensor.nbytes));
    co_return co_await net::WriteAll(socket, bufs, deadline);
  }
  // Paced: the header and metadata go first, then the payload in chunks released by the bucket.
  const auto start = std::chrono::steady_clock::now();
  auto remaining = [&]() -> Duration {
    if (deadline == net::kNoDeadline) return net::kNoDeadline;
    return deadline - (std::chrono::steady_clock::now() - start);
  };
  asio::steady_timer timer(socket.get_executor());
  std::vector<asio::const_buffer> first;
  first.push_back(asio::buffer(hdr));
  first.push_back(asio::buffer(meta));
  Status s = co_await net::WriteAll(socket, first, remaining());
  if (!s.ok()) co_return s;
  constexpr size_t kChunk = 64u << 10;
  for (size_t off = 0; off < h.payload_len; off += kChunk) {
    const size_t n = std::min(kChunk, static_cast<size_t>(h.payload_len) - off);
    Duration wait = egress->Reserve(n, std::chrono::steady_clock::now());
    if (wait > Duration::zero()) {
      if (remaining() < wait) co_return DeadlineExceeded("write: egress cap would exceed the deadline");
      timer.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(wait));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    std::vector<asio::const_buffer> chunk;
    chunk.push_back(asio::buffer(f.tensor.data + off, n));
    s = co_await net::WriteAll(socket, chunk, remaining());
    if (!s.ok()) co_return s;
  }
  co_return Status::Ok();
}

}  // namespace edgesplit::transport
