#include "orchestrator/daemon/gateway.h"

#include "common/base/log.h"

namespace edgesplit::orch {

Gateway::Gateway(GatewayOptions options, const RouteTable* routes, std::function<void(const GatewayResult&)> on_result,
                 std::function<void(const GenerateObservation&)> on_generate)
    : options_(options), routes_(routes), on_result_(std::move(on_result)), on_generate_(std::move(on_generate)) {}

Gateway::~Gateway() { Stop(); }

void Gateway::Start() {
  for (int i = 0; i < options_.threads; ++i) workers_.emplace_back([this] { Worker(); });
}

void Gateway::Stop() {
  std::deque<Job> left;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    left.swap(queue_);
  }
  cv_.notify_all();
  for (auto& j : left) {
    if (j.generate) {
      {
        std::lock_guard<std::mutex> l(mu_);
        --generating_;
      }
      j.generate_done(Unavailable("orchestrator shutting down"));
    } else {
      j.done(Unavailable("orchestrator shutting down"));
    }
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
}

size_t Gateway::inflight() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size() + running_;
}

void Gateway::Submit(const std::string& deployment, HostTensor input, Duration deadline, InferDone done) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!stopping_ && queue_.size() < static_cast<size_t>(options_.max_queue)) {
      const TimePoint now = SteadyClock::Default()->Now();
      queue_.push_back({deployment, std::move(input), now + deadline, now, std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(ResourceExhausted("gateway queue full; retry later"));
}

void Gateway::Worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    if (job.generate) {
      RunGenerate(job);
    } else {
      Run(job);
    }
    std::lock_guard<std::mutex> l(mu_);
    --running_;
    if (job.generate) --generating_;
  }
}

std::unique_ptr<transport::DataClient> Gateway::Acquire(const std::string& address, const std::string& node, Status* err) {
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    auto& v = pool_[address];
    // A pooled client proved the name it was dialled for; another node at that address is another client.
    std::erase_if(v, [&](const auto& c) { return c->expected_node() != node; });
    if (!v.empty()) {
      auto c = std::move(v.back());
      v.pop_back();
      return c;
    }
  }
  transport::ClientOptions o;
  o.connect_timeout = std::chrono::seconds(1);
  o.request_timeout = options_.attempt_timeout;
  o.tls = options_.tls;
  o.expect_node = node;
  auto c = transport::DataClient::Connect(address, o);
  if (!c.ok()) {
    *err = c.status();
    return nullptr;
  }
  return std::move(*c);
}

void Gateway::Release(const std::string& address, std::unique_ptr<transport::DataClient> c) {
  std::lock_guard<std::mutex> l(pool_mu_);
  auto& v = pool_[address];
  if (v.size() < static_cast<size_t>(options_.threads)) v.push_back(std::move(c));
}

bool GatewayRetryable(StatusCode c) {
  return c == StatusCode::kUnavailable || c == StatusCode::kNotFound || c == StatusCode::kResourceExhausted ||
         c == StatusCode::kAborted || c == StatusCode::kFailedPrecondition || c == StatusCode::kDeadlineExceeded ||
         c == StatusCode::kInternal;
}

void Gateway::Run(Job& job) {
  GatewayResult res;
  res.deployment = job.deployment;
  Status last = Unavailable("no route");
  for (;;) {
    const TimePoint now = SteadyClock::Default()->Now();
    if (now >= job.deadline_at) break;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) {
        last = Unavailable("orchestrator shutting down");
        break;
      }
    }
    auto route = routes_->Get(job.deployment);
    if (!route) {
      last = NotFound("unknown deployment " + job.deployment);
      break;
    }
    if (route->entry_address.empty()) {
      // E.g. no commit yet, or the epoch is on hold after a trust revocation: wait for the next.
      last = Unavailable(!route->unavailable_reason.empty() ? route->unavailable_reason
                                                            : "deployment " + job.deployment + " has no committed plan yet");
      std::this_thread::sleep_for(options_.retry_backoff);
      continue;
    }
    ++res.attempts;
    Status err;
    auto client = Acquire(route->entry_address, route->entry_node, &err);
    if (client) {
      auto out = client->Infer(job.deployment, job.input, 0);
      if (out.ok()) {
        Release(route->entry_address, std::move(client));
        res.ok = true;
        res.latency_ms = ToMillis(SteadyClock::Default()->Now() - job.submitted_at);
        if (on_result_) on_result_(res);
        job.done(std::move(out));
        return;
      }
      err = out.status();
      // A pipeline error leaves the connection usable; a transport error does not.
      if (err.code() != StatusCode::kUnavailable && err.code() != StatusCode::kDeadlineExceeded)
        Release(route->entry_address, std::move(client));
    }
    last = err;
    if (!GatewayRetryable(err.code())) break;
    LogInfo("gateway_retry").Kv("deployment", job.deployment).Kv("attempt", res.attempts).Kv("error", err.ToString());
    std::this_thread::sleep_for(options_.retry_backoff);
  }
  if (last.code() == StatusCode::kUnavailable && SteadyClock::Default()->Now() >= job.deadline_at)
    last = DeadlineExceeded("deadline passed; last error: " + last.message());
  res.ok = false;
  res.error_code = StatusCodeName(last.code());
  res.latency_ms = ToMillis(SteadyClock::Default()->Now() - job.submitted_at);
  if (on_result_) on_result_(res);
  job.done(last);
}

}  // namespace edgesplit::orch
