// An outgoing data connection to one peer (next stage or the entry): a bounded frame queue and
// one writer coroutine that (re)connects on demand. A frame that cannot be delivered is handed
// to `on_fail`. Single-threaded: create, Send and Close on the io thread only.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/daemon/agent_metrics.h"
#include "agent/daemon/level_shift.h"
#include "agent/transport/frame_io.h"
#include "agent/transport/frame_queue.h"

namespace edgesplit::agent {

class PeerLink : public std::enable_shared_from_this<PeerLink> {
 public:
  struct Options {
    size_t max_queue = 256;
    Duration connect_timeout = std::chrono::seconds(5);
    Duration frame_deadline = std::chrono::seconds(30);
    security::TlsPtr tls;     // null/plaintext: plain TCP
    std::string expect_node;  // with TLS: the peer's certificate must name this agent (empty: any agent)
    // Called with the link's bandwidth as the traffic measures it (level_shift.h TrafficRate),
    // after each frame large enough to measure.
    std::function<void(double mbps)> on_rate;
  };
  using FailFn = std::function<void(const transport::Frame&, const Status&)>;

  PeerLink(net::asio::any_io_executor ex, std::string address, Options options, transport::TokenBucket* egress,
           AgentMetrics* metrics, FailFn on_fail);
  void Start();
  // resource_exhausted when the queue is full; failed_precondition after Close.
  Status Send(transport::Frame f);
  void Close();
  // Closes the connection (not the queue) when its peer's certificate is now revoked.
  bool CloseIfRevoked();
  const std::string& address() const { return address_; }

 private:
  net::Awaitable<void> Run();
  net::asio::any_io_executor ex_;
  std::string address_;
  Options options_;
  transport::TokenBucket* egress_;
  AgentMetrics* metrics_;
  FailFn on_fail_;
  transport::FrameQueue queue_;
  TrafficRate rate_;
  std::optional<transport::KernelSendState> kernel_;  // the previous reading on this connection
  std::chrono::steady_clock::time_point kernel_at_;
  std::optional<net::Stream> socket_;
};

}  // namespace edgesplit::agent
