// Client of an entry agent's data port: used by tests, benchmarks and the orchestrator's
// inference gateway. Blocking API over its own io_context (no threads of its own).
// Thread-safe: calls are serialised on a mutex (one request in flight per client); open several
// clients for concurrency. After a transport error the next call reconnects.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "agent/transport/frame_header.h"
#include "common/base/clock.h"
#include "common/base/status.h"
#include "common/base/tensor.h"
#include "common/model/generation_request.h"
#include "common/security/tls_context.h"

namespace edgesplit::transport {

struct ClientOptions {
  Duration connect_timeout = std::chrono::seconds(5);
  Duration request_timeout = std::chrono::seconds(30);  // write + wait for the result
  FrameLimits limits;
  // TLS identity of this client (role client, or the orchestrator for its gateway); null or
  // plaintext = no TLS (the agent must run with tls: {mode: off}).
  security::TlsPtr tls;
  std::string expect_node;  // with TLS: the agent's certificate must carry this name (empty = any agent)
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

  // Runs a generation session at the entry: sends FRAME_GENERATE with `request` (its prompt as
  // int64 [1, P]) and calls `on_token(index, token)` for every streamed token, in order, as it
  // arrives. Returns the closing summary. `request_timeout` bounds the wait for each token (not
  // the whole stream). If `on_token` returns false the session is cancelled (SESSION_END) and
  // the call returns aborted. Errors keep the pipeline's code (resource_exhausted when the
  // session limits are reached, invalid_argument for a bad request, ...).
  struct GenerateSummary {
    std::string finish_reason;  // "length" | "stop"
    int64_t prompt_tokens = 0;
    int64_t tokens = 0;
    double ttft_ms = 0;         // as the entry measured it
    double ms_per_token = 0;    // entry-measured median interval
    int moves = 0;              // times the session moved to another epoch
    double stall_ms_max = 0;    // largest stall of a move
    uint64_t epoch = 0;         // epoch that served the session
  };
  Result<GenerateSummary> Generate(const std::string& deployment, const GenerationRequest& request,
                                   const std::function<bool(int64_t index, int64_t token)>& on_token);

  // Measures RTT and bandwidth to the agent's data port with probe frames.
  Result<LinkProbeResult> Probe(size_t probe_bytes);

  const std::string& address() const { return address_; }
  const std::string& expected_node() const { return options_.expect_node; }

 private:
  struct Impl;
  DataClient(std::string address, ClientOptions options);
  Status EnsureConnected();
  std::string address_;
  ClientOptions options_;
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;
};

}  // namespace edgesplit::transport
