#include "common/http/http_server.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <boost/asio.hpp>
#include <catch.hpp>
#include <atomic>
#include <future>
#include <optional>
#include <thread>

#include "common/http/metrics_text.h"

using namespace edgesplit;
namespace asio = boost::asio;

namespace {

// Sends raw bytes and reads until the server closes (requests use Connection: close).
std::string RawExchange(uint16_t port, const std::string& bytes) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(s, asio::buffer(bytes));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

std::string Get(uint16_t port, const std::string& target) {
  return RawExchange(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

struct ServerFixture {
  asio::io_context io;
  std::unique_ptr<HttpServer> server;
  std::thread thread;
  explicit ServerFixture(HttpHandler h, HttpServerOptions o = {}) {
    auto r = HttpServer::Start(io, o, std::move(h));
    REQUIRE(r.ok());
    server = std::move(r).value();
    thread = std::thread([this] {
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }
  ~ServerFixture() {
    server->Stop();
    io.stop();
    thread.join();
  }
};

// A raw client that reads a response piece by piece.
struct RawClient {
  asio::io_context io;
  asio::ip::tcp::socket s{io};
  std::string seen;
  explicit RawClient(uint16_t port, const std::string& request) {
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::write(s, asio::buffer(request));
  }
  // Reads until `text` has arrived (true) or the server closed (false).
  bool ReadUntil(const std::string& text) {
    char buf[4096];
    while (seen.find(text) == std::string::npos) {
      boost::system::error_code ec;
      size_t n = s.read_some(asio::buffer(buf), ec);
      seen.append(buf, n);
      if (ec) return seen.find(text) != std::string::npos;
    }
    return true;
  }
  void ReadToEnd() { ReadUntil(std::string(1, '\0') + "never"); }
};

const std::string kStreamRequest = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";

// Handler that starts a stream and hands its writer to the test thread.
struct StreamingHandler {
  std::shared_ptr<std::promise<std::shared_ptr<StreamWriter>>> writer =
      std::make_shared<std::promise<std::shared_ptr<StreamWriter>>>();
  HttpHandler handler() {
    auto p = writer;
    return [p](HttpRequest, Responder respond) { p->set_value(respond.StartStream()); };
  }
};

}  // namespace

TEST_CASE("a streamed response arrives event by event, in order, as chunked SSE") {
  StreamingHandler h;
  auto future = h.writer->get_future();
  ServerFixture f(h.handler());
  RawClient c(f.server->port(), kStreamRequest);
  auto w = future.get();
  REQUIRE(c.ReadUntil("\r\n\r\n"));  // the head goes out before any event
  CHECK(c.seen.find("HTTP/1.1 200") == 0);
  CHECK(c.seen.find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(c.seen.find("Transfer-Encoding: chunked") != std::string::npos);
  CHECK(c.seen.find("Cache-Control: no-cache") != std::string::npos);
  // Each event is read before the next one is written: delivery is incremental.
  for (int i = 0; i < 5; ++i) {
    const std::string ev = "data: {\"i\": " + std::to_string(i) + "}\n\n";
    REQUIRE(w->Write(ev));
    REQUIRE(c.ReadUntil(ev));
  }
  w->Close();
  c.ReadToEnd();
  CHECK(c.seen.size() >= 5);
  CHECK(c.seen.substr(c.seen.size() - 5) == "0\r\n\r\n");  // the last chunk, then the server closes
  size_t last = 0;
  for (int i = 0; i < 5; ++i) {
    size_t at = c.seen.find("{\"i\": " + std::to_string(i) + "}");
    CHECK(at > last);
    last = at;
  }
}

TEST_CASE("the producer learns that the streaming client disconnected") {
  StreamingHandler h;
  auto future = h.writer->get_future();
  ServerFixture f(h.handler());
  auto c = std::make_unique<RawClient>(f.server->port(), kStreamRequest);
  auto w = future.get();
  REQUIRE(w->Write("data: 1\n\n"));
  REQUIRE(c->ReadUntil("data: 1"));
  std::promise<void> gone;
  w->OnClientGone([&] { gone.set_value(); });
  c.reset();  // the client hangs up
  gone.get_future().wait();
  CHECK(w->client_gone());
  CHECK_FALSE(w->Write("data: 2\n\n"));
  w->Close();
}

TEST_CASE("a client that does not read makes Write fail instead of queueing without bound") {
  HttpServerOptions o;
  o.stream_limits = {16, 64 << 10};
  StreamingHandler h;
  auto future = h.writer->get_future();
  ServerFixture f(h.handler(), o);
  RawClient c(f.server->port(), kStreamRequest);  // never reads
  auto w = future.get();
  CHECK_FALSE(w->Write(std::string((64 << 10) + 1, 'x')));  // larger than the whole queue
  const std::string chunk(16 << 10, 'x');
  int accepted = 0;
  // Socket buffers take some megabytes; beyond them the bounded queue must refuse.
  while (w->Write(chunk) && accepted < 100000) ++accepted;
  CHECK(accepted < 100000);
  w->Close();
}

TEST_CASE("StartStream after an answer (or without a streaming server) refuses writes") {
  std::vector<int> statuses;
  Responder r([&](HttpResponse resp) { statuses.push_back(resp.status); });
  auto w = r.StartStream();  // this Responder cannot stream: 500
  CHECK_FALSE(w->Write("data: x\n\n"));
  r(HttpResponse::Json(200, "{}"));  // already answered: ignored
  CHECK(statuses == std::vector<int>{500});
}

TEST_CASE("routes a request to the handler with decoded path and query") {
  ServerFixture f([](HttpRequest req, Responder respond) {
    respond(HttpResponse::Json(200, "{\"path\": \"" + req.path + "\", \"q\": \"" + req.query["name"] + "\"}"));
  });
  std::string out = Get(f.server->port(), "/v1/a%20b?name=x+y");
  CHECK(out.find("HTTP/1.1 200") == 0);
  CHECK(out.find("{\"path\": \"/v1/a b\", \"q\": \"x y\"}") != std::string::npos);
}

TEST_CASE("a handler may answer later from another thread") {
  std::vector<std::thread> workers;
  std::mutex mu;
  ServerFixture f([&](HttpRequest req, Responder respond) {
    std::lock_guard<std::mutex> lock(mu);
    workers.emplace_back([respond] { respond(HttpResponse::Text(202, "later")); });
  });
  std::string out = Get(f.server->port(), "/x");
  CHECK(out.find("HTTP/1.1 202") == 0);
  CHECK(out.find("later") != std::string::npos);
  for (auto& w : workers) w.join();
}

TEST_CASE("a dropped responder answers 500 instead of hanging") {
  ServerFixture f([](HttpRequest, Responder) {});
  std::string out = Get(f.server->port(), "/x");
  CHECK(out.find("HTTP/1.1 500") == 0);
  CHECK(out.find("request dropped by handler") != std::string::npos);
}

TEST_CASE("an oversized body is refused with 413 before the handler runs") {
  HttpServerOptions o;
  o.max_body_bytes = 100;
  int calls = 0;
  ServerFixture f([&](HttpRequest, Responder r) { ++calls; r(HttpResponse::Json(200, "{}")); }, o);
  std::string body(1000, 'x');
  std::string out = RawExchange(f.server->port(), "POST /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n" + body);
  CHECK(out.find("HTTP/1.1 413") == 0);
  CHECK(out.find("payload_too_large") != std::string::npos);
  CHECK(calls == 0);
}

TEST_CASE("a Content-Length over the limit is answered 413 before any of the body is sent") {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  std::atomic<int> refused_large{0};
  o.counters.request_refused = [&](const char* r) { refused_large += std::string(r) == "body_too_large"; };
  int calls = 0;
  ServerFixture f([&](HttpRequest, Responder r) { ++calls; r(HttpResponse::Json(200, "{}")); }, o);
  RawClient c(f.server->port(), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n");
  REQUIRE(c.ReadUntil("\r\n\r\n"));  // answered while the client has sent none of the body
  CHECK(c.seen.find("HTTP/1.1 413") == 0);
  CHECK(c.seen.find("Connection: close") != std::string::npos);
  CHECK(calls == 0);
  CHECK(refused_large == 1);
}

TEST_CASE("the header check refuses a request before its body is read") {
  HttpServerOptions o;
  std::atomic<int> unauthenticated{0};
  o.counters.request_refused = [&](const char* r) { unauthenticated += std::string(r) == "unauthenticated"; };
  o.check_headers = [](const HttpRequest& head) -> std::optional<HttpResponse> {
    CHECK(head.body.empty());
    if (head.Header("authorization") != "Bearer ok") return HttpResponse::Error(401, "unauthenticated", "no");
    return std::nullopt;
  };
  std::atomic<int> calls{0};
  ServerFixture f([&](HttpRequest req, Responder r) { ++calls; r(HttpResponse::Text(200, req.body)); }, o);
  RawClient bad(f.server->port(), "POST /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer no\r\nContent-Length: 100000\r\n\r\n");
  REQUIRE(bad.ReadUntil("\r\n\r\n"));
  CHECK(bad.seen.find("HTTP/1.1 401") == 0);
  CHECK(unauthenticated == 1);
  std::string good = RawExchange(f.server->port(), "POST /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\n"
                                                   "Connection: close\r\nContent-Length: 5\r\n\r\nhello");
  CHECK(good.find("HTTP/1.1 200") == 0);
  CHECK(good.find("hello") != std::string::npos);
  CHECK(calls == 1);
}

TEST_CASE("a client expecting 100-continue gets it only when the header is accepted") {
  ServerFixture f([](HttpRequest req, Responder r) { r(HttpResponse::Text(200, req.body)); });
  RawClient c(f.server->port(), "POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: 3\r\n\r\n");
  REQUIRE(c.ReadUntil("HTTP/1.1 100 Continue\r\n\r\n"));
  asio::write(c.s, asio::buffer(std::string("abc")));
  c.ReadToEnd();
  CHECK(c.seen.find("HTTP/1.1 200") != std::string::npos);
  CHECK(c.seen.find("abc") != std::string::npos);
}

TEST_CASE("a header that does not arrive in time closes the connection and is counted") {
  HttpServerOptions o;
  o.header_timeout = std::chrono::milliseconds(100);
  auto counted = std::make_shared<std::promise<void>>();
  o.counters.request_refused = [counted](const char* r) {
    if (std::string(r) == "header_timeout") counted->set_value();
  };
  ServerFixture f([](HttpRequest, Responder r) { r(HttpResponse::Json(200, "{}")); }, o);
  RawClient c(f.server->port(), "GET /x HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  c.ReadToEnd();  // returns once the server closed
  CHECK(c.seen.empty());
  // The stream's own timer closes the socket, so the count may follow the close by a moment.
  CHECK(counted->get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
}

TEST_CASE("connections past the per-peer cap are closed at accept, other peers still served") {
  HttpServerOptions o;
  o.max_connections_per_peer = 2;
  std::atomic<int> per_peer{0};
  o.counters.connection_refused = [&](const char* r) { per_peer += std::string(r) == "max_per_peer"; };
  ServerFixture f([](HttpRequest, Responder r) { r(HttpResponse::Json(200, "{}")); }, o);
  RawClient a(f.server->port(), "GET /x HTTP/1.1\r\nHost: x\r\n");  // both hold a slot: header unfinished
  RawClient b(f.server->port(), "GET /x HTTP/1.1\r\nHost: x\r\n");
  RawClient third(f.server->port(), "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  third.ReadToEnd();
  CHECK(third.seen.empty());
  // The refusal is counted on the server's thread, which may get to it just after the close.
  for (int i = 0; i < 500 && per_peer == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(per_peer == 1);
  asio::io_context io;
  asio::ip::tcp::socket other(io);
  other.open(asio::ip::tcp::v4());
  other.bind({asio::ip::make_address("127.0.0.2"), 0});
  other.connect({asio::ip::make_address("127.0.0.1"), f.server->port()});
  asio::write(other, asio::buffer(std::string("GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
  boost::system::error_code ec;
  std::string out;
  char buf[1024];
  while (!ec) out.append(buf, other.read_some(asio::buffer(buf), ec));
  CHECK(out.find("HTTP/1.1 200") == 0);
}

TEST_CASE("malformed HTTP gets 400 and the server keeps serving") {
  ServerFixture f([](HttpRequest, Responder r) { r(HttpResponse::Json(200, "{\"ok\": true}")); });
  std::string bad = RawExchange(f.server->port(), "NOT HTTP AT ALL\r\n\r\n");
  CHECK(bad.find("HTTP/1.1 400") == 0);
  CHECK(Get(f.server->port(), "/ok").find("HTTP/1.1 200") == 0);
}

TEST_CASE("keeps a connection alive across requests") {
  ServerFixture f([](HttpRequest req, Responder r) { r(HttpResponse::Text(200, req.path)); });
  std::string out = RawExchange(f.server->port(),
                                "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(out.find("/one") != std::string::npos);
  CHECK(out.find("/two") != std::string::npos);
}

TEST_CASE("renders a registry in Prometheus text format") {
  prometheus::Registry reg;
  auto& fam = prometheus::BuildCounter().Name("edgesplit_test_things_total").Help("Things.").Register(reg);
  fam.Add({{"kind", "a"}}).Increment(3);
  std::string text = RenderMetricsText(reg);
  CHECK(text.find("# TYPE edgesplit_test_things_total counter") != std::string::npos);
  CHECK(text.find("edgesplit_test_things_total{kind=\"a\"} 3") != std::string::npos);
}

TEST_CASE("rejects options that cannot work") {
  HttpServerOptions o;
  o.bind_address = "not-an-ip";
  o.max_body_bytes = 0;
  auto s = o.Validate();
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("bind_address") != std::string::npos);
  CHECK(s.message().find("max_body_bytes") != std::string::npos);
}
