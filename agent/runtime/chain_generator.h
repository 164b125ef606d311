// Generation through a chain of segments in one process (`edgesplitctl model generate`, the
// benchmarks' whole-model baseline and the reference in tests). Torch-free header.
// Not thread-safe: one Generate() at a time per ChainGenerator.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/runtime/segment.h"
#include "common/model/generation_request.h"
#include "common/model/manifest.h"

namespace edgesplit {

struct GenerationResult {
  std::vector<int64_t> tokens;        // generated ids (a stop token is not included)
  FinishReason finish = FinishReason::kLength;
  double ttft_ms = 0;                 // prefill + first sample
  std::vector<double> token_ms;       // interval before each later token
  double MsPerTokenP50() const;       // median of token_ms (0 with one token)
};

class ChainGenerator {
 public:
  // Loads the segments cut at `cuts` (as RunChain). Errors: as Segment::Load, and
  // failed_precondition when the package has no generation section.
  static Result<std::unique_ptr<ChainGenerator>> Load(const std::string& dir, const Manifest& manifest,
                                                      const std::vector<int>& cuts);
  // Runs one session. use_cache = false recomputes the whole sequence with `forward` at every
  // step (the reference path). `on_token(index, token)` runs as each token is produced.
  Result<GenerationResult> Generate(const GenerationRequest& request, bool use_cache,
                                    const std::function<void(int64_t, int64_t)>& on_token = {});

  const Manifest& manifest() const { return manifest_; }

 private:
  ChainGenerator(Manifest m, std::vector<std::unique_ptr<Segment>> segs) : manifest_(std::move(m)), segments_(std::move(segs)) {}
  Manifest manifest_;
  std::vector<std::unique_ptr<Segment>> segments_;
};

// Index of the last position's logits in a [batch, T, vocab] tensor (batch row 0).
const float* LastPositionLogits(const HostTensor& logits);

}  // namespace edgesplit
