#include "agent/runtime/segment.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/jit/serialization/import.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/runtime/tensor_convert.h"
#include "common/base/sha256.h"

namespace edgesplit {

struct Segment::Impl {
  std::vector<torch::jit::Module> layers;
  std::vector<std::optional<StateSpec>> state;  // per layer of the range
};

namespace {
// KV caches of one session on one segment: a preallocated tensor per stateful layer
// (an undefined tensor for stateless ones, which their step methods ignore).
class TorchSessionState final : public SessionState {
 public:
  TorchSessionState(std::vector<at::Tensor> caches, int64_t capacity, uint64_t bytes)
      : caches_(std::move(caches)), capacity_(capacity), bytes_(bytes) {}
  int64_t capacity() const override { return capacity_; }
  uint64_t bytes() const override { return bytes_; }
  std::vector<at::Tensor>& caches() { return caches_; }

 private:
  std::vector<at::Tensor> caches_;
  int64_t capacity_;
  uint64_t bytes_;
};
}  // namespace

Segment::Segment(std::unique_ptr<Impl> impl, int first, int end, TensorSpec in, TensorSpec out, uint64_t params)
    : impl_(std::move(impl)), first_(first), end_(end), input_spec_(std::move(in)), output_spec_(std::move(out)),
      param_bytes_(params) {}

Segment::~Segment() = default;

Status CheckTensorMatches(const HostTensor& t, const TensorSpec& spec, const std::string& what, int64_t max_seq) {
  if (t.dtype != spec.dtype)
    return InvalidArgument(what + ": dtype " + DTypeName(t.dtype) + " does not match expected " + DTypeName(spec.dtype));
  const int64_t longest = spec.seq_dim >= 0 ? std::max(max_seq, spec.shape[spec.seq_dim]) : 0;
  if (!spec.Accepts(t.dtype, t.shape, longest))
    return InvalidArgument(what + ": shape " + ShapeToString(t.shape) + " does not match expected " +
                           ShapeToString(spec.shape) +
                           (spec.seq_dim >= 0 ? " (dimension " + std::to_string(spec.seq_dim) + " may be 1.." +
                                                    std::to_string(longest) + ")"
                                              : std::string()));
  if (t.nbytes != t.numel() * DTypeSize(t.dtype)) return InvalidArgument(what + ": byte count does not match shape");
  return Status::Ok();
}

Result<std::unique_ptr<Segment>> Segment::Load(const std::string& dir, const Manifest& m, int first, int end,
                                               const SegmentOptions& options) {
  if (first < 0 || end > m.num_layers() || first >= end)
    return InvalidArgument("layer range [" + std::to_string(first) + ", " + std::to_string(end) +
                           ") is outside model '" + m.name + "' with " + std::to_string(m.num_layers()) + " layers");
  auto impl = std::make_unique<Impl>();
  uint64_t params = 0;
  for (int i = first; i < end; ++i) {
    const auto& l = m.layers[i];
    const std::string path = dir + "/" + l.file;
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound("layer " + std::to_string(i) + " (" + l.name + "): cannot open " + path);
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string bytes = buf.str();
    if (options.verify_sha256) {
      const std::string h = Sha256Hex(bytes.data(), bytes.size());
      if (h != l.sha256)
        return DataLoss("layer " + std::to_string(i) + " (" + l.name + "): sha256 mismatch for " + path +
                        " (file is corrupt or does not belong to this manifest)");
    }
    try {
      std::istringstream is(bytes);
      torch::jit::Module mod = torch::jit::load(is, at::kCPU);
      mod.eval();
      if (m.generation && !mod.find_method(m.generation->step_method))
        return DataLoss("layer " + std::to_string(i) + " (" + l.name + "): has no method '" +
                        m.generation->step_method + "' required by the generation section");
      impl->layers.push_back(std::move(mod));
      impl->state.push_back(l.state);
    } catch (const std::exception& e) {
      return DataLoss("layer " + std::to_string(i) + " (" + l.name +
                      "): not a loadable TorchScript file: " + TorchErrorMessage(e));
    }
    params += l.param_bytes;
  }
  std::unique_ptr<Segment> seg(new Segment(std::move(impl), first, end, m.InputOf(first), m.layers[end - 1].output, params));
  seg->max_seq_ = m.MaxSeq();
  seg->generation_ = m.generation;
  seg->holds_last_layer_ = end == m.num_layers();
  seg->state_bytes_per_token_ = m.StateBytesPerToken(first, end);
  for (int l = 0; l < m.num_layers(); ++l)
    if (m.layers[static_cast<size_t>(l)].state) seg->model_state_layers_.push_back(l);
  return seg;
}

Result<HostTensor> Segment::Run(const HostTensor& input, std::vector<double>* layer_ms) {
  ES_RETURN_IF_ERROR(CheckTensorMatches(input, input_spec_, "input to layer " + std::to_string(first_), max_seq_));
  if (layer_ms) layer_ms->assign(impl_->layers.size(), 0.0);
  try {
    c10::InferenceMode guard;
    at::Tensor x = AsTorch(input);
    for (size_t i = 0; i < impl_->layers.size(); ++i) {
      auto t0 = std::chrono::steady_clock::now();
      x = impl_->layers[i].forward({x}).toTensor();
      if (layer_ms)
        (*layer_ms)[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    ES_ASSIGN_OR_RETURN(HostTensor out, FromTorch(x));
    ES_RETURN_IF_ERROR(CheckTensorMatches(out, output_spec_, "output of layer " + std::to_string(end_ - 1), max_seq_));
    return out;
  } catch (const std::exception& e) {
    return Internal("segment [" + std::to_string(first_) + "," + std::to_string(end_) +
                    ") failed: " + TorchErrorMessage(e));
  }
}

Result<std::unique_ptr<SessionState>> Segment::NewSession(int64_t capacity) {
  if (!generation_) return FailedPrecondition("this model package cannot generate");
  if (capacity < 1 || capacity > generation_->max_context)
    return InvalidArgument("session capacity " + std::to_string(capacity) + " is outside [1, " +
                           std::to_string(generation_->max_context) + "]");
  std::vector<at::Tensor> caches;
  uint64_t bytes = 0;
  try {
    c10::InferenceMode guard;
    for (const auto& st : impl_->state) {
      if (!st) {
        caches.emplace_back();
        continue;
      }
      std::vector<int64_t> shape = st->spec.shape;
      shape[st->spec.seq_dim] = capacity;
      ES_ASSIGN_OR_RETURN(auto dt, ToTorchDType(st->spec.dtype));
      // Uninitialised: a step writes positions before any step reads them.
      caches.push_back(at::empty(shape, at::TensorOptions().dtype(dt)));
      bytes += st->bytes_per_token * static_cast<uint64_t>(capacity);
    }
  } catch (const std::exception& e) {
    return ResourceExhausted("cannot allocate the session's KV cache: " + TorchErrorMessage(e));
  }
  return std::unique_ptr<SessionState>(new TorchSessionState(std::move(caches), capacity, bytes));
}

Result<HostTensor> Segment::Step(const HostTensor& input, SessionState* state, int64_t pos, std::vector<double>* layer_ms) {
  if (!generation_) return FailedPrecondition("this model package cannot generate");
  auto* s = dynamic_cast<TorchSessionState*>(state);
  if (!s) return InvalidArgument("step without a session state of this segment");
  ES_RETURN_IF_ERROR(CheckTensorMatches(input, input_spec_, "step input to layer " + std::to_string(first_), max_seq_));
  const int64_t T = input.shape[input_spec_.seq_dim];
  if (pos < 0 || pos + T > s->capacity())
    return InvalidArgument("positions [" + std::to_string(pos) + ", " + std::to_string(pos + T) +
                           ") exceed the session's capacity of " + std::to_string(s->capacity()) + " tokens");
  if (layer_ms) layer_ms->assign(impl_->layers.size(), 0.0);
  try {
    c10::InferenceMode guard;
    at::Tensor x = AsTorch(input);
    const at::Tensor none = at::empty({0});  // the cache argument of stateless layers
    for (size_t i = 0; i < impl_->layers.size(); ++i) {
      auto t0 = std::chrono::steady_clock::now();
      // Only the last position's logits are sampled: the head (per-position ops) runs on it alone.
      if (holds_last_layer_ && i + 1 == impl_->layers.size() && x.dim() >= 2 && x.size(1) > 1)
        x = x.narrow(1, x.size(1) - 1, 1);
      const at::Tensor& cache = s->caches()[i].defined() ? s->caches()[i] : none;
      x = impl_->layers[i].get_method(generation_->step_method)({x, cache, pos}).toTensor();
      if (layer_ms)
        (*layer_ms)[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    return FromTorch(x);
  } catch (const std::exception& e) {
    return Internal("segment [" + std::to_string(first_) + "," + std::to_string(end_) +
                    ") step failed: " + TorchErrorMessage(e));
  }
}

Result<std::vector<HostTensor>> Segment::StepBatch(const std::vector<HostTensor>& xs,
                                                   const std::vector<SessionState*>& states,
                                                   const std::vector<int64_t>& positions) {
  if (!can_batch_steps()) return FailedPrecondition("this model package has no batched step");
  if (xs.empty() || xs.size() != states.size() || xs.size() != positions.size())
    return InvalidArgument("batched step: one input, state and position per session");
  std::vector<TorchSessionState*> st;
  for (size_t b = 0; b < xs.size(); ++b) {
    auto* s = dynamic_cast<TorchSessionState*>(states[b]);
    if (!s) return InvalidArgument("batched step without a session state of this segment");
    ES_RETURN_IF_ERROR(CheckTensorMatches(xs[b], input_spec_, "batched step input", max_seq_));
    if (xs[b].shape[input_spec_.seq_dim] != 1 || xs[b].shape[0] != 1)
      return InvalidArgument("batched step: every input must be one position of batch 1");
    if (positions[b] < 0 || positions[b] + 1 > s->capacity())
      return InvalidArgument("batched step: position beyond the session's capacity");
    st.push_back(s);
  }
  try {
    c10::InferenceMode guard;
    std::vector<at::Tensor> parts;
    for (const auto& x : xs) parts.push_back(AsTorch(x));
    at::Tensor x = at::cat(parts, 0);
    c10::List<int64_t> pos(positions);
    const at::Tensor none = at::empty({0});
    for (size_t i = 0; i < impl_->layers.size(); ++i) {
      c10::List<at::Tensor> caches;
      for (auto* s : st) caches.push_back(s->caches()[i].defined() ? s->caches()[i] : none);
      x = impl_->layers[i].get_method(generation_->batch_step_method)({x, caches, pos}).toTensor();
    }
    std::vector<HostTensor> out;
    for (int64_t b = 0; b < x.size(0); ++b) {
      ES_ASSIGN_OR_RETURN(auto h, FromTorch(x.narrow(0, b, 1)));
      out.push_back(std::move(h));
    }
    return out;
  } catch (const std::exception& e) {
    return Internal("segment [" + std::to_string(first_) + "," + std::to_string(end_) +
                    ") batched step failed: " + TorchErrorMessage(e));
  }
}

Result<std::vector<int>> CutBounds(const Manifest& m, const std::vector<int>& cuts) {
  std::vector<int> bounds = {0};
  for (int c : cuts) {
    if (c <= bounds.back() || c >= m.num_layers())
      return InvalidArgument("cuts must be strictly increasing layer indices inside (0, " +
                             std::to_string(m.num_layers()) + "), got " + std::to_string(c));
    bounds.push_back(c);
  }
  bounds.push_back(m.num_layers());
  return bounds;
}

Result<HostTensor> RunChain(const std::string& dir, const Manifest& m, const std::vector<int>& cuts,
                            const HostTensor& input) {
  ES_ASSIGN_OR_RETURN(const std::vector<int> bounds, CutBounds(m, cuts));
  HostTensor x = input;
  for (size_t s = 0; s + 1 < bounds.size(); ++s) {
    ES_ASSIGN_OR_RETURN(auto seg, Segment::Load(dir, m, bounds[s], bounds[s + 1]));
    ES_ASSIGN_OR_RETURN(x, seg->Run(x, nullptr));
  }
  return x;
}

}  // namespace edgesplit

namespace edgesplit {

std::optional<StateSpec> Segment::layer_state(int layer) const {
  if (layer < first_ || layer >= end_) return std::nullopt;
  return impl_->state[static_cast<size_t>(layer - first_)];
}

namespace {
// The cache of `layer` in `state` and its spec, or why there is none.
Result<std::pair<at::Tensor*, StateSpec>> LayerCache(SessionState* state, const std::vector<std::optional<StateSpec>>& specs,
                                                     int first, int layer) {
  auto* s = dynamic_cast<TorchSessionState*>(state);
  if (!s) return InvalidArgument("no session state of this segment");
  const int i = layer - first;
  if (i < 0 || i >= static_cast<int>(specs.size())) return InvalidArgument("layer " + std::to_string(layer) + " is not in this segment");
  if (!specs[static_cast<size_t>(i)]) return InvalidArgument("layer " + std::to_string(layer) + " keeps no state");
  return std::make_pair(&s->caches()[static_cast<size_t>(i)], *specs[static_cast<size_t>(i)]);
}
}  // namespace

Result<HostTensor> Segment::ExportState(SessionState* state, int layer, int64_t from, int64_t end) {
  ES_ASSIGN_OR_RETURN(auto c, LayerCache(state, impl_->state, first_, layer));
  if (from < 0 || end <= from || end > state->capacity())
    return InvalidArgument("positions [" + std::to_string(from) + ", " + std::to_string(end) + ") are outside the session's " +
                           std::to_string(state->capacity()) + " tokens");
  try {
    c10::InferenceMode guard;
    return FromTorch(c.first->narrow(c.second.spec.seq_dim, from, end - from).contiguous());
  } catch (const std::exception& e) {
    return Internal("exporting layer " + std::to_string(layer) + "'s state failed: " + TorchErrorMessage(e));
  }
}

Status Segment::ImportState(SessionState* state, int layer, int64_t from, const HostTensor& t) {
  ES_ASSIGN_OR_RETURN(auto c, LayerCache(state, impl_->state, first_, layer));
  const TensorSpec& spec = c.second.spec;
  if (t.dtype != spec.dtype || t.shape.size() != spec.shape.size())
    return InvalidArgument("state of layer " + std::to_string(layer) + ": " + DTypeName(t.dtype) + " " + ShapeToString(t.shape) +
                           " does not match " + DTypeName(spec.dtype) + " " + ShapeToString(spec.shape));
  for (size_t d = 0; d < t.shape.size(); ++d)
    if (static_cast<int>(d) != spec.seq_dim && t.shape[d] != spec.shape[d])
      return InvalidArgument("state of layer " + std::to_string(layer) + ": shape " + ShapeToString(t.shape) +
                             " does not match " + ShapeToString(spec.shape));
  const int64_t T = t.shape[static_cast<size_t>(spec.seq_dim)];
  if (from < 0 || T < 1 || from + T > state->capacity())
    return InvalidArgument("positions [" + std::to_string(from) + ", " + std::to_string(from + T) + ") are outside the session's " +
                           std::to_string(state->capacity()) + " tokens");
  if (t.nbytes != t.numel() * DTypeSize(t.dtype)) return InvalidArgument("state tensor: byte count does not match shape");
  try {
    c10::InferenceMode guard;
    c.first->narrow(spec.seq_dim, from, T).copy_(AsTorch(t));
    return Status::Ok();
  } catch (const std::exception& e) {
    return Internal("importing layer " + std::to_string(layer) + "'s state failed: " + TorchErrorMessage(e));
  }
}

Status Segment::WarmUp() {
  HostTensor x = HostTensor::Allocate(input_spec_.dtype, input_spec_.shape);
  std::memset(x.data, 0, x.nbytes);  // token id 0 or a zero hidden state: valid inputs
  for (int i = 0; i < 2; ++i) ES_RETURN_IF_ERROR(Run(x, nullptr).status());
  if (!generation_ || input_spec_.seq_dim < 0) return Status::Ok();
  ES_ASSIGN_OR_RETURN(auto st, NewSession(4));
  int64_t pos = 0;
  for (int64_t t : {2, 1, 1}) {
    std::vector<int64_t> shape = input_spec_.shape;
    shape[static_cast<size_t>(input_spec_.seq_dim)] = t;
    HostTensor s = HostTensor::Allocate(input_spec_.dtype, shape);
    std::memset(s.data, 0, s.nbytes);
    ES_RETURN_IF_ERROR(Step(s, st.get(), pos, nullptr).status());
    pos += t;
  }
  return Status::Ok();
}

}  // namespace edgesplit
