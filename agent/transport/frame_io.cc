#include "agent/transport/frame_io.h"

#include <array>

namespace edgesplit::transport {

namespace asio = boost::asio;

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
  std::string meta(header->meta_len, '\0');
  if (!meta.empty()) {
    s = co_await net::ReadExactly(socket, asio::buffer(meta), frame_deadline);
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
  if (check) {
    if (auto err = check(*f)) {
      outcome->reject = err->reason;
      co_return err->status;
    }
  }
  if (f->has_tensor) {
    f->tensor = HostTensor::Allocate(dtype, std::move(shape));
    s = co_await net::ReadExactly(socket, asio::buffer(f->tensor.data, f->tensor.nbytes), frame_deadline);
    if (!s.ok()) {
      outcome->reject = RejectReason::kTruncated;
      co_return s;
    }
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
