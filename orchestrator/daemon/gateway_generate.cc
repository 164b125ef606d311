// The gateway's generation sessions: DataClient::Generate against the deployment's entry,
// tokens relayed as they arrive. Retried like inference, but only until the first token was
// relayed (after that the client has seen part of a stream that a retry would repeat) and
// only within generate_start_timeout; a client that goes away cancels the session.
#include "common/base/log.h"
#include "orchestrator/daemon/gateway.h"

namespace edgesplit::orch {

void Gateway::SubmitGenerate(const std::string& deployment, GenerationRequest request, TokenFn on_token,
                             GenerateDone done) {
  Status refused;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) {
      refused = Unavailable("orchestrator shutting down");
    } else if (generating_ >= static_cast<size_t>(options_.max_generate_sessions)) {
      refused = ResourceExhausted("gateway runs " + std::to_string(generating_) +
                                  " generation sessions already (max_generate_sessions); retry later");
    } else if (queue_.size() >= static_cast<size_t>(options_.max_queue)) {
      refused = ResourceExhausted("gateway queue full; retry later");
    } else {
      const TimePoint now = SteadyClock::Default()->Now();
      Job job;
      job.deployment = deployment;
      job.deadline_at = now + options_.generate_start_timeout;
      job.submitted_at = now;
      job.generate = true;
      job.request = std::move(request);
      job.on_token = std::move(on_token);
      job.generate_done = std::move(done);
      queue_.push_back(std::move(job));
      ++generating_;
      cv_.notify_one();
      return;
    }
  }
  GenerateObservation obs;
  obs.deployment = deployment;
  Observe(obs, refused, false);
  done(refused);
}

void Gateway::Observe(GenerateObservation& obs, const Status& s, bool cancelled) {
  obs.outcome = s.ok() ? "ok" : cancelled ? "cancelled" : StatusCodeName(s.code());
  if (on_generate_) on_generate_(obs);
}

void Gateway::RunGenerate(Job& job) {
  GenerateObservation obs;
  obs.deployment = job.deployment;
  bool cancelled = false;
  bool shutting_down = false;
  TimePoint last_token{};
  // Relays one token; measures what the client sees (queueing and retries included).
  auto relay = [&](int64_t index, int64_t token) {
    const TimePoint now = SteadyClock::Default()->Now();
    if (obs.tokens == 0) {
      obs.ttft_ms = ToMillis(now - job.submitted_at);
    } else {
      obs.inter_token_ms.push_back(ToMillis(now - last_token));
    }
    last_token = now;
    ++obs.tokens;
    {
      // Stop() joins the workers: a long stream must not hold it up.
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) {
        shutting_down = true;
        return false;
      }
    }
    if (!job.on_token(index, token)) {
      cancelled = true;
      return false;
    }
    return true;
  };
  Status last = Unavailable("no route");
  for (;;) {
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
    Status err;
    if (route->entry_address.empty()) {
      err = Unavailable(!route->unavailable_reason.empty() ? route->unavailable_reason
                                                           : "deployment " + job.deployment + " has no committed plan yet");
    } else {
      ++obs.attempts;
      auto client = Acquire(route->entry_address, route->entry_node, &err);
      if (client) {
        auto out = client->Generate(job.deployment, job.request, relay);
        if (out.ok()) {
          Release(route->entry_address, std::move(client));
          GenerationSummary sum;
          sum.finish_reason = out->finish_reason;
          sum.prompt_tokens = out->prompt_tokens;
          sum.tokens = out->tokens;
          sum.ttft_ms = out->ttft_ms;
          sum.ms_per_token = out->ms_per_token;
          sum.moves = out->moves;
          sum.stall_ms_max = out->stall_ms_max;
          sum.epoch = out->epoch;
          Observe(obs, Status::Ok(), false);
          job.generate_done(std::move(sum));
          return;
        }
        err = out.status();
        // Refused before any token: the connection is still in step. After tokens, a cancel or
        // a transport error, its state is unknown: drop it.
        if (obs.tokens == 0 && !cancelled && err.code() != StatusCode::kUnavailable &&
            err.code() != StatusCode::kDeadlineExceeded && err.code() != StatusCode::kAborted)
          Release(route->entry_address, std::move(client));
      }
    }
    last = err;
    if (shutting_down) last = Unavailable("orchestrator shutting down");
    if (cancelled || obs.tokens > 0 || !GatewayRetryable(err.code())) break;
    if (SteadyClock::Default()->Now() + options_.retry_backoff >= job.deadline_at) break;
    LogInfo("gateway_generate_retry").Kv("deployment", job.deployment).Kv("attempt", obs.attempts).Kv("error", err.ToString());
    std::this_thread::sleep_for(options_.retry_backoff);
  }
  if (cancelled) last = Aborted("generation cancelled: the client went away");
  Observe(obs, last, cancelled);
  job.generate_done(last);
}

}  // namespace edgesplit::orch
