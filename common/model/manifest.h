// Model package manifest (model.yaml): the contract between exporters, agents and the planner.
// A package is a directory holding model.yaml plus one TorchScript file per layer.
// Format documented in docs/model-package.md. Pure data + YAML (de)serialisation; no torch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/base/tensor.h"
#include "common/model/chat_template.h"

namespace edgesplit {

// Version 2 adds variable sequence dimensions, per-layer state and the generation section;
// version 1 packages (fixed shapes, no generation) still load.
inline constexpr int kManifestFormatVersion = 2;
inline constexpr int kMinManifestFormatVersion = 1;
inline constexpr const char* kManifestFileName = "model.yaml";
inline constexpr const char* kTokenizerFileName = "tokenizer.model";  // what `model synth --tokenizer` writes

struct TensorSpec {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;  // nominal shape (the profiling length where seq_dim is set)
  int seq_dim = -1;            // >= 0: this dimension is the sequence length, any of [1, max]
  size_t Bytes() const;        // at the nominal shape
  bool operator==(const TensorSpec& o) const { return dtype == o.dtype && shape == o.shape && seq_dim == o.seq_dim; }
  // Does a tensor of `dtype`/`shape` fit this spec? The sequence dimension may be any length
  // in [1, max_seq]; every other dimension must equal the nominal one.
  bool Accepts(DType dtype, const std::vector<int64_t>& shape, int64_t max_seq) const;
};

// State a layer keeps per generation session (a KV cache): `spec` at the full context, with
// spec.seq_dim the token dimension. bytes_per_token = spec.Bytes() / context.
struct StateSpec {
  TensorSpec spec;
  uint64_t bytes_per_token = 0;
};

// Present in packages that can generate (decoders): the model input is int64 token ids
// [batch, T]; the last layer outputs logits [batch, T, vocab]; every layer has the incremental
// method `step_method` (docs/model-package.md).
struct GenerationSpec {
  int64_t max_context = 0;  // longest sequence (prompt + generated tokens)
  int64_t vocab = 0;
  std::string step_method = "step";
  // Optional: `step_batch(x, caches: List[Tensor], positions: List[int])` runs one decode
  // position of several sessions at once (x [B, 1, ...]); empty = not available.
  std::string batch_step_method;
};

// Optional: the package carries a SentencePiece model, so text goes in and out. bos_id/eos_id
// override the SentencePiece model's own ids (absent: the model's).
struct TokenizerSpec {
  std::string file;    // relative to the package directory
  std::string sha256;  // lowercase hex of the file bytes
  std::optional<int64_t> bos_id;
  std::optional<int64_t> eos_id;
};

struct LayerSpec {
  std::string name;
  std::string file;     // relative to the package directory
  std::string sha256;   // lowercase hex of the file bytes
  uint64_t param_bytes = 0;
  TensorSpec output;
  std::optional<double> flops;  // forward FLOPs for one input, where known
  std::optional<StateSpec> state;  // generation packages: per-session state of this layer
};

struct Manifest {
  std::string name;
  int format_version = kManifestFormatVersion;
  std::string family;  // free text, e.g. "gpt", "resnet18"
  // Top-level `dtype`: the weights' dtype (float32, bfloat16, float16); absent = float32. Hidden
  // states and KV caches of such packages are declared in that dtype per layer (output, state).
  std::optional<DType> dtype;
  TensorSpec input;
  std::vector<LayerSpec> layers;
  std::optional<GenerationSpec> generation;
  std::optional<TokenizerSpec> tokenizer;  // only in generation packages
  std::optional<ChatTemplateSpec> chat_template;  // only with a tokenizer (chat_template.h)

  int num_layers() const { return static_cast<int>(layers.size()); }
  // Spec of the tensor entering layer i (input for 0, else output of i-1).
  const TensorSpec& InputOf(int layer) const { return layer == 0 ? input : layers[layer - 1].output; }
  uint64_t TotalParamBytes() const;
  // Longest sequence a variable dimension may take (max_context, else the nominal length).
  int64_t MaxSeq() const;
  // Per-token state bytes of layers [first, end) (0 for stateless layers and old packages).
  uint64_t StateBytesPerToken(int first, int end) const;
};

// Parses and validates manifest text. Errors name the offending key.
Result<Manifest> ParseManifest(const std::string& yaml_text);
// Reads <dir>/model.yaml.
Result<Manifest> LoadManifest(const std::string& dir);
// Deterministic YAML (same manifest, same bytes).
std::string ManifestToYaml(const Manifest& m);
Status WriteManifest(const Manifest& m, const std::string& dir);

// Verifies every layer file's sha256 (and the tokenizer's); returns the first mismatch or missing file.
Status VerifyPackage(const Manifest& m, const std::string& dir);

}  // namespace edgesplit
