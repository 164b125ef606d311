// Synthesises a GPT-style decoder package from C++ (no Python): layer 0 is token + position
// embedding, then N pre-norm blocks (causal self-attention + GELU MLP), then final LayerNorm +
// LM head. Weights are seeded; the same options give a byte-identical package.
// Every layer also has `step(x, cache, pos)` (incremental decoding with a preallocated KV cache,
// docs/model-package.md), so the package can generate.
#pragma once

#include <cstdint>
#include <string>

#include "common/base/status.h"
#include "common/base/tensor.h"

namespace edgesplit {

struct GptSynthOptions {
  std::string name = "gpt-synth";
  int layers = 4;      // transformer blocks (the package has layers + 2 layer files)
  int d_model = 128;
  int heads = 4;
  int vocab = 1000;
  int seq = 32;            // nominal (profiling) sequence length
  int max_context = 1024;  // longest generation (prompt + new tokens); position table size
  int batch = 1;
  uint64_t seed = 1;
  // Weights, hidden states between layers and KV caches (float32 or bfloat16; float16 is
  // refused: libtorch 1.13 has no float16 layer_norm/GEMM on the CPU). Logits stay float32.
  DType dtype = DType::kFloat32;
  Status Validate() const;
};

Status SynthesizeGpt(const GptSynthOptions& options, const std::string& out_dir);

}  // namespace edgesplit
