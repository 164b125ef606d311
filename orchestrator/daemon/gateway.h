// The inference gateway behind POST /v1/deployments/{name}/infer: runs requests through the
// deployment's entry agent with the agent's client library (blocking, so on a bounded pool of
// worker threads). A request that fails in a retryable way (a stage went down, its epoch was
// released, the entry is overloaded) is retried on the current route until its deadline, so a
// reconfiguration or a lost node is invisible to clients whose deadline allows a retry.
// Generation sessions (POST .../generate) run on the same workers, each holding one for its
// whole stream, so at most max_generate_sessions are admitted at once (the rest of the pool
// stays free for inference); one is retried only before its first token was streamed.
// Thread-safe. Stop() joins the workers; pending requests are answered unavailable.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/transport/client.h"
#include "orchestrator/api/rest_api.h"
#include "orchestrator/daemon/config.h"
#include "orchestrator/daemon/route_table.h"

namespace edgesplit::orch {

struct GatewayResult {
  std::string deployment;
  bool ok = false;
  std::string error_code;  // bounded: status code names
  double latency_ms = 0;
  int attempts = 0;
};

// One generation session as the gateway saw it (metrics).
struct GenerateObservation {
  std::string deployment;
  std::string outcome;  // bounded: "ok", "cancelled" or a status code name
  int64_t tokens = 0;   // streamed to the client
  double ttft_ms = -1;  // submission to first token; < 0: no token
  std::vector<double> inter_token_ms;
  int attempts = 0;
};

// Codes worth another attempt on the current route (a stage down, the epoch released, overload).
bool GatewayRetryable(StatusCode c);

class Gateway {
 public:
  // `on_result` runs on a worker thread after each request (metrics, observed latency).
  // `on_generate` likewise after each generation session (also those refused at submission).
  Gateway(GatewayOptions options, const RouteTable* routes, std::function<void(const GatewayResult&)> on_result,
          std::function<void(const GenerateObservation&)> on_generate = {});
  ~Gateway();
  void Start();
  void Stop();
  // Queues a request; resource_exhausted through `done` when the queue is full.
  void Submit(const std::string& deployment, HostTensor input, Duration deadline, InferDone done);
  // Queues a generation session (see GenerateFn); resource_exhausted through `done` when the
  // queue is full or max_generate_sessions are admitted already.
  void SubmitGenerate(const std::string& deployment, GenerationRequest request, TokenFn on_token, GenerateDone done);
  size_t inflight() const;

 private:
  struct Job {
    std::string deployment;
    HostTensor input;
    TimePoint deadline_at;
    TimePoint submitted_at;
    InferDone done;
    // Generation sessions only.
    bool generate = false;
    GenerationRequest request;
    TokenFn on_token;
    GenerateDone generate_done;
  };
  void Worker();
  void Run(Job& job);
  void RunGenerate(Job& job);  // gateway_generate.cc
  void Observe(GenerateObservation& obs, const Status& s, bool cancelled);
  // A pooled client for the entry at `address`, whose certificate must name `node`.
  std::unique_ptr<transport::DataClient> Acquire(const std::string& address, const std::string& node, Status* err);
  void Release(const std::string& address, std::unique_ptr<transport::DataClient> c);

  GatewayOptions options_;
  const RouteTable* routes_;
  std::function<void(const GatewayResult&)> on_result_;
  std::function<void(const GenerateObservation&)> on_generate_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  size_t running_ = 0;
  size_t generating_ = 0;  // generation sessions queued or running
  std::vector<std::thread> workers_;
  std::mutex pool_mu_;
  std::map<std::string, std::vector<std::unique_ptr<transport::DataClient>>> pool_;
};

}  // namespace edgesplit::orch
