// `edgesplit-bench hop [--json] [--iters N]`: one activation hop over loopback (data frame:
// header + metadata + tensor bytes, received into a freshly allocated tensor, as the agent does)
// against a plain TCP send of the same bytes into a preallocated buffer, in the same run.
// A third path sends the same frames over mutual TLS 1.3 (the data plane as deployed).
// Each sample: send, receiver reads it all, 1-byte ack back; the three paths alternate. Prints per
// size bytes, frame_ms_p50, tcp_ms_p50, tls_frame_ms_p50, ratio (= frame/tcp) and tls_ratio
// (= TLS frame / plain TCP).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "agent/transport/frame_io.h"
#include "common/base/flags.h"
#include "common/base/subcommand.h"
#include "test/support/test_pki.h"

namespace edgesplit {
namespace {

namespace asio = boost::asio;
using net::tcp;
using namespace std::chrono_literals;
using BenchClock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2);
}

// Receiver: frames (framed=true) or raw `bytes` per sample; acks each with one byte.
net::Awaitable<void> Receive(net::Stream s, bool framed, size_t bytes, int samples) {
  if (!(co_await s.Handshake(true, 5s)).ok()) co_return;
  std::vector<char> raw(framed ? 0 : bytes);
  char ack = 1;
  for (int i = 0; i < samples; ++i) {
    if (framed) {
      transport::Frame f;
      transport::ReadFrameOutcome out;
      Status st = co_await transport::ReadFrame(s, {}, 30s, 30s, nullptr, &f, &out);
      if (!st.ok()) co_return;
    } else {
      Status st = co_await net::ReadExactly(s, asio::buffer(raw), 30s);
      if (!st.ok()) co_return;
    }
    std::vector<asio::const_buffer> b{asio::buffer(&ack, 1)};
    co_await net::WriteAll(s, b, 30s);
  }
}

struct Result2 {
  double frame_ms, tcp_ms, tls_frame_ms;
};

Result2 RunSize(size_t bytes, int iters) {
  asio::io_context rx;
  auto acc = net::Listen(rx.get_executor(), "127.0.0.1:0");
  const std::string addr = net::LocalAddress(*acc);
  const int warm = 3;
  auto& pki = testing::TestPki::Get();
  security::TlsPtr server_tls = pki.Context("bench-rx", security::Role::kAgent);
  security::TlsPtr client_tls = pki.Context("bench-tx", security::Role::kAgent);
  // Accepted in order: frames, raw bytes, frames over TLS; all served at once.
  asio::co_spawn(rx, [&]() -> net::Awaitable<void> {
    for (int path = 0; path < 3; ++path) {
      auto [ec, s] = co_await acc->async_accept(asio::as_tuple(asio::use_awaitable));
      s.set_option(tcp::no_delay(true));
      asio::co_spawn(rx, Receive(net::Stream(std::move(s), path == 2 ? server_tls : nullptr), path != 1, bytes, iters + warm),
                     asio::detached);
    }
  }, asio::detached);
  std::thread rx_thread([&] { rx.run(); });

  asio::io_context tx;
  std::vector<double> frame_ms, tcp_ms, tls_ms;
  HostTensor t = HostTensor::Allocate(DType::kFloat32, {static_cast<int64_t>(bytes / 4)});
  std::fill(t.data, t.data + t.nbytes, std::byte{1});
  asio::co_spawn(tx, [&]() -> net::Awaitable<void> {
    char ack;
    auto fs = co_await net::Connect(addr, 5s, nullptr);
    auto ts = co_await net::Connect(addr, 5s, nullptr);
    auto ss = co_await net::Connect(addr, 5s, client_tls);
    if (!fs.ok() || !ts.ok() || !ss.ok()) co_return;
    transport::Frame f;
    f.kind = transport::FrameKind::kActivation;
    f.request_id = 1;
    f.deployment = "bench";
    f.epoch = 1;
    f.layer = 3;
    f.origin = "127.0.0.1:1";
    f.has_tensor = true;
    f.tensor = t;
    // Samples alternate between the two paths so both see the same machine load.
    for (int i = 0; i < iters + warm; ++i) {
      auto t0 = BenchClock::now();
      co_await transport::WriteFrame(*fs, f, 30s);
      co_await net::ReadExactly(*fs, asio::buffer(&ack, 1), 30s);
      if (i >= warm) frame_ms.push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count());
      t0 = BenchClock::now();
      std::vector<asio::const_buffer> b{asio::buffer(t.data, t.nbytes)};
      co_await net::WriteAll(*ts, b, 30s);
      co_await net::ReadExactly(*ts, asio::buffer(&ack, 1), 30s);
      if (i >= warm) tcp_ms.push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count());
      t0 = BenchClock::now();
      co_await transport::WriteFrame(*ss, f, 30s);
      co_await net::ReadExactly(*ss, asio::buffer(&ack, 1), 30s);
      if (i >= warm) tls_ms.push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count());
    }
  }, asio::detached);
  tx.run();
  rx_thread.join();
  return {Median(frame_ms), Median(tcp_ms), Median(tls_ms)};
}

int RunHop(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"iters"}, {"json"});
  if (!f.ok()) {
    std::fprintf(stderr, "%s\n", f.status().ToString().c_str());
    return 2;
  }
  const bool json = f->GetBool("json");
  const long long iters_flag = f->GetInt("iters", 0).ok() ? *f->GetInt("iters", 0) : 0;
  std::string out = "{\"bench\": \"hop\", \"sizes\": [";
  bool first = true;
  for (size_t bytes : {size_t{64} << 10, size_t{1} << 20, size_t{16} << 20}) {
    const int iters = iters_flag > 0 ? static_cast<int>(iters_flag) : (bytes >= (16u << 20) ? 40 : 200);
    Result2 r = RunSize(bytes, iters);
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s{\"bytes\": %zu, \"frame_ms_p50\": %.4f, \"tcp_ms_p50\": %.4f, \"ratio\": %.3f, "
                  "\"tls_frame_ms_p50\": %.4f, \"tls_ratio\": %.3f, \"iters\": %d}",
                  first ? "" : ", ", bytes, r.frame_ms, r.tcp_ms, r.frame_ms / r.tcp_ms, r.tls_frame_ms,
                  r.tls_frame_ms / r.tcp_ms, iters);
    out += line;
    first = false;
    if (!json)
      std::printf("bytes=%zu frame_ms_p50=%.4f tcp_ms_p50=%.4f ratio=%.3f tls_frame_ms_p50=%.4f tls_ratio=%.3f\n", bytes,
                  r.frame_ms, r.tcp_ms, r.frame_ms / r.tcp_ms, r.tls_frame_ms, r.tls_frame_ms / r.tcp_ms);
  }
  out += "]}";
  if (json) std::printf("%s\n", out.c_str());
  return 0;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(hop, "hop", "one activation hop (data frame) vs plain TCP at 64 KiB, 1 MiB, 16 MiB", RunHop);

}  // namespace edgesplit
