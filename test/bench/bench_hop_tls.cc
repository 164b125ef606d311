// `edgesplit-bench hop-tls [--iters N] [--bytes B] [--sockbuf B] [--ciphersuites LIST]`: where
// the time of a TLS hop goes. `hop` measures the data plane as deployed (frames over
// net::Stream, Asio's ssl::stream, async); this one sends the same number of bytes over
// loopback through the layers one at a time, synchronously (a thread per end, blocking
// sockets), in one run with samples alternating:
//   tcp                 plain send, receiver reads it all (the baseline of every ratio)
//   asio_ssl            Asio's ssl::stream, synchronous write/read: its engine moves each
//                       ~16 KiB record through a BIO pair and its own 17 KiB buffers
//   asio_ssl_keepbufs   the same with SSL_MODE_RELEASE_BUFFERS cleared (Asio sets it: OpenSSL
//                       frees and reallocates its record buffers around every record)
//   openssl_fd          OpenSSL straight on the socket (SSL_set_fd): one write() per record
//   openssl_fd_ahead    the same, receiver with read_ahead (reads many records per syscall)
//   openssl_batched     memory BIOs: the sender encrypts the whole message, then one send;
//                       the receiver reads 256 KiB chunks and decrypts them (the cost floor of
//                       TLS on this box: the AEAD and two copies, no per-record syscalls)
// Each sample: send, receiver reads it all, 1-byte ack back (over the same layer). --sockbuf
// sets SO_SNDBUF/SO_RCVBUF on every socket; --ciphersuites restricts TLS 1.3 to the given
// suites (e.g. TLS_AES_128_GCM_SHA256; default: OpenSSL's, which negotiates AES-256-GCM).
// Prints JSON: the negotiated cipher, per path ms_p50 and ratio to tcp, and the CPU time the
// sending and the receiving thread spent per message (tx_cpu_ms_p50, rx_cpu_ms_p50) with
// cpu_ratio = their sum over tcp's: the figure that does not depend on the box's load.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "common/base/flags.h"
#include "common/base/subcommand.h"
#include "test/support/test_pki.h"

namespace edgesplit {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using BenchClock = std::chrono::steady_clock;

// CPU time of the calling thread (ms): unlike wall time, it does not grow with the load that
// other processes put on the box, so the layers compare even on a busy machine.
double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// One end of one path: sends or receives `n` bytes (the message or the 1-byte ack).
struct End {
  std::function<bool(const char*, size_t)> send;
  std::function<bool(char*, size_t)> recv;
};

bool SendAllFd(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool SslWriteAll(SSL* ssl, const char* p, size_t n) {
  while (n > 0) {
    size_t done = 0;
    if (SSL_write_ex(ssl, p, n, &done) != 1) return false;
    p += done;
    n -= done;
  }
  return true;
}

bool SslReadAll(SSL* ssl, char* p, size_t n) {
  while (n > 0) {
    size_t got = 0;
    if (SSL_read_ex(ssl, p, n, &got) != 1) return false;
    p += got;
    n -= got;
  }
  return true;
}

// TLS over memory BIOs after a handshake on the socket: a message is encrypted whole into the
// write BIO and sent with one send loop; reads pull large chunks from the socket into the read BIO.
struct Batched {
  SSL* ssl;
  int fd;
  BIO* rbio;
  BIO* wbio;
  std::vector<char> chunk = std::vector<char>(256 << 10);
  bool Send(const char* p, size_t n) {
    if (!SslWriteAll(ssl, p, n)) return false;
    char* data = nullptr;
    long len = BIO_get_mem_data(wbio, &data);
    bool ok = SendAllFd(fd, data, static_cast<size_t>(len));
    (void)BIO_reset(wbio);
    return ok;
  }
  bool Recv(char* p, size_t n) {
    while (n > 0) {
      size_t got = 0;
      if (SSL_read_ex(ssl, p, n, &got) == 1) {
        p += got;
        n -= got;
        continue;
      }
      if (SSL_get_error(ssl, 0) != SSL_ERROR_WANT_READ) return false;
      ssize_t k = ::recv(fd, chunk.data(), chunk.size(), 0);
      if (k <= 0) return false;
      BIO_write(rbio, chunk.data(), static_cast<int>(k));
    }
    return true;
  }
};

// Blocking Asio read/write of exactly n bytes on `s` (a socket or an ssl::stream).
template <typename S>
End AsioEnd(S* s) {
  return {[s](const char* d, size_t n) {
            boost::system::error_code ec;
            asio::write(*s, asio::buffer(d, n), ec);
            return !ec;
          },
          [s](char* d, size_t n) {
            boost::system::error_code ec;
            asio::read(*s, asio::buffer(d, n), ec);
            return !ec;
          }};
}

enum class Kind { kTcp, kAsio, kAsioKeep, kFd, kFdAhead, kBatched };
const char* KindName(Kind k) {
  switch (k) {
    case Kind::kTcp: return "tcp";
    case Kind::kAsio: return "asio_ssl";
    case Kind::kAsioKeep: return "asio_ssl_keepbufs";
    case Kind::kFd: return "openssl_fd";
    case Kind::kFdAhead: return "openssl_fd_ahead";
    case Kind::kBatched: return "openssl_batched";
  }
  return "?";
}

// A connected pair of ends of one kind; owns sockets and TLS state for the run.
struct Path {
  Kind kind;
  tcp::socket a, b;  // a sends the message, b receives it
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> asa, asb;
  SSL* sa = nullptr;
  SSL* sb = nullptr;
  std::unique_ptr<Batched> ba, bb;
  End tx, rx;
  Path(Kind k, asio::io_context& io) : kind(k), a(io), b(io) {}
  ~Path() {
    if (sa) SSL_free(sa);
    if (sb) SSL_free(sb);
  }
};

bool Connect(Path& p, tcp::acceptor& acc, size_t sockbuf, asio::ssl::context& ctx_a, asio::ssl::context& ctx_b) {
  p.a.connect(acc.local_endpoint());
  acc.accept(p.b);
  for (auto* s : {&p.a, &p.b}) {
    s->set_option(tcp::no_delay(true));
    if (sockbuf) {
      s->set_option(asio::socket_base::send_buffer_size(static_cast<int>(sockbuf)));
      s->set_option(asio::socket_base::receive_buffer_size(static_cast<int>(sockbuf)));
    }
  }
  const int fa = p.a.native_handle(), fb = p.b.native_handle();
  switch (p.kind) {
    case Kind::kTcp:
      p.tx = AsioEnd(&p.a);
      p.rx = AsioEnd(&p.b);
      return true;
    case Kind::kAsio:
    case Kind::kAsioKeep: {
      p.asa = std::make_unique<asio::ssl::stream<tcp::socket&>>(p.a, ctx_a);
      p.asb = std::make_unique<asio::ssl::stream<tcp::socket&>>(p.b, ctx_b);
      if (p.kind == Kind::kAsioKeep) {
        SSL_clear_mode(p.asa->native_handle(), SSL_MODE_RELEASE_BUFFERS);
        SSL_clear_mode(p.asb->native_handle(), SSL_MODE_RELEASE_BUFFERS);
      }
      boost::system::error_code eb;
      std::thread server([&] { p.asb->handshake(asio::ssl::stream_base::server, eb); });
      boost::system::error_code ea;
      p.asa->handshake(asio::ssl::stream_base::client, ea);
      server.join();
      if (ea || eb) return false;
      p.tx = AsioEnd(p.asa.get());
      p.rx = AsioEnd(p.asb.get());
      return true;
    }
    case Kind::kFd:
    case Kind::kFdAhead:
    case Kind::kBatched: {
      p.sa = SSL_new(ctx_a.native_handle());
      p.sb = SSL_new(ctx_b.native_handle());
      SSL_set_fd(p.sa, fa);
      SSL_set_fd(p.sb, fb);
      int rb = 0;
      std::thread server([&] { rb = SSL_accept(p.sb); });
      int ra = SSL_connect(p.sa);
      server.join();
      if (ra != 1 || rb != 1) return false;
      if (p.kind == Kind::kFdAhead) {
        SSL_set_read_ahead(p.sa, 1);
        SSL_set_read_ahead(p.sb, 1);
      }
      if (p.kind != Kind::kBatched) {
        SSL* sa = p.sa;
        SSL* sb = p.sb;
        p.tx = {[sa](const char* d, size_t n) { return SslWriteAll(sa, d, n); },
                [sa](char* d, size_t n) { return SslReadAll(sa, d, n); }};
        p.rx = {[sb](const char* d, size_t n) { return SslWriteAll(sb, d, n); },
                [sb](char* d, size_t n) { return SslReadAll(sb, d, n); }};
        return true;
      }
      // Memory BIOs from here on (the handshake is done; the socket stays ours).
      auto make = [](SSL* ssl, int fd) {
        BIO* r = BIO_new(BIO_s_mem());
        BIO* w = BIO_new(BIO_s_mem());
        SSL_set_bio(ssl, r, w);
        return std::make_unique<Batched>(Batched{ssl, fd, r, w});
      };
      p.ba = make(p.sa, fa);
      p.bb = make(p.sb, fb);
      auto* ba = p.ba.get();
      auto* bb = p.bb.get();
      p.tx = {[ba](const char* d, size_t n) { return ba->Send(d, n); },
              [ba](char* d, size_t n) { return ba->Recv(d, n); }};
      p.rx = {[bb](const char* d, size_t n) { return bb->Send(d, n); },
              [bb](char* d, size_t n) { return bb->Recv(d, n); }};
      return true;
    }
  }
  return false;
}

int RunHopTls(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"iters", "bytes", "sockbuf", "ciphersuites"}, {"json"});
  if (!f.ok()) {
    std::fprintf(stderr, "%s\n", f.status().ToString().c_str());
    return 2;
  }
  const int iters = static_cast<int>(f->GetInt("iters", 100).value());
  const size_t bytes = static_cast<size_t>(f->GetInt("bytes", 1 << 20).value());
  const size_t sockbuf = static_cast<size_t>(f->GetInt("sockbuf", 0).value());
  auto& pki = testing::TestPki::Get();
  security::TlsPtr ta = pki.Context("hop-tls-tx", security::Role::kAgent);
  security::TlsPtr tb = pki.Context("hop-tls-rx", security::Role::kAgent);
  const std::string suites = f->Get("ciphersuites", "");
  if (!suites.empty())
    for (auto* t : {&ta, &tb})
      if (SSL_CTX_set_ciphersuites((*t)->ssl().native_handle(), suites.c_str()) != 1) {
        std::fprintf(stderr, "hop-tls: bad --ciphersuites '%s'\n", suites.c_str());
        return 2;
      }
  asio::io_context io;
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::vector<Kind> kinds = {Kind::kTcp, Kind::kAsio, Kind::kAsioKeep, Kind::kFd, Kind::kFdAhead, Kind::kBatched};
  std::vector<std::unique_ptr<Path>> paths;
  for (Kind k : kinds) {
    paths.push_back(std::make_unique<Path>(k, io));
    if (!Connect(*paths.back(), acc, sockbuf, ta->ssl(), tb->ssl())) {
      std::fprintf(stderr, "hop-tls: %s: connect/handshake failed\n", KindName(k));
      return 1;
    }
  }
  const int warm = 3, samples = iters + warm;
  // Receivers: one thread per path, each reads `samples` messages and acks each.
  std::vector<std::thread> receivers;
  std::vector<std::vector<double>> rx_cpu(paths.size()), tx_cpu(paths.size());
  for (size_t k = 0; k < paths.size(); ++k)
    receivers.emplace_back([&, k] {
      std::vector<char> buf(bytes);
      char ack = 1;
      for (int i = 0; i < samples; ++i) {
        const double c0 = ThreadCpuMs();
        if (!paths[k]->rx.recv(buf.data(), bytes) || !paths[k]->rx.send(&ack, 1)) return;
        if (i >= warm) rx_cpu[k].push_back(ThreadCpuMs() - c0);
      }
    });
  std::vector<char> msg(bytes, 1);
  std::vector<std::vector<double>> ms(paths.size());
  bool ok = true;
  for (int i = 0; i < samples && ok; ++i)
    for (size_t k = 0; k < paths.size() && ok; ++k) {  // alternate: all paths see the same load
      char ack = 0;
      auto t0 = BenchClock::now();
      const double c0 = ThreadCpuMs();
      ok = paths[k]->tx.send(msg.data(), bytes) && paths[k]->tx.recv(&ack, 1);
      if (i >= warm) {
        tx_cpu[k].push_back(ThreadCpuMs() - c0);
        ms[k].push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count());
      }
    }
  for (auto& t : receivers) t.join();
  if (!ok) {
    std::fprintf(stderr, "hop-tls: a transfer failed\n");
    return 1;
  }
  const double tcp_ms = Median(ms[0]), tcp_cpu = Median(tx_cpu[0]) + Median(rx_cpu[0]);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(paths[3]->sa);
  const std::string cipher_name = cipher ? SSL_CIPHER_get_name(cipher) : "?";
  std::string out = "{\"bench\": \"hop-tls\", \"cipher\": \"" + cipher_name + "\", \"bytes\": " +
                    std::to_string(bytes) + ", \"iters\": " + std::to_string(iters) + ", \"sockbuf\": " +
                    std::to_string(sockbuf) + ", \"paths\": [";
  for (size_t k = 0; k < paths.size(); ++k) {
    const double cpu = Median(tx_cpu[k]) + Median(rx_cpu[k]);
    char line[320];
    std::snprintf(line, sizeof line,
                  "%s{\"path\": \"%s\", \"ms_p50\": %.4f, \"ratio\": %.3f, \"tx_cpu_ms_p50\": %.4f, "
                  "\"rx_cpu_ms_p50\": %.4f, \"cpu_ratio\": %.3f}",
                  k ? ", " : "", KindName(kinds[k]), Median(ms[k]), Median(ms[k]) / tcp_ms, Median(tx_cpu[k]),
                  Median(rx_cpu[k]), cpu / tcp_cpu);
    out += line;
  }
  out += "]}";
  std::printf("%s\n", out.c_str());
  return 0;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(hop_tls, "hop-tls", "where a TLS hop's time goes: Asio ssl, OpenSSL on the socket, batched",
                       RunHopTls);

}  // namespace edgesplit
