// Client of an entry agent's data port: used by tests, benchmarks and the orchestrator's
// inference gateway. Blocking API over its own io_context (no threads of its own).
// Thread-safe: calls are serialised on a mutex (one request in flight per client); open several
// clients for concurrency. After a transport error the next call reconnects.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "agent/transport/frame_header.h"
#include "common/base/clock.h"
#include "common/base/status.h"
#include "common/base/tensor.h"

namespace edgesplit::transport {

struct ClientOptions {
  Duration connect_timeout = std::chrono::seconds(5);
  Duration request_timeout = std::chrono::seconds(30);  // write + wait for the result
  FrameLimits limits;
};

struct LinkProbeResult {
  double rtt_ms = 0;          // round trip of an empty probe frame
  double bandwidth_mbps = 0;  // probe_bytes * 8 / (round trip of the payload probe - rtt)
};

class DataClient {
 public:
  static Result<std::unique_ptr<DataClient>> Connect(const std::string& address, ClientOptions options = {});
  ~DataClient();

  // Runs `deployment` on `input` through the entry (epoch 0 = the entry's active epoch).
  // Pipeline errors keep their code: resource_exhausted ("overloaded"), not_found (unknown
  // deployment), deadline_exceeded, unavailable (a stage is down), invalid_argument.
  Result<HostTensor> Infer(const std::string& deployment, const HostTensor& input, uint64_t epoch = 0);

  // Measures RTT and bandwidth to the agent's data port with probe frames.
  Result<LinkProbeResult> Probe(size_t probe_bytes);

  const std::string& address() const { return address_; }

 private:
  struct Impl;
  DataClient(std::string address, ClientOptions options);
  Status EnsureConnected();
  std::string address_;
  ClientOptions options_;
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;
  uint64_t next_id_ = 1;
};

}  // namespace edgesplit::transport
