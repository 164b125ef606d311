// The entry's view of one generation session: the request, the token history (prompt plus
// every token generated so far), which token index is due next and when the stream ends.
// Pure: time is passed in. Owned by the entry's io thread. The history is what a later
// reconfiguration rebuilds lost KV state from; every emitted token carries its index.
#pragma once

#include <cstdint>
#include <vector>

#include "common/base/clock.h"
#include "common/model/generation_request.h"

namespace edgesplit::agent {

class GenStream {
 public:
  GenStream(GenerationRequest request, TimePoint started);

  // The tokens of the next step and their first position: the whole prompt at position 0
  // (prefill), then the last generated token at position prompt + generated - 1. After
  // Rebuild(): the whole history at position 0, which writes the KV of every position on the
  // new stages and samples the same index an incremental step would have.
  std::vector<int64_t> NextStepTokens() const;
  int64_t NextStepPosition() const;
  int64_t next_index() const { return generated_; }

  // The session moved to a plan whose stages hold no state for it: the next step is a prefill
  // of the history. The token it yields measures the stall (OnToken).
  void Rebuild();
  bool rebuilding() const { return rebuild_; }
  // The session moved with its KV copied to the new stages: the next step continues where it
  // would have; its token measures the stall like a rebuild's.
  void Copied();
  // A move whose first token has not come yet.
  bool move_pending() const { return moved_index_ == generated_; }
  int moves() const { return moves_; }
  // The extra delay of the first token after each move over the median inter-token interval
  // before it (ms, >= 0); the largest so far, and the one of the latest move (-1 until known).
  double stall_ms_max() const { return stall_max_ms_; }
  double last_stall_ms() const { return last_stall_ms_; }

  enum class Outcome {
    kEmitContinue,  // emit the token; run the next step
    kEmitFinish,    // emit the token; the stream is complete (max_new_tokens)
    kStop,          // a stop token: emit nothing; the stream is complete
    kIgnore,        // not the index that is due (a duplicate or stray answer)
  };
  Outcome OnToken(int64_t index, int64_t token, TimePoint now);

  bool finished() const { return finished_; }
  FinishReason finish_reason() const { return reason_; }
  const GenerationRequest& request() const { return request_; }
  const std::vector<int64_t>& history() const { return history_; }
  int64_t generated() const { return generated_; }
  double ttft_ms() const;            // 0 until the first token
  double ms_per_token_p50() const;   // median interval between later tokens (0 with < 2)
  const std::vector<double>& intervals_ms() const { return intervals_ms_; }

 private:
  GenerationRequest request_;
  std::vector<int64_t> history_;
  int64_t generated_ = 0;
  bool finished_ = false;
  FinishReason reason_ = FinishReason::kLength;
  TimePoint started_, last_;
  double ttft_ms_ = 0;
  std::vector<double> intervals_ms_;
  bool rebuild_ = false;
  int moves_ = 0;
  int64_t moved_index_ = -1;  // the index whose token closes the latest move's stall
  double stall_max_ms_ = 0, last_stall_ms_ = -1;
};

}  // namespace edgesplit::agent
