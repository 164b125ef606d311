// AgentCore: copying a live session's KV to the next epoch (docs/agent.md, "KV copy").
//
// A planned change (migration, re-split) gives the new epoch's stages, in their LoadSegment, the
// old epoch's layout. When the entry activates the new epoch, every live session that will move:
//   1. pre-copy: the entry sends KV_PUSH [0, q) down the session's old chain, q being the
//      position of its step in flight (every stage holds [0, q) and never writes it again), while
//      the session keeps decoding on the old epoch;
//   2. each new stage holding stateful layers reports (KV_READY) the positions it holds; at the
//      first token boundary after all of them hold [0, q) (no step in flight): KV_PUSH for the
//      tail [q, p) (the tokens decoded meanwhile), SESSION_END down the old chain, and the next
//      step (position p, as an incremental step would have) on the new epoch, marked with the
//      epoch its KV comes from. A pre-copy not delivered within kv_copy_timeout_ms is abandoned
//      for a rebuild.
// Each old stage answers KV_PUSH by sending every stateful layer's positions to that layer's new
// holder as KV_DATA (a holder that is itself imports locally: a layer that stays on its node
// never crosses the network). A new stage accepts KV_DATA only from the old holder of that layer
// (its LoadSegment says who), and runs the marked step once every one of its layers has received
// the positions before it. If the KV does not arrive within kv_copy_timeout_ms, the stage fails
// the step (unavailable) and the entry rebuilds the session by a prefill of its history instead.
#include "agent/daemon/agent_core.h"
#include "agent/daemon/agent_core_conn.h"
#include "common/base/log.h"

#include <algorithm>

namespace edgesplit::agent {

using transport::Frame;
using transport::FrameKind;

namespace {
TimePoint Now() { return SteadyClock::Default()->Now(); }

std::vector<int> StatefulLayers(SegmentExecutor& exec) {
  std::vector<int> out;
  for (int l = exec.first_layer(); l < exec.end_layer(); ++l)
    if (exec.layer_state(l)) out.push_back(l);
  return out;
}

const transport::StageRange* HolderOf(const std::vector<transport::StageRange>& stages, int layer) {
  for (const auto& s : stages)
    if (layer >= s.first_layer && layer < s.end_layer) return &s;
  return nullptr;
}
}  // namespace

SegmentSlot* AgentCore::CopyTarget(EntryGen* g, uint64_t epoch) {
  if (!config_.kv_copy || g->stream.generated() == 0 || g->stream.rebuilding() || g->parked) return nullptr;
  SegmentSlot* old_slot = table_.Find(g->key);
  SegmentSlot* new_slot = table_.Find({g->key.deployment, epoch});
  if (!old_slot || !old_slot->exec || !new_slot || !new_slot->exec) return nullptr;
  if (new_slot->spec.carry_from_epoch != g->key.epoch || new_slot->spec.stages.empty()) return nullptr;
  return new_slot;
}

void AgentCore::PushKv(EntryGen* g, const SegmentSlot& to, int64_t from, int64_t end) {
  Frame push;
  push.kind = FrameKind::kKvPush;
  push.deployment = g->key.deployment;
  push.epoch = g->key.epoch;
  push.layer = 0;
  push.session_id = g->session;
  push.position = from;
  push.kv_end = end;
  push.carry_epoch = to.spec.epoch;
  push.carry_stages = to.spec.stages;
  push.context_tokens = g->context_tokens;
  push.origin = data_address_;
  HandleKvPush(std::move(push));  // the entry is stage 0 of the old epoch
}

void AgentCore::PreCopySession(EntryGen* g, uint64_t epoch) {
  SegmentSlot* to = CopyTarget(g, epoch);
  const int64_t end = g->stream.NextStepPosition();  // the step in flight writes from here on
  if (!to || end <= 0) return;
  // The new stages holding stateful layers report (KV_READY) once they hold [0, end); the
  // session switches at the first token boundary after all of them did.
  g->precopy_epoch = epoch;
  g->precopied_end = end;
  g->precopy_at = Now();
  g->precopy_ready.clear();
  const std::vector<int> state_layers = to->exec->model_state_layers();
  for (const auto& st : to->spec.stages)
    for (int l : state_layers)
      if (l >= st.first_layer && l < st.end_layer) {
        g->precopy_ready[st.node + ":" + std::to_string(st.first_layer)] = 0;
        break;
      }
  PushKv(g, *to, 0, end);
}

AgentCore::PreCopy AgentCore::PreCopyState(EntryGen* g, uint64_t epoch) {
  if (g->precopy_epoch != epoch) return PreCopy::kNone;
  bool all = true;
  for (const auto& [stage, held] : g->precopy_ready) all = all && held >= g->precopied_end;
  if (all) return PreCopy::kDelivered;
  if (Now() - g->precopy_at < std::chrono::milliseconds(config_.kv_copy_timeout_ms)) return PreCopy::kInFlight;
  LogWarn("kv_precopy_timeout").Kv("session", g->session).Kv("deployment", g->key.deployment).Kv("to_epoch", epoch)
      .Kv("positions", g->precopied_end);
  metrics_->KvCopyFallback();
  return PreCopy::kFailed;
}

void AgentCore::OnKvReady(const Frame& f) {
  auto it = gens_.find(f.session_id);
  if (it == gens_.end() || it->second->precopy_epoch != f.epoch) return;
  auto r = it->second->precopy_ready.find(f.stage + ":" + std::to_string(f.layer));
  if (r != it->second->precopy_ready.end()) r->second = std::max(r->second, f.position);
}

void AgentCore::ReportKvReady(const SegmentSlot& slot, uint64_t session, int64_t held, const std::string& entry) {
  Frame r;
  r.kind = FrameKind::kKvReady;
  r.deployment = slot.spec.deployment;
  r.epoch = slot.spec.epoch;
  r.layer = slot.spec.first_layer;
  r.session_id = session;
  r.position = held;
  r.stage = config_.node;
  DeliverToEntry(std::move(r), entry);
}

bool AgentCore::CopySession(EntryGen* g, uint64_t epoch) {
  SegmentSlot* to = CopyTarget(g, epoch);
  if (!to) return false;
  if (g->precopy_epoch != epoch) DropPreCopy(g);  // pre-copied to an epoch since replaced
  const int64_t end = g->stream.NextStepPosition();  // a token boundary: [0, end) is everywhere
  const int64_t from = g->precopy_epoch == epoch ? g->precopied_end : 0;
  if (end > from) PushKv(g, *to, from, end);
  const uint64_t old_epoch = g->key.epoch;
  LeaveEpoch(g, epoch);
  g->carry_epoch = old_epoch;
  g->precopy_epoch = 0;
  g->stream.Copied();
  metrics_->SessionMoved("copied", "planned");
  LogInfo("session_moved").Kv("session", g->session).Kv("deployment", g->key.deployment).Kv("from_epoch", old_epoch)
      .Kv("to_epoch", epoch).Kv("reason", "planned").Kv("how", "copied").Kv("precopied", from).Kv("positions", end)
      .Kv("next_index", g->stream.next_index());
  return true;
}

void AgentCore::DropPreCopy(EntryGen* g) {
  // The session ends or moves elsewhere before its switch: what the pre-copy sent is freed now,
  // not at the idle reclaim. KV_DATA still on its way is dropped on arrival (RecentlyEnded).
  if (g->precopy_epoch != 0 && g->precopy_epoch != g->key.epoch)
    EndSessionOnChain(g->key.deployment, g->precopy_epoch, g->session);
  g->precopy_epoch = 0;
}

bool AgentCore::FallBackToRebuild(EntryGen* g, const Frame& err) {
  if (g->carry_epoch == 0 || shutting_down_) return false;
  // The KV did not arrive (an old holder is gone or too slow): the history rebuilds it on the
  // same new epoch. Its stages first free what they received.
  LogWarn("kv_copy_failed").Kv("session", g->session).Kv("deployment", g->key.deployment).Kv("epoch", g->key.epoch)
      .Kv("from_epoch", g->carry_epoch).Kv("error", err.error);
  g->carry_epoch = 0;
  metrics_->KvCopyFallback();
  EndSessionOnChain(g->key.deployment, g->key.epoch, g->session);
  g->stream.Rebuild();
  metrics_->SessionMoved("rebuilt", "planned");
  StartStep(g);
  return true;
}

void AgentCore::HandleKvPush(Frame f) {
  SegmentSlot* slot = table_.Find({f.deployment, f.epoch});
  if (!slot || !slot->exec || slot->spec.first_layer != f.layer) return;  // late: the epoch is gone here
  StageSession* ss = sessions_.Find({f.deployment, f.epoch, f.session_id});
  if (config_.debug_drop_kv_tail && f.position > 0) {
    LogWarn("kv_push_dropped").Kv("session", f.session_id).Kv("why", "debug.drop_kv_tail");
  } else if (!ss || !ss->holder->state || ss->next_position < f.kv_end || f.position < 0 || f.kv_end <= f.position) {
    // The new stage waits for this KV in vain and fails the step; the entry then rebuilds.
    LogWarn("kv_push_unavailable").Kv("session", f.session_id).Kv("deployment", f.deployment).Kv("epoch", f.epoch)
        .Kv("positions", f.kv_end).Kv("held", ss ? ss->next_position : 0);
  } else {
    for (int l : StatefulLayers(*slot->exec)) {
      const transport::StageRange* to = HolderOf(f.carry_stages, l);
      if (!to) continue;
      auto t = slot->exec->ExportState(ss->holder->state.get(), l, f.position, f.kv_end);
      if (!t.ok()) {
        LogWarn("kv_export_failed").Kv("session", f.session_id).Kv("layer", l).Kv("error", t.status().ToString());
        continue;
      }
      Frame d;
      d.kind = FrameKind::kKvData;
      d.deployment = f.deployment;
      d.epoch = f.carry_epoch;
      d.carry_epoch = f.epoch;
      d.layer = l;
      d.session_id = f.session_id;
      d.position = f.position;
      d.context_tokens = f.context_tokens;
      d.origin = f.origin;
      d.has_tensor = true;
      d.tensor = std::move(*t);
      if (to->node == config_.node) {
        ReceiveKv(std::move(d));  // the layer stays on this node: no copy over the network
      } else {
        metrics_->KvMoved(static_cast<double>(d.tensor.nbytes));
        (void)Peer(to->address, to->node)->Send(std::move(d));
      }
    }
  }
  if (slot->spec.is_last() || slot->spec.downstream_address.empty()) return;
  f.layer = slot->spec.end_layer;
  (void)Peer(slot->spec.downstream_address, slot->spec.downstream_node())->Send(std::move(f));
}

Status AgentCore::CheckKvData(const Frame& m, bool* discard) {
  SegmentSlot* slot = table_.Find({m.deployment, m.epoch});
  if (!slot || !slot->exec || m.layer < slot->spec.first_layer || m.layer >= slot->spec.end_layer) {
    *discard = true;  // no such segment here (late): its bytes are dropped
    return Status::Ok();
  }
  const auto st = slot->exec->layer_state(m.layer);
  const auto gen = slot->exec->generation();
  if (!st || !gen) return InvalidArgument("kv_data for layer " + std::to_string(m.layer) + ", which keeps no state");
  if (!m.has_tensor || m.session_id == 0) return InvalidArgument("kv_data without a session or a tensor");
  const TensorSpec& spec = st->spec;
  if (m.tensor.dtype != spec.dtype || m.tensor.shape.size() != spec.shape.size())
    return InvalidArgument("kv_data for layer " + std::to_string(m.layer) + " is " + DTypeName(m.tensor.dtype) + " " +
                           ShapeToString(m.tensor.shape) + ", not " + DTypeName(spec.dtype) + " " + ShapeToString(spec.shape));
  for (size_t d = 0; d < spec.shape.size(); ++d)
    if (static_cast<int>(d) != spec.seq_dim && m.tensor.shape[d] != spec.shape[d])
      return InvalidArgument("kv_data shape " + ShapeToString(m.tensor.shape) + " does not match " + ShapeToString(spec.shape));
  int64_t max_context = gen->max_context;
  if (config_.max_context > 0) max_context = std::min<int64_t>(max_context, config_.max_context);
  const int64_t T = m.tensor.shape[static_cast<size_t>(spec.seq_dim)];
  if (m.context_tokens < 1 || m.context_tokens > max_context || m.position < 0 || T < 1 || m.position + T > m.context_tokens)
    return InvalidArgument("kv_data positions [" + std::to_string(m.position) + ", " + std::to_string(m.position + T) +
                           ") do not fit a context of " + std::to_string(m.context_tokens) + " (at most " +
                           std::to_string(max_context) + ")");
  return Status::Ok();
}

void AgentCore::ReceiveKv(Frame d) {
  SegmentSlot* slot = table_.Find({d.deployment, d.epoch});
  if (!d.has_tensor || !slot || !slot->exec || d.layer < slot->spec.first_layer || d.layer >= slot->spec.end_layer) return;
  const StageSessionKey key{d.deployment, d.epoch, d.session_id};
  if (RecentlyEnded(key)) return;  // late: the session ended (or fell back) meanwhile
  RefuseReason why{};
  auto s = sessions_.AcquireCarried(key, d.context_tokens, slot->exec->state_bytes_per_token(), Now(), &why);
  if (!s.ok()) {
    // The carried step is refused the same way and the entry learns why from it.
    LogWarn("kv_refused").Kv("session", d.session_id).Kv("epoch", d.epoch).Kv("error", s.status().ToString());
    return;
  }
  StageSession* ss = *s;
  if (!ss->carrying || ss->capacity != d.context_tokens || ss->received[d.layer] != d.position) {
    LogDebug("kv_data_dropped").Kv("session", d.session_id).Kv("layer", d.layer).Kv("position", d.position);
    return;
  }
  if (!ss->holder->state) {
    auto st = slot->exec->NewSession(ss->capacity);
    if (!st.ok()) {
      LogWarn("kv_refused").Kv("session", d.session_id).Kv("error", st.status().ToString());
      return;
    }
    ss->holder->state = std::move(*st);
  }
  if (Status st = slot->exec->ImportState(ss->holder->state.get(), d.layer, d.position, d.tensor); !st.ok()) {
    LogWarn("kv_import_failed").Kv("session", d.session_id).Kv("layer", d.layer).Kv("error", st.ToString());
    return;
  }
  const auto& spec = slot->exec->layer_state(d.layer)->spec;
  ss->received[d.layer] = d.position + d.tensor.shape[static_cast<size_t>(spec.seq_dim)];
  ss->last_used = Now();
  UpdateSessionGauges();
  const int64_t held = ss->ReceivedUpTo(StatefulLayers(*slot->exec));
  if (held > ss->reported) {
    ss->reported = held;
    ReportKvReady(*slot, d.session_id, held, slot->spec.entry_address.empty() ? d.origin : slot->spec.entry_address);
  }
  auto w = carry_waiting_.find(key);
  if (w != carry_waiting_.end() && held >= w->second.step.position) {
    Frame step = std::move(w->second.step);
    carry_waiting_.erase(w);
    AcceptStep(std::move(step));
  }
}

bool AgentCore::AwaitCarriedKv(SegmentSlot* slot, Frame& f) {
  const StageSessionKey key{slot->spec.deployment, slot->spec.epoch, f.session_id};
  if (f.carry_epoch == 0) {
    // A step that is not carried (the entry rebuilds) must not find KV a late copy left behind.
    if (StageSession* z = sessions_.Find(key); z && z->carrying) sessions_.Release(key);
    return false;
  }
  const std::string entry = EntryOf(slot->spec, f);
  RefuseReason why{};
  auto s = sessions_.AcquireCarried(key, f.context_tokens, slot->exec->state_bytes_per_token(), Now(), &why);
  if (!s.ok()) {
    metrics_->SessionRefused(RefuseReasonName(why));
    SendError(f.WithoutTensor(), entry, s.status());
    return true;
  }
  StageSession* ss = *s;
  if (!ss->carrying) return false;
  if (ss->ReceivedUpTo(StatefulLayers(*slot->exec)) < f.position) {
    carry_waiting_[key] = {std::move(f), Now()};
    return true;
  }
  ss->carrying = false;
  ss->received.clear();
  ss->next_position = f.position;
  return false;
}

void AgentCore::NoteEnded(const StageSessionKey& key) {
  constexpr size_t kRemembered = 4096;  // far more sessions than end within a copy's timeout
  if (!ended_set_.insert(key).second) return;
  ended_.push_back(key);
  if (ended_.size() > kRemembered) {
    ended_set_.erase(ended_.front());
    ended_.pop_front();
  }
}

void AgentCore::SweepCarries(TimePoint now) {
  std::vector<StageSessionKey> late;
  for (const auto& [k, w] : carry_waiting_)
    if (now - w.since >= std::chrono::milliseconds(config_.kv_copy_timeout_ms)) late.push_back(k);
  for (const auto& k : late) {
    Frame step = std::move(carry_waiting_.at(k).step);
    carry_waiting_.erase(k);
    sessions_.Release(k);
    SegmentSlot* slot = table_.Find({k.deployment, k.epoch});
    const std::string entry = slot ? EntryOf(slot->spec, step) : step.origin;
    SendError(step.WithoutTensor(), entry,
              Unavailable("the KV of session " + std::to_string(k.session) + " did not arrive from epoch " +
                          std::to_string(step.carry_epoch) + " within kv_copy_timeout_ms"));
  }
  if (!late.empty()) UpdateSessionGauges();
}

}  // namespace edgesplit::agent
