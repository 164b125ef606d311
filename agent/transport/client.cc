#include "agent/transport/client.h"

#include <optional>

#include "agent/transport/frame_io.h"
#include "common/base/random_id.h"

namespace edgesplit::transport {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct DataClient::Impl {
  asio::io_context io;
  std::optional<net::Stream> socket;

  // Runs `coro` to completion on the private io_context.
  template <typename T>
  T RunSync(Awaitable<T> coro) {
    std::optional<T> out;
    io.restart();
    asio::co_spawn(
        io, [&out, c = std::move(coro)]() mutable -> Awaitable<void> { out.emplace(co_await std::move(c)); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    return std::move(*out);
  }
};

DataClient::DataClient(std::string address, ClientOptions options)
    : address_(std::move(address)), options_(options), impl_(std::make_unique<Impl>()) {}

DataClient::~DataClient() = default;

Result<std::unique_ptr<DataClient>> DataClient::Connect(const std::string& address, ClientOptions options) {
  std::unique_ptr<DataClient> c(new DataClient(address, options));
  std::lock_guard<std::mutex> lock(c->mu_);
  ES_RETURN_IF_ERROR(c->EnsureConnected());
  return c;
}

Status DataClient::EnsureConnected() {
  if (impl_->socket && impl_->socket->is_open()) return Status::Ok();
  net::PeerRequirement want;
  want.roles = {security::Role::kAgent};
  want.name = options_.expect_node;
  auto r = impl_->RunSync(net::Connect(address_, options_.connect_timeout, options_.tls, want));
  if (!r.ok()) return r.status();
  impl_->socket.emplace(std::move(*r));
  return Status::Ok();
}

namespace {

int64_t UnixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Sends `req` and reads frames until the reply for req.request_id arrives.
Awaitable<Result<Frame>> RoundTrip(net::Stream& socket, const Frame& req, const FrameLimits& limits, Duration timeout) {
  const auto start = std::chrono::steady_clock::now();
  Status s = co_await WriteFrame(socket, req, timeout);
  if (!s.ok()) co_return s;
  for (;;) {
    Duration left = timeout - (std::chrono::steady_clock::now() - start);
    if (left <= Duration::zero()) co_return DeadlineExceeded("no reply within the request timeout");
    Frame reply;
    ReadFrameOutcome outcome;
    s = co_await ReadFrame(socket, limits, left, left, nullptr, &reply, &outcome);
    if (!s.ok()) co_return s;
    if (reply.request_id == req.request_id) co_return reply;
  }
}

}  // namespace

Result<HostTensor> DataClient::Infer(const std::string& deployment, const HostTensor& input, uint64_t epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  ES_RETURN_IF_ERROR(EnsureConnected());
  Frame req;
  req.kind = FrameKind::kRequest;
  req.request_id = RandomId();
  req.deployment = deployment;
  req.epoch = epoch;
  req.deadline_unix_ms = UnixMillisNow() + std::chrono::duration_cast<std::chrono::milliseconds>(options_.request_timeout).count();
  req.has_tensor = true;
  req.tensor = input;
  auto reply = impl_->RunSync(RoundTrip(*impl_->socket, req, options_.limits, options_.request_timeout));
  if (!reply.ok()) {
    boost::system::error_code ec;
    impl_->socket->close(ec);  // stream position unknown: reconnect next time
    return reply.status();
  }
  if (reply->kind == FrameKind::kError) return reply->ErrorStatus();
  if (reply->kind != FrameKind::kResult || !reply->has_tensor)
    return Internal(std::string("unexpected reply frame ") + FrameKindName(reply->kind));
  return std::move(reply->tensor);
}

namespace {
// Reads frames for `id` until the stream ends (GEN_DONE or ERROR) or `on_token` declines.
Awaitable<Result<DataClient::GenerateSummary>> ReadStream(net::Stream& socket, uint64_t id, const FrameLimits& limits,
                                                          Duration per_frame,
                                                          const std::function<bool(int64_t, int64_t)>& on_token,
                                                          bool* cancelled) {
  DataClient::GenerateSummary sum;
  int64_t expect = 0;
  for (;;) {
    Frame f;
    ReadFrameOutcome outcome;
    Status s = co_await ReadFrame(socket, limits, per_frame, per_frame, nullptr, &f, &outcome);
    if (!s.ok()) {
      if (s.code() == StatusCode::kDeadlineExceeded || outcome.clean_close)
        co_return DeadlineExceeded("generation stream: no token within the timeout (" + s.message() + ")");
      co_return s;
    }
    if (f.request_id != id) continue;
    switch (f.kind) {
      case FrameKind::kToken:
        if (f.token_index != expect)
          co_return Internal("generation stream: token index " + std::to_string(f.token_index) + " where " +
                             std::to_string(expect) + " was due");
        ++expect;
        if (on_token && !on_token(f.token_index, f.token)) {
          *cancelled = true;
          co_return Aborted("generation cancelled by the client");
        }
        break;
      case FrameKind::kGenDone:
        sum.finish_reason = f.finish_reason;
        sum.prompt_tokens = f.prompt_tokens;
        sum.tokens = expect;
        sum.ttft_ms = f.ttft_ms;
        sum.ms_per_token = f.ms_per_token;
        sum.moves = f.moves;
        sum.stall_ms_max = f.stall_ms_max;
        sum.epoch = f.epoch;
        co_return sum;
      case FrameKind::kError: co_return f.ErrorStatus();
      default: co_return Internal(std::string("unexpected frame in a generation stream: ") + FrameKindName(f.kind));
    }
  }
}
}  // namespace

Result<DataClient::GenerateSummary> DataClient::Generate(const std::string& deployment, const GenerationRequest& request,
                                                         const std::function<bool(int64_t, int64_t)>& on_token) {
  std::lock_guard<std::mutex> lock(mu_);
  ES_RETURN_IF_ERROR(EnsureConnected());
  Frame req;
  req.kind = FrameKind::kGenerate;
  req.request_id = RandomId();
  req.deployment = deployment;
  req.has_gen = true;
  req.gen = request;
  req.gen.prompt.clear();
  req.has_tensor = true;
  req.tensor = HostTensor::CopyOf(DType::kInt64, {1, static_cast<int64_t>(request.prompt.size())}, request.prompt.data(),
                                  request.prompt.size() * sizeof(int64_t));
  bool cancelled = false;
  auto run = [&]() -> Awaitable<Result<GenerateSummary>> {
    Status s = co_await WriteFrame(*impl_->socket, req, options_.request_timeout);
    if (!s.ok()) co_return s;
    auto r = co_await ReadStream(*impl_->socket, req.request_id, options_.limits, options_.request_timeout, on_token,
                                 &cancelled);
    if (cancelled) {
      Frame end;
      end.kind = FrameKind::kSessionEnd;
      end.request_id = req.request_id;
      end.deployment = deployment;
      (void)co_await WriteFrame(*impl_->socket, end, 1s);
    }
    co_return r;
  };
  auto r = impl_->RunSync(run());
  if (!r.ok() && (r.status().code() != StatusCode::kResourceExhausted && r.status().code() != StatusCode::kInvalidArgument &&
                  r.status().code() != StatusCode::kNotFound && r.status().code() != StatusCode::kFailedPrecondition)) {
    boost::system::error_code ec;
    impl_->socket->close(ec);  // mid-stream: frames of this session may still come; reconnect next time
  }
  return r;
}

Result<LinkProbeResult> DataClient::Probe(size_t probe_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  ES_RETURN_IF_ERROR(EnsureConnected());
  LinkProbeResult out;
  Frame empty;
  empty.kind = FrameKind::kProbe;
  empty.request_id = RandomId();
  auto t0 = std::chrono::steady_clock::now();
  auto r = impl_->RunSync(RoundTrip(*impl_->socket, empty, options_.limits, options_.request_timeout));
  if (!r.ok()) return r.status();
  const double rtt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  Frame big = empty;
  big.request_id = RandomId();
  big.has_tensor = true;
  big.tensor = HostTensor::Allocate(DType::kFloat32, {static_cast<int64_t>(std::max<size_t>(probe_bytes / 4, 1))});
  std::fill(big.tensor.data, big.tensor.data + big.tensor.nbytes, std::byte{0});
  t0 = std::chrono::steady_clock::now();
  r = impl_->RunSync(RoundTrip(*impl_->socket, big, options_.limits, options_.request_timeout));
  if (!r.ok()) return r.status();
  const double total = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out.rtt_ms = rtt;
  out.bandwidth_mbps = big.tensor.nbytes * 8.0 / (std::max(total - rtt, 1e-3) * 1e3);
  return out;
}

}  // namespace edgesplit::transport
