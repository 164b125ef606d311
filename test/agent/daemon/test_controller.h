// A stand-in orchestrator for tests: accepts agents on the control protocol, registers them and
// sends commands, waiting for their acks. Its io runs on its own thread; the API is blocking
// and thread-safe.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/base/status.h"
#include "common/net/framed_message.h"
#include "common/proto/control.pb.h"

namespace edgesplit::testing {

class TestController {
 public:
  explicit TestController(uint32_t heartbeat_period_ms = 100, const std::string& listen = "127.0.0.1:0");
  ~TestController();
  const std::string& address() const { return address_; }

  // Waits (up to `timeout`) until `n` agents have registered.
  bool WaitForAgents(size_t n, Duration timeout);
  // Waits until `node` has sent at least `count` heartbeats.
  bool WaitForHeartbeats(const std::string& node, uint64_t count, Duration timeout);
  v1::Register registration(const std::string& node);
  v1::Heartbeat last_heartbeat(const std::string& node);
  // Sends `cmd` (command_id assigned here) and waits for the ack.
  Result<v1::CommandAck> Call(const std::string& node, v1::Command cmd, Duration timeout);

  // Command builders.
  static v1::Command Load(const std::string& deployment, uint64_t epoch, const std::string& model, int first, int end,
                          int num_layers, const std::string& downstream, bool is_entry, const std::string& entry = "");
  static v1::Command Activate(const std::string& deployment, uint64_t epoch);
  static v1::Command Drain(const std::string& deployment, uint64_t epoch);
  static v1::Command Unload(const std::string& deployment, uint64_t epoch);

 private:
  struct Conn;
  net::Awaitable<void> AcceptLoop();
  net::Awaitable<void> Serve(std::shared_ptr<Conn> c);

  uint32_t heartbeat_period_ms_;
  net::asio::io_context io_;
  std::optional<net::tcp::acceptor> acceptor_;
  std::string address_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Conn>> agents_;
  std::map<std::string, v1::Register> registrations_;
  std::map<std::string, v1::Heartbeat> heartbeats_;
  std::map<std::string, uint64_t> heartbeat_counts_;
  std::map<uint64_t, v1::CommandAck> acks_;
  uint64_t next_command_id_ = 1;
};

}  // namespace edgesplit::testing
