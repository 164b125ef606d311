// ServiceNotifier and IoWatchdog against a real notify socket (an AF_UNIX datagram socket
// standing in for systemd's): what is sent, when, and nothing without NOTIFY_SOCKET.
#include "common/systemd/service_notifier.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <boost/asio/io_context.hpp>
#include <catch.hpp>

#include "common/systemd/io_watchdog.h"

using namespace edgesplit;
using namespace edgesplit::systemd;

namespace {

// A bound datagram socket at a fresh path, exported as NOTIFY_SOCKET while it lives.
struct NotifySocket {
  int fd = -1;
  std::string path;
  explicit NotifySocket(const char* watchdog_usec) {
    char dir[] = "/tmp/es-notify-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    path = std::string(dir) + "/notify.sock";
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    setenv("NOTIFY_SOCKET", path.c_str(), 1);
    if (watchdog_usec) setenv("WATCHDOG_USEC", watchdog_usec, 1);
    else unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
  }
  ~NotifySocket() {
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    close(fd);
    unlink(path.c_str());
    rmdir(path.substr(0, path.rfind('/')).c_str());
  }
  // The next datagram if one is already queued, else "".
  std::string Take() {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 1) return "";
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
};

}  // namespace

TEST_CASE("keep-alives come at half the watchdog interval; status text stays one assignment") {
  CHECK(KeepAlivePeriod(std::chrono::seconds(10)) == std::chrono::seconds(5));
  CHECK(KeepAlivePeriod(Duration(1)) > Duration::zero());
  CHECK(SanitizeStatus("a\nb\rc") == "a b c");
  CHECK(SanitizeStatus(std::string(2000, 'x')).size() == 512);
}

TEST_CASE("outside systemd nothing is sent and every call succeeds") {
  unsetenv("NOTIFY_SOCKET");
  setenv("WATCHDOG_USEC", "1000000", 1);
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  CHECK_FALSE(n.enabled());
  CHECK_FALSE(n.watchdog_interval().has_value());
  CHECK(n.Ready("x"));
  CHECK(n.KeepAlive());
  unsetenv("WATCHDOG_USEC");
}

TEST_CASE("READY, STATUS, STOPPING and WATCHDOG reach the notify socket as sd_notify assignments") {
  NotifySocket sock("4000000");
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  REQUIRE(n.enabled());
  REQUIRE(n.watchdog_interval().has_value());
  CHECK(*n.watchdog_interval() == std::chrono::seconds(4));
  CHECK(n.Ready("nodes alive=2\nx"));
  CHECK(sock.Take() == "READY=1\nSTATUS=nodes alive=2 x");
  CHECK(n.Status("busy"));
  CHECK(sock.Take() == "STATUS=busy");
  CHECK(n.KeepAlive());
  CHECK(sock.Take() == "WATCHDOG=1");
  CHECK(n.Stopping("bye"));
  CHECK(sock.Take() == "STOPPING=1\nSTATUS=bye");
  CHECK(sock.Take().empty());
}

TEST_CASE("a watchdog that names another process is not ours to feed") {
  NotifySocket sock("4000000");
  setenv("WATCHDOG_PID", "1", 1);  // systemd sets the main PID; pid 1 is not this test
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  CHECK(n.enabled());
  CHECK_FALSE(n.watchdog_interval().has_value());
}

TEST_CASE("the io watchdog sends keep-alives from handlers on its io thread, and the STATUS line") {
  NotifySocket sock("20000");  // 20 ms: a keep-alive every 10 ms
  boost::asio::io_context io;
  IoWatchdogOptions o;
  o.status_period = Duration::zero();  // a STATUS with every tick
  int status_calls = 0;
  o.status = [&] { return "tick " + std::to_string(++status_calls); };
  IoWatchdog w(io, ServiceNotifier::FromEnvironment(), o);
  w.Start();
  // Nothing is sent until the io context runs a handler: the keep-alive proves the loop turns.
  CHECK(sock.Take().empty());
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(io.run_one() == 1);
    CHECK(sock.Take() == "WATCHDOG=1");
    CHECK(sock.Take() == "STATUS=tick " + std::to_string(i));
  }
  CHECK(w.keep_alives_sent() == 3);
  w.Stop();
  io.run();  // the cancelled timer's handler: no more messages
  CHECK(sock.Take().empty());
}

TEST_CASE("without a watchdog the io watchdog still refreshes STATUS but sends no keep-alive") {
  NotifySocket sock(nullptr);
  boost::asio::io_context io;
  IoWatchdogOptions o;
  o.status_period = std::chrono::milliseconds(1);
  o.status = [] { return std::string("ok"); };
  IoWatchdog w(io, ServiceNotifier::FromEnvironment(), o);
  w.Start();
  REQUIRE(io.run_one() == 1);
  CHECK(sock.Take() == "STATUS=ok");
  CHECK(w.keep_alives_sent() == 0);
  w.Stop();
  io.run();
}
