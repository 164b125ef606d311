// A loaded, contiguous layer range [first, end) of a model package, ready to run.
// Torch-free header (pimpl) so the agent's transport and daemon code never compile torch.
// Thread-safety: Run() may be called concurrently from several compute threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/base/tensor.h"
#include "common/model/manifest.h"

namespace edgesplit {

// The per-session state of one segment: the KV caches of its stateful layers, preallocated for
// capacity() tokens when the session starts (no growth per token). Used by one step at a time.
class SessionState {
 public:
  virtual ~SessionState() = default;
  virtual int64_t capacity() const = 0;  // tokens
  virtual uint64_t bytes() const = 0;    // memory reserved
};

// What the agent's data plane needs from a segment; fakes implement it in unit tests.
class SegmentExecutor {
 public:
  virtual ~SegmentExecutor() = default;
  virtual int first_layer() const = 0;
  virtual int end_layer() const = 0;
  virtual const TensorSpec& input_spec() const = 0;
  virtual const TensorSpec& output_spec() const = 0;
  // Runs the layers in order; fills `layer_ms` (one entry per layer) when given.
  virtual Result<HostTensor> Run(const HostTensor& input, std::vector<double>* layer_ms) = 0;

  // Longest sequence a variable (seq_dim) dimension may take; 0: nominal shapes only.
  virtual int64_t max_seq() const { return 0; }

  // Generation (packages with a generation section; the defaults say "not supported").
  virtual bool can_generate() const { return false; }
  virtual std::optional<GenerationSpec> generation() const { return std::nullopt; }
  virtual uint64_t state_bytes_per_token() const { return 0; }  // of this segment's layers
  // Preallocates the session state for positions [0, capacity_tokens).
  virtual Result<std::unique_ptr<SessionState>> NewSession(int64_t capacity_tokens) {
    return FailedPrecondition("this model package cannot generate");
  }
  // Runs positions [pos, pos + T) of a session through the layers' incremental method, reading
  // and extending `state`: `x` is [batch, T] token ids (layer 0) or the previous segment's
  // [batch, T, ...] hidden states. The segment holding the model's last layer returns the logits
  // of the final position only, [batch, 1, vocab].
  virtual Result<HostTensor> Step(const HostTensor& x, SessionState* state, int64_t pos,
                                  std::vector<double>* layer_ms) {
    return FailedPrecondition("this model package cannot generate");
  }
  // One decode position for each of several sessions in one pass (micro-batching): xs[i] is
  // [batch, 1, ...] of session states[i] at positions[i]. Returns one output per session, as
  // Step would. Not bitwise-equal to separate Steps (other matrix shapes), hence opt-in.
  // KV copy between agents (docs/agent.md, "KV copy"): the state of model layer `layer` (in
  // [first_layer, end_layer)); none for a stateless layer.
  virtual std::optional<StateSpec> layer_state(int layer) const { return std::nullopt; }
  // The model's layers (all of them, not only this segment's) that keep state.
  virtual std::vector<int> model_state_layers() const { return {}; }
  // Layer `layer`'s state of a session for positions [from, end): a tensor of the layer's state
  // spec whose sequence dimension is end - from. Positions below the last finished step are
  // never written again, so this may run while a later step of the session writes later ones.
  virtual Result<HostTensor> ExportState(SessionState* state, int layer, int64_t from, int64_t end) {
    return FailedPrecondition("this model package cannot generate");
  }
  // Writes an exported tensor into positions [from, from + T) of layer `layer`'s state.
  virtual Status ImportState(SessionState* state, int layer, int64_t from, const HostTensor& t) {
    return FailedPrecondition("this model package cannot generate");
  }
  virtual bool can_batch_steps() const { return false; }
  virtual Result<std::vector<HostTensor>> StepBatch(const std::vector<HostTensor>& xs,
                                                    const std::vector<SessionState*>& states,
                                                    const std::vector<int64_t>& positions) {
    return FailedPrecondition("this model package has no batched step");
  }
};

struct SegmentOptions {
  bool verify_sha256 = true;  // hash each layer file before loading it
};

class Segment final : public SegmentExecutor {
 public:
  // Loads layers [first, end) of the package in `dir`, reading only those layer files.
  // Errors: invalid_argument (range), not_found (missing file), data_loss (sha256 mismatch or
  // unreadable TorchScript).
  static Result<std::unique_ptr<Segment>> Load(const std::string& dir, const Manifest& manifest, int first, int end,
                                               const SegmentOptions& options = {});
  ~Segment() override;

  int first_layer() const override { return first_; }
  int end_layer() const override { return end_; }
  const TensorSpec& input_spec() const override { return input_spec_; }
  const TensorSpec& output_spec() const override { return output_spec_; }
  uint64_t param_bytes() const { return param_bytes_; }

  // Runs the segment a few times on zeros of its nominal input (and, for a generating package,
  // a short session: one two-position step, then two one-position steps) and discards the
  // results. TorchScript compiles and optimises a method on its first calls (measured: 240 ms,
  // then 18 ms, then 0.5 ms for one block's step): done at load, that cost is paid while the
  // epoch is prepared instead of by the first requests and tokens after the switch.
  Status WarmUp();

  // Rejects an input whose dtype or shape differs from the manifest (invalid_argument); a
  // sequence dimension may be any length up to the package's MaxSeq().
  Result<HostTensor> Run(const HostTensor& input, std::vector<double>* layer_ms) override;

  int64_t max_seq() const override { return max_seq_; }
  bool can_generate() const override { return generation_.has_value(); }
  std::optional<GenerationSpec> generation() const override { return generation_; }
  uint64_t state_bytes_per_token() const override { return state_bytes_per_token_; }
  // Errors: failed_precondition (cannot generate), invalid_argument (capacity outside
  // [1, max_context]), resource_exhausted (allocation failed).
  Result<std::unique_ptr<SessionState>> NewSession(int64_t capacity_tokens) override;
  // Errors: invalid_argument (shape, or pos + T beyond the session's capacity).
  Result<HostTensor> Step(const HostTensor& x, SessionState* state, int64_t pos, std::vector<double>* layer_ms) override;
  std::optional<StateSpec> layer_state(int layer) const override;
  std::vector<int> model_state_layers() const override { return model_state_layers_; }
  // Errors: invalid_argument (layer outside the segment or stateless, positions outside the
  // session's capacity, a tensor that does not match the state spec).
  Result<HostTensor> ExportState(SessionState* state, int layer, int64_t from, int64_t end) override;
  Status ImportState(SessionState* state, int layer, int64_t from, const HostTensor& t) override;
  bool can_batch_steps() const override { return generation_ && !generation_->batch_step_method.empty(); }
  Result<std::vector<HostTensor>> StepBatch(const std::vector<HostTensor>& xs, const std::vector<SessionState*>& states,
                                            const std::vector<int64_t>& positions) override;

 private:
  struct Impl;
  Segment(std::unique_ptr<Impl> impl, int first, int end, TensorSpec in, TensorSpec out, uint64_t params);
  std::unique_ptr<Impl> impl_;
  int first_, end_;
  TensorSpec input_spec_, output_spec_;
  uint64_t param_bytes_;
  int64_t max_seq_ = 0;
  std::optional<GenerationSpec> generation_;
  bool holds_last_layer_ = false;
  uint64_t state_bytes_per_token_ = 0;
  std::vector<int> model_state_layers_;
};

// Checks a tensor against a spec (a sequence dimension may be 1..max_seq long; max_seq <= 0:
// the nominal length only); the message names what differs.
Status CheckTensorMatches(const HostTensor& t, const TensorSpec& spec, const std::string& what, int64_t max_seq = 0);

// [0, cuts..., L] for cuts strictly increasing inside (0, L); invalid_argument otherwise.
Result<std::vector<int>> CutBounds(const Manifest& manifest, const std::vector<int>& cuts);

// Runs a chain of segments cut at `cuts` (strictly increasing, inside (0, L)) and returns the
// final output. With no cuts, runs the whole model as one segment.
Result<HostTensor> RunChain(const std::string& dir, const Manifest& manifest, const std::vector<int>& cuts,
                            const HostTensor& input);

}  // namespace edgesplit
