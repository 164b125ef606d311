// AgentCore: generation sessions on the data plane (docs/agent.md, "Generation sessions").
//
// The entry owns a session (GenStream: request, token history, client stream). Each step runs
// the new positions through the pipeline as FRAME_STEP; each stage keeps its layers' KV state
// in sessions_, keyed by (deployment, epoch, session id); the last stage samples and returns
// FRAME_TOKEN; the entry emits it to the client with its index and starts the next step. When
// the stream ends (length, stop, error, cancel, deadline) the entry sends FRAME_SESSION_END
// down the chain and every stage frees the session's state.
#include <thread>

#include "agent/daemon/agent_core.h"
#include "agent/daemon/agent_core_conn.h"
#include "common/base/log.h"
#include "common/base/random_id.h"
#include "common/model/sampler.h"

namespace edgesplit::agent {

namespace asio = boost::asio;
using transport::Frame;
using transport::FrameKind;
using transport::RejectReason;


}  // namespace edgesplit::agent

#include "agent/runtime/chain_generator.h"

namespace edgesplit::agent {
namespace {
int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
TimePoint Now() { return SteadyClock::Default()->Now(); }
}  // namespace

void AgentCore::AcceptGenerate(Frame f, const std::shared_ptr<InConn>& conn) {
  auto refuse = [&](const Status& s, const char* reason) {
    metrics_->SessionRefused(reason);
    LogWarn("session_refused").Kv("deployment", f.deployment).Kv("reason", reason).Kv("error", s.ToString());
    Frame e = Frame::ErrorFor(f, s, config_.node);
    e.session_id = 0;
    ReplyToClient(conn, std::move(e));
  };
  if (shutting_down_) return refuse(Unavailable("agent is shutting down"), "unavailable");
  std::optional<RejectReason> reason;
  auto r = table_.RouteRequest(f.deployment, f.epoch, &reason);
  if (!r.ok()) return refuse(r.status(), "unavailable");
  SegmentSlot* slot = *r;
  const auto spec = slot->exec->generation();
  if (!spec) return refuse(FailedPrecondition("deployment '" + f.deployment + "' serves a model that cannot generate"), "invalid");
  if (!f.has_gen) return refuse(InvalidArgument("generate frame without generation parameters"), "invalid");
  GenerationRequest req = f.gen;
  const int64_t* ids = reinterpret_cast<const int64_t*>(f.tensor.data);
  req.prompt.assign(ids, ids + f.tensor.numel());  // CheckFrame validated int64 [1, P], P <= context
  int64_t max_context = spec->max_context;
  if (config_.max_context > 0) max_context = std::min<int64_t>(max_context, config_.max_context);
  if (Status s = req.Validate(spec->vocab, max_context); !s.ok()) return refuse(s, "invalid");
  uint64_t id = 0;
  while (id == 0 || gens_.count(id)) id = RandomId();  // unguessable, never reused while live
  auto g = std::make_unique<EntryGen>(std::move(req), Now());
  g->session = id;
  g->key = {slot->spec.deployment, slot->spec.epoch};
  g->conn = conn;
  g->conn_id = conn->id;
  g->client_request_id = f.request_id;
  g->context_tokens = g->stream.request().ContextTokens();
  g->last_progress = Now();
  EntryGen* raw = g.get();
  gens_[id] = std::move(g);
  slot->in_flight_entry++;  // a draining epoch waits for its sessions too
  LogInfo("session_started").Kv("session", id).Kv("deployment", raw->key.deployment).Kv("epoch", raw->key.epoch)
      .Kv("prompt_tokens", raw->stream.request().prompt.size()).Kv("max_new_tokens", raw->stream.request().max_new_tokens);
  UpdateSessionGauges();
  StartStep(raw);
}

void AgentCore::StartStep(EntryGen* g) {
  // A token boundary: if another epoch has become active here since the last step, the session
  // follows it now (agent_core_carry.cc).
  if (auto active = table_.ActiveEpoch(g->key.deployment); active && *active != g->key.epoch) {
    switch (PreCopyState(g, *active)) {
      case PreCopy::kInFlight: break;  // keeps decoding on its epoch while the bulk of its KV travels
      case PreCopy::kFailed: MoveSession(g, *active, "planned"); break;
      case PreCopy::kNone:
      case PreCopy::kDelivered:
        if (!CopySession(g, *active)) MoveSession(g, *active, "planned");
    }
  }
  SegmentSlot* slot = table_.Find(g->key);
  if (!slot || !AcceptsActivations(slot->state)) {
    const Status s = Unavailable("epoch " + std::to_string(g->key.epoch) + " of '" + g->key.deployment + "' is gone from the entry");
    return FinishEntrySession(g->session, "failed", &s);
  }
  const std::vector<int64_t> tokens = g->stream.NextStepTokens();
  Frame st;
  st.kind = FrameKind::kStep;
  st.deployment = g->key.deployment;
  st.epoch = g->key.epoch;
  st.layer = 0;
  st.session_id = g->session;
  st.carry_epoch = g->carry_epoch;  // the first step after a KV copy: stages wait for the KV
  st.position = g->stream.NextStepPosition();
  st.token_index = g->stream.next_index();
  st.context_tokens = g->context_tokens;
  st.has_gen = true;
  st.gen = g->stream.request();
  st.gen.prompt.clear();
  st.origin = data_address_;
  st.deadline_unix_ms = UnixMillis() + config_.request_timeout_ms;
  st.has_tensor = true;
  st.tensor = HostTensor::CopyOf(DType::kInt64, {1, static_cast<int64_t>(tokens.size())}, tokens.data(),
                                 tokens.size() * sizeof(int64_t));
  g->step_started = Now();
  g->step_deadline = g->last_progress + std::chrono::milliseconds(config_.request_timeout_ms);
  AcceptStep(std::move(st));
}

void AgentCore::AcceptStep(Frame f) {
  std::optional<RejectReason> reason;
  auto r = table_.RouteActivation(f.deployment, f.epoch, f.layer, &reason);
  if (!r.ok()) return SendError(f, f.origin, r.status());
  SegmentSlot* slot = *r;
  const std::string entry = EntryOf(slot->spec, f);
  const Frame meta = f.WithoutTensor();
  if (!slot->exec->can_generate())
    return SendError(meta, entry, FailedPrecondition("segment of '" + f.deployment + "' cannot generate"));
  if (!f.has_gen || !f.gen.sampling.Validate().ok())
    return SendError(meta, entry, InvalidArgument("step without valid generation parameters"));
  if (AwaitCarriedKv(slot, f)) return UpdateSessionGauges();
  const StageSessionKey key{slot->spec.deployment, slot->spec.epoch, f.session_id};
  const int64_t T = f.tensor.shape[1];
  RefuseReason why{};
  auto s = sessions_.Acquire(key, f.position, T, f.context_tokens, slot->exec->state_bytes_per_token(), Now(), &why);
  if (!s.ok()) {
    metrics_->SessionRefused(RefuseReasonName(why));
    return SendError(meta, entry, s.status());
  }
  const int64_t before = (*s)->next_position;
  Status st = SubmitStep(slot, std::move(f), (*s)->holder);
  if (!st.ok()) {
    if (before == 0) sessions_.Release(key);
    else sessions_.StepDone(key, before, Now());
    SendError(meta, entry, st);
  }
  UpdateSessionGauges();
}

Result<int64_t> SampleStepToken(const HostTensor& logits, int64_t vocab, const Frame& f) {
  if (logits.dtype != DType::kFloat32 || logits.shape.size() < 2 || logits.shape.back() != vocab)
    return Internal("the last layer did not return [batch, 1, vocab] float32 logits");
  return SampleToken(LastPositionLogits(logits), static_cast<size_t>(vocab), f.gen.sampling,
                     static_cast<uint64_t>(f.token_index));
}

Status AgentCore::SubmitStep(SegmentSlot* slot, Frame f, std::shared_ptr<SessionHolder> holder) {
  if (config_.decode_batch_max > 1 && slot->exec->can_batch_steps() && f.tensor.shape[1] == 1 && holder->state)
    return SubmitBatchedStep(slot, std::move(f), std::move(holder));
  ES_RETURN_IF_ERROR(CheckComputeRoom());
  auto exec = slot->exec;
  LoadSpec spec = slot->spec;
  const double slowdown = config_.emulation.compute_slowdown;
  const auto vocab = exec->generation() ? exec->generation()->vocab : 0;
  auto alive = alive_;
  auto job = [this, alive, exec, spec, slowdown, vocab, holder = std::move(holder), f = std::move(f)]() mutable {
    std::vector<double> layer_ms;
    const auto t0 = std::chrono::steady_clock::now();
    Result<HostTensor> out = Internal("no step ran");
    if (!holder->state) {
      auto st = exec->NewSession(f.context_tokens);
      if (st.ok()) holder->state = std::move(*st);
      else out = st.status();
    }
    const int64_t end_position = f.position + f.tensor.shape[1];
    int64_t token = -1;
    if (holder->state) {
      out = exec->Step(f.tensor, holder->state.get(), f.position, &layer_ms);
      if (out.ok() && spec.is_last()) {
        // The last stage samples: only the token id goes back to the entry, never logits.
        auto t = SampleStepToken(*out, vocab, f);
        if (t.ok()) {
          token = *t;
          out = HostTensor{};
        } else {
          out = t.status();
        }
      }
    }
    StretchForEmulation(t0, slowdown, &layer_ms);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    f.tensor = {};
    f.has_tensor = false;
    f.position = end_position;  // carried back: where the cache now ends
    asio::post(io_, [this, alive, spec = std::move(spec), f = std::move(f), out = std::move(out), token,
                     layer_ms = std::move(layer_ms), seconds]() mutable {
      if (*alive) OnStepComputed(std::move(spec), std::move(f), std::move(out), token, std::move(layer_ms), seconds);
    });
  };
  return RunOnCompute(slot, std::move(job));
}

Status AgentCore::SubmitBatchedStep(SegmentSlot* slot, Frame f, std::shared_ptr<SessionHolder> holder) {
  ES_RETURN_IF_ERROR(CheckComputeRoom());
  const SegmentKey key{slot->spec.deployment, slot->spec.epoch};
  auto& b = batchers_[key];
  if (!b) b = std::make_shared<StepBatcher>();
  bool need_job = false;
  {
    std::lock_guard<std::mutex> l(b->mu);
    b->items.push_back({std::move(f), std::move(holder)});
    need_job = !b->scheduled;
    b->scheduled = true;
  }
  if (need_job) {
    auto exec = slot->exec;
    const LoadSpec spec = slot->spec;
    const double slowdown = config_.emulation.compute_slowdown;
    const int64_t vocab = exec->generation() ? exec->generation()->vocab : 0;
    const size_t max = static_cast<size_t>(config_.decode_batch_max);
    auto alive = alive_;
    auto job = [this, alive, exec, spec, slowdown, vocab, max, b]() {
      // Runs every step queued meanwhile, up to `max` per pass, until the queue is empty.
      for (;;) {
        std::vector<StepBatcher::Item> batch;
        {
          std::lock_guard<std::mutex> l(b->mu);
          while (!b->items.empty() && batch.size() < max) {
            batch.push_back(std::move(b->items.front()));
            b->items.pop_front();
          }
          if (batch.empty()) {
            b->scheduled = false;
            return;
          }
        }
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<HostTensor> xs;
        std::vector<SessionState*> states;
        std::vector<int64_t> positions;
        for (auto& it : batch) {
          xs.push_back(it.f.tensor);
          states.push_back(it.holder->state.get());
          positions.push_back(it.f.position);
        }
        auto outs = exec->StepBatch(xs, states, positions);
        std::vector<double> no_layers;
        StretchForEmulation(t0, slowdown, &no_layers);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / batch.size();
        for (size_t i = 0; i < batch.size(); ++i) {
          Frame f = std::move(batch[i].f);
          Result<HostTensor> out = outs.ok() ? Result<HostTensor>((*outs)[i]) : Result<HostTensor>(outs.status());
          int64_t token = -1;
          if (out.ok() && spec.is_last()) {
            auto t = SampleStepToken(*out, vocab, f);
            if (t.ok()) token = *t, out = HostTensor{};
            else out = t.status();
          }
          f.tensor = {};
          f.has_tensor = false;
          f.position += 1;
          asio::post(io_, [this, alive, spec, f = std::move(f), out = std::move(out), token, seconds]() mutable {
            if (*alive) OnStepComputed(spec, std::move(f), std::move(out), token, {}, seconds);
          });
        }
      }
    };
    Status s = RunOnCompute(slot, std::move(job));
    if (!s.ok()) {
      std::lock_guard<std::mutex> l(b->mu);
      b->items.pop_back();
      b->scheduled = false;
    }
    return s;
  }
  return RunOnCompute(slot, nullptr);  // counted: the job already scheduled takes this step
}

void AgentCore::OnStepComputed(LoadSpec spec, Frame in, Result<HostTensor> out, int64_t token,
                               std::vector<double> layer_ms, double seconds) {
  --in_compute_;
  metrics_->ComputeSeconds(seconds);
  if (SegmentSlot* slot = table_.Find({spec.deployment, spec.epoch})) slot->in_compute--;
  UpdateGauges();
  const StageSessionKey key{spec.deployment, spec.epoch, in.session_id};
  StageSession* ss = sessions_.Find(key);
  if (!ss) {
    // The session ended (or was reclaimed) while this step ran: its result goes nowhere, and
    // must not recreate state further down the chain.
    LogDebug("step_dropped").Kv("session", in.session_id);
    return;
  }
  const std::string entry = EntryOf(spec, in);
  const int64_t end_position = in.position;
  if (!out.ok()) {
    sessions_.StepDone(key, ss->next_position, Now());
    return SendError(in, entry, out.status());
  }
  sessions_.StepDone(key, end_position, Now());
  if (spec.is_last()) {
    Frame t;
    t.kind = FrameKind::kToken;
    t.deployment = spec.deployment;
    t.epoch = spec.epoch;
    t.layer = spec.num_layers;
    t.session_id = in.session_id;
    t.token_index = in.token_index;
    t.token = token;
    t.origin = in.origin;
    return DeliverToEntry(std::move(t), entry);
  }
  Frame next = std::move(in);
  next.kind = FrameKind::kStep;
  next.layer = spec.end_layer;
  next.position = end_position - out->shape[1];
  next.has_tensor = true;
  next.tensor = std::move(*out);
  const Frame meta = next.WithoutTensor();
  Status s = Peer(spec.downstream_address, spec.downstream_node())->Send(std::move(next));
  if (!s.ok()) SendError(meta, entry, s);
}

void AgentCore::HandleAtEntry(Frame f) {
  if (f.kind == FrameKind::kToken) return OnEntryToken(f);
  if (f.kind == FrameKind::kKvReady) return OnKvReady(f);
  if (f.kind == FrameKind::kError && f.session_id != 0) return OnEntrySessionError(f);
  CompletePending(std::move(f));
}

void AgentCore::OnEntryToken(const Frame& f) {
  auto it = gens_.find(f.session_id);
  if (it == gens_.end() || f.epoch != it->second->key.epoch) {
    LogDebug("late_token_dropped").Kv("session", f.session_id);
    return;
  }
  EntryGen* g = it->second.get();
  const TimePoint now = Now();
  const bool closes_move = g->stream.move_pending();
  const auto outcome = g->stream.OnToken(f.token_index, f.token, now);
  if (closes_move && outcome != GenStream::Outcome::kIgnore && g->stream.last_stall_ms() >= 0)
    metrics_->SessionStall(g->key.deployment, g->stream.last_stall_ms() / 1e3);
  switch (outcome) {
    case GenStream::Outcome::kIgnore: return;
    case GenStream::Outcome::kStop: return FinishEntrySession(g->session, "stopped", nullptr);
    case GenStream::Outcome::kEmitContinue:
    case GenStream::Outcome::kEmitFinish: break;
  }
  g->last_progress = now;
  g->carry_epoch = 0;  // the copied session runs on its own KV now
  if (f.token_index == 0) metrics_->FirstToken(g->key.deployment, g->stream.ttft_ms() / 1e3);
  else metrics_->InterToken(g->key.deployment, g->stream.intervals_ms().back() / 1e3);
  auto conn = g->conn.lock();
  Frame out;
  out.kind = FrameKind::kToken;
  out.request_id = g->client_request_id;
  out.deployment = g->key.deployment;
  out.epoch = g->key.epoch;
  out.token_index = f.token_index;
  out.token = f.token;
  if (!conn || !conn->out.Push(std::move(out))) {
    if (conn) conn->Close();  // a client that does not read its stream loses it
    return FinishEntrySession(g->session, "cancelled", nullptr);
  }
  metrics_->TokensGenerated(1);
  if (outcome == GenStream::Outcome::kEmitFinish) return FinishEntrySession(g->session, "completed", nullptr);
  StartStep(g);
}

void AgentCore::OnEntrySessionError(const Frame& f) {
  auto it = gens_.find(f.session_id);
  if (it == gens_.end() || f.epoch != it->second->key.epoch || f.token_index != it->second->stream.next_index()) return;
  if (SurviveStepError(it->second.get(), f)) return;
  const Status s = f.ErrorStatus();
  FinishEntrySession(f.session_id, "failed", &s);
}

void AgentCore::FinishEntrySession(uint64_t session, const char* reason, const Status* error) {
  auto it = gens_.find(session);
  if (it == gens_.end()) return;
  std::unique_ptr<EntryGen> g = std::move(it->second);
  gens_.erase(it);
  if (SegmentSlot* slot = table_.Find(g->key)) slot->in_flight_entry--;
  const std::string why = reason;
  if (auto conn = g->conn.lock(); conn && why != "cancelled") {
    Frame out;
    out.request_id = g->client_request_id;
    out.deployment = g->key.deployment;
    out.epoch = g->key.epoch;
    if (error) {
      out.kind = FrameKind::kError;
      out.error_code = StatusCodeName(error->code());
      out.error = error->message();
      out.stage = config_.node;
    } else {
      out.kind = FrameKind::kGenDone;
      out.finish_reason = FinishReasonName(g->stream.finish_reason());
      out.prompt_tokens = static_cast<int64_t>(g->stream.request().prompt.size());
      out.ttft_ms = g->stream.ttft_ms();
      out.ms_per_token = g->stream.ms_per_token_p50();
      out.moves = g->stream.moves();
      out.stall_ms_max = g->stream.stall_ms_max();
    }
    ReplyToClient(conn, std::move(out));
  }
  metrics_->SessionEnded(reason);
  auto log = error ? LogWarn("session_ended") : LogInfo("session_ended");
  log.Kv("session", session).Kv("deployment", g->key.deployment).Kv("epoch", g->key.epoch).Kv("reason", reason)
      .Kv("tokens", g->stream.generated()).Kv("ttft_ms", g->stream.ttft_ms()).Kv("ms_per_token", g->stream.ms_per_token_p50())
      .Kv("moves", g->stream.moves()).Kv("stall_ms_max", g->stream.stall_ms_max());
  if (error) log.Kv("error", error->ToString());
  EndSessionOnChain(g->key.deployment, g->key.epoch, session);
  DropPreCopy(g.get());
  UpdateSessionGauges();
}

void AgentCore::HandleSessionEnd(Frame f, const std::shared_ptr<InConn>& conn) {
  if (f.session_id == 0) {
    // A client cancels the session it started on this connection.
    if (!conn) return;
    for (auto& [id, g] : gens_)
      if (g->conn_id == conn->id && g->client_request_id == f.request_id) return FinishEntrySession(id, "cancelled", nullptr);
    return;
  }
  // A stage frees the session's state and passes the end down its chain.
  const StageSessionKey key{f.deployment, f.epoch, f.session_id};
  sessions_.Release(key);
  carry_waiting_.erase(key);
  NoteEnded(key);
  UpdateSessionGauges();
  const SegmentSlot* slot = table_.Find({f.deployment, f.epoch});
  if (!slot || slot->spec.first_layer != f.layer || slot->spec.is_last() || slot->spec.downstream_address.empty()) return;
  f.layer = slot->spec.end_layer;
  (void)Peer(slot->spec.downstream_address, slot->spec.downstream_node())->Send(std::move(f));
}

void AgentCore::CancelSessionsOf(uint64_t conn_id) {
  std::vector<uint64_t> ids;
  for (auto& [id, g] : gens_)
    if (g->conn_id == conn_id) ids.push_back(id);
  for (uint64_t id : ids) FinishEntrySession(id, "cancelled", nullptr);
}

void AgentCore::SweepSessions(TimePoint now) {
  std::vector<uint64_t> late;
  for (auto& [id, g] : gens_)
    if (g->step_deadline <= now) late.push_back(id);
  const Status s = DeadlineExceeded("no token within request_timeout_ms");
  for (uint64_t id : late) FinishEntrySession(id, "expired", &s);
  RescueSessions(now);
  SweepCarries(now);
  const auto idle = sessions_.Idle(now);
  for (const auto& k : idle) {
    sessions_.Release(k);
    LogInfo("session_state_reclaimed").Kv("session", k.session).Kv("deployment", k.deployment).Kv("epoch", k.epoch);
  }
  if (!idle.empty()) {
    metrics_->KvReclaimed(static_cast<double>(idle.size()));
    UpdateSessionGauges();
  }
}

void AgentCore::UpdateSessionGauges() {
  metrics_->sessions_active->Set(static_cast<double>(gens_.size()));
  metrics_->kv_sessions->Set(static_cast<double>(sessions_.count()));
  metrics_->kv_bytes->Set(static_cast<double>(sessions_.reserved_bytes()));
}

}  // namespace edgesplit::agent
