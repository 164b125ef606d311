#include "agent/daemon/segment_table.h"

#include <numeric>

#include "agent/daemon/level_shift.h"

#include <algorithm>

namespace edgesplit::agent {

using transport::RejectReason;

namespace {
std::string KeyName(const SegmentKey& k) { return k.deployment + "@" + std::to_string(k.epoch); }
}  // namespace

Status ValidateLoadSpec(const LoadSpec& s) {
  std::string problems;
  if (s.deployment.empty()) problems += "deployment is empty; ";
  if (s.epoch == 0) problems += "epoch must be positive; ";
  if (s.model.empty()) problems += "model is empty; ";
  if (s.first_layer < 0 || s.end_layer <= s.first_layer) problems += "layer range is empty or negative; ";
  if (s.num_layers <= 0 || s.end_layer > s.num_layers) problems += "end_layer exceeds num_layers; ";
  if (!s.is_last() && s.downstream_address.empty()) problems += "a stage before the last needs downstream_address; ";
  if (!s.stage_nodes.empty() && (s.stage_index < 0 || s.stage_index >= static_cast<int>(s.stage_nodes.size())))
    problems += "stage_index outside stage_nodes; ";
  if (!s.stage_nodes.empty() && (s.stage_index == 0) != s.is_entry) problems += "stage_index 0 must be the entry; ";
  // KV copy ranges must tile the model in order (a session's layers each have one holder).
  auto tiles = [&](const std::vector<transport::StageRange>& v) {
    int next = 0;
    for (const auto& r : v) {
      if (r.first_layer != next || r.end_layer <= r.first_layer || r.node.empty() || r.address.empty()) return false;
      next = r.end_layer;
    }
    return v.empty() || next == s.num_layers;
  };
  if (s.stages.size() > transport::kMaxCarryStages || s.carry_from.size() > transport::kMaxCarryStages)
    problems += "too many stages; ";
  else if (!tiles(s.stages)) problems += "stages must tile [0, num_layers) in order with nodes and addresses; ";
  else if (!tiles(s.carry_from)) problems += "carry_from must tile [0, num_layers) in order with nodes and addresses; ";
  if (!s.carry_from.empty() && (s.carry_from_epoch == 0 || s.carry_from_epoch == s.epoch))
    problems += "carry_from needs carry_from_epoch, another epoch; ";
  if (!problems.empty()) return InvalidArgument("LoadSegment: " + problems.substr(0, problems.size() - 2));
  return Status::Ok();
}

std::string LoadSpec::NodeAt(int index) const {
  if (index < 0 || index >= static_cast<int>(stage_nodes.size())) return "";
  return stage_nodes[static_cast<size_t>(index)];
}

std::string LoadSpec::CarrySourceOf(int layer) const {
  for (const auto& r : carry_from)
    if (layer >= r.first_layer && layer < r.end_layer) return r.node;
  return "";
}

void SegmentSlot::RecordRun(std::vector<double> layer_ms) {
  recent_layer_ms.push_back(std::move(layer_ms));
  if (recent_layer_ms.size() > kLayerWindow) recent_layer_ms.pop_front();
  std::deque<double> totals;
  for (const auto& run : recent_layer_ms) totals.push_back(std::accumulate(run.begin(), run.end(), 0.0));
  if (LevelShifted(totals, kShiftRuns, kShiftFactor))
    recent_layer_ms.erase(recent_layer_ms.begin(), recent_layer_ms.end() - static_cast<long>(kShiftRuns));
}

std::vector<double> SegmentSlot::MedianLayerMs() const {
  const size_t n = static_cast<size_t>(spec.end_layer - spec.first_layer);
  std::vector<double> out(n, 0.0);
  if (recent_layer_ms.empty()) return out;
  for (size_t l = 0; l < n; ++l) {
    std::vector<double> v;
    for (const auto& run : recent_layer_ms)
      if (l < run.size()) v.push_back(run[l]);
    if (v.empty()) continue;
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    out[l] = v[v.size() / 2];
  }
  return out;
}

Status SegmentTable::BeginLoad(const LoadSpec& spec) {
  ES_RETURN_IF_ERROR(ValidateLoadSpec(spec));
  SegmentKey key{spec.deployment, spec.epoch};
  auto it = slots_.find(key);
  if (it != slots_.end()) {
    if (it->second.state != SegmentState::kFailed && it->second.state != SegmentState::kUnloaded)
      return AlreadyExists("segment " + KeyName(key) + " is already " + SegmentStateName(it->second.state));
    slots_.erase(it);
  }
  SegmentSlot slot;
  slot.spec = spec;
  slots_.emplace(key, std::move(slot));
  return Status::Ok();
}

Status SegmentTable::FinishLoad(const SegmentKey& key, Result<std::shared_ptr<SegmentExecutor>> loaded) {
  SegmentSlot* s = Find(key);
  if (!s) return NotFound("segment " + KeyName(key) + " was unloaded while loading");
  if (!loaded.ok()) {
    s->error = loaded.status().ToString();
    ES_RETURN_IF_ERROR(Transition(&s->state, SegmentState::kFailed));
    return loaded.status();
  }
  const auto& exec = *loaded;
  if (exec->first_layer() != s->spec.first_layer || exec->end_layer() != s->spec.end_layer) {
    s->error = "loaded layer range differs from the request";
    ES_RETURN_IF_ERROR(Transition(&s->state, SegmentState::kFailed));
    return Internal(s->error);
  }
  s->exec = exec;
  return Transition(&s->state, SegmentState::kReady);
}

Status SegmentTable::Activate(const SegmentKey& key) {
  SegmentSlot* s = Find(key);
  if (!s) return NotFound("segment " + KeyName(key) + " is not loaded");
  if (s->state == SegmentState::kDraining) ES_RETURN_IF_ERROR(Transition(&s->state, SegmentState::kReady));
  if (s->state != SegmentState::kReady)
    return FailedPrecondition("segment " + KeyName(key) + " is " + SegmentStateName(s->state) + ", not ready");
  if (s->spec.is_entry) {
    auto prev = active_.find(key.deployment);
    if (prev != active_.end()) {
      if (SegmentSlot* old = Find({key.deployment, prev->second})) old->active = false;
    }
    active_[key.deployment] = key.epoch;
  }
  s->active = true;
  return Status::Ok();
}

Status SegmentTable::Drain(const SegmentKey& key) {
  SegmentSlot* s = Find(key);
  if (!s) return NotFound("segment " + KeyName(key) + " is not loaded");
  if (s->state == SegmentState::kDraining) return Status::Ok();
  ES_RETURN_IF_ERROR(Transition(&s->state, SegmentState::kDraining));
  s->active = false;
  auto a = active_.find(key.deployment);
  if (a != active_.end() && a->second == key.epoch) active_.erase(a);
  return Status::Ok();
}

Status SegmentTable::Unload(const SegmentKey& key) {
  auto it = slots_.find(key);
  if (it == slots_.end()) return NotFound("segment " + KeyName(key) + " is not loaded");
  ES_RETURN_IF_ERROR(Transition(&it->second.state, SegmentState::kUnloaded));
  auto a = active_.find(key.deployment);
  if (a != active_.end() && a->second == key.epoch) active_.erase(a);
  slots_.erase(it);
  return Status::Ok();
}

SegmentSlot* SegmentTable::Find(const SegmentKey& key) {
  auto it = slots_.find(key);
  return it == slots_.end() ? nullptr : &it->second;
}

std::optional<uint64_t> SegmentTable::ActiveEpoch(const std::string& deployment) const {
  auto it = active_.find(deployment);
  if (it == active_.end()) return std::nullopt;
  return it->second;
}

Result<SegmentSlot*> SegmentTable::RouteRequest(const std::string& deployment, uint64_t epoch,
                                                std::optional<RejectReason>* reason) {
  if (epoch == 0) {
    auto a = ActiveEpoch(deployment);
    if (!a) return NotFound("deployment '" + deployment + "' has no active epoch on this entry");
    epoch = *a;
  }
  SegmentSlot* s = Find({deployment, epoch});
  if (!s || !s->spec.is_entry || s->spec.first_layer != 0) {
    *reason = RejectReason::kUnknownEpoch;
    return NotFound("deployment '" + deployment + "' epoch " + std::to_string(epoch) + " has no entry here");
  }
  if (s->state != SegmentState::kReady)
    return Unavailable("deployment '" + deployment + "' epoch " + std::to_string(epoch) + " is " +
                       SegmentStateName(s->state));
  return s;
}

Result<SegmentSlot*> SegmentTable::RouteActivation(const std::string& deployment, uint64_t epoch, int layer,
                                                   std::optional<RejectReason>* reason) {
  SegmentSlot* s = Find({deployment, epoch});
  if (!s || s->spec.first_layer != layer || !AcceptsActivations(s->state)) {
    *reason = RejectReason::kUnknownEpoch;
    return NotFound("no segment of '" + deployment + "' epoch " + std::to_string(epoch) + " starting at layer " +
                    std::to_string(layer) + " is serving here");
  }
  return s;
}

Status SegmentTable::CheckInput(const SegmentSlot& slot, DType dtype, const std::vector<int64_t>& shape) {
  const TensorSpec& want = slot.exec->input_spec();
  const int64_t longest = want.seq_dim >= 0 ? std::max(slot.exec->max_seq(), want.shape[want.seq_dim]) : 0;
  if (!want.Accepts(dtype, shape, longest))
    return InvalidArgument("tensor " + std::string(DTypeName(dtype)) + ShapeToString(shape) + " does not match " +
                           DTypeName(want.dtype) + ShapeToString(want.shape) + " expected by layer " +
                           std::to_string(slot.spec.first_layer));
  return Status::Ok();
}

size_t SegmentTable::ready_count() const {
  size_t n = 0;
  for (const auto& [k, s] : slots_)
    if (s.state == SegmentState::kReady || s.state == SegmentState::kDraining) ++n;
  return n;
}

}  // namespace edgesplit::agent
