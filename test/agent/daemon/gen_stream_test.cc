#include "agent/daemon/gen_stream.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::agent;
using namespace std::chrono_literals;

namespace {
GenerationRequest Req(int64_t n, std::vector<int64_t> stops = {}) {
  GenerationRequest r;
  r.prompt = {4, 5, 6};
  r.max_new_tokens = n;
  r.stop_tokens = std::move(stops);
  return r;
}
const TimePoint t0{};
}  // namespace

TEST_CASE("a stream prefills the prompt, then steps one token at the next position, in index order") {
  GenStream g(Req(3), t0);
  CHECK(g.NextStepTokens() == std::vector<int64_t>{4, 5, 6});
  CHECK(g.NextStepPosition() == 0);
  CHECK(g.OnToken(1, 9, t0 + 1ms) == GenStream::Outcome::kIgnore);  // not due yet
  CHECK(g.OnToken(0, 9, t0 + 10ms) == GenStream::Outcome::kEmitContinue);
  CHECK(g.OnToken(0, 9, t0 + 11ms) == GenStream::Outcome::kIgnore);  // a duplicate
  CHECK(g.NextStepTokens() == std::vector<int64_t>{9});
  CHECK(g.NextStepPosition() == 3);
  CHECK(g.OnToken(1, 8, t0 + 14ms) == GenStream::Outcome::kEmitContinue);
  CHECK(g.NextStepPosition() == 4);
  CHECK(g.OnToken(2, 7, t0 + 20ms) == GenStream::Outcome::kEmitFinish);
  CHECK(g.finished());
  CHECK(g.finish_reason() == FinishReason::kLength);
  CHECK(g.history() == std::vector<int64_t>{4, 5, 6, 9, 8, 7});
  CHECK(g.ttft_ms() == 10);
  CHECK(g.intervals_ms() == std::vector<double>{4, 6});
  CHECK(g.ms_per_token_p50() == 6);
  CHECK(g.OnToken(3, 1, t0 + 30ms) == GenStream::Outcome::kIgnore);
}

TEST_CASE("a stop token ends the stream and is not part of the history") {
  GenStream g(Req(10, {2}), t0);
  CHECK(g.OnToken(0, 5, t0) == GenStream::Outcome::kEmitContinue);
  CHECK(g.OnToken(1, 2, t0) == GenStream::Outcome::kStop);
  CHECK(g.finish_reason() == FinishReason::kStop);
  CHECK(g.generated() == 1);
  CHECK(g.history() == std::vector<int64_t>{4, 5, 6, 5});
}

TEST_CASE("after a move the next step is a prefill of the whole history; the stall is its token's extra wait") {
  GenStream g(Req(10), t0);
  CHECK(g.OnToken(0, 9, t0 + 10ms) == GenStream::Outcome::kEmitContinue);
  CHECK(g.OnToken(1, 8, t0 + 14ms) == GenStream::Outcome::kEmitContinue);
  CHECK(g.OnToken(2, 7, t0 + 18ms) == GenStream::Outcome::kEmitContinue);
  CHECK(g.moves() == 0);
  CHECK(g.last_stall_ms() == -1);
  g.Rebuild();
  CHECK(g.rebuilding());
  CHECK(g.moves() == 1);
  // Prompt plus every token so far, from position 0: the new stages hold nothing yet.
  CHECK(g.NextStepTokens() == std::vector<int64_t>{4, 5, 6, 9, 8, 7});
  CHECK(g.NextStepPosition() == 0);
  CHECK(g.next_index() == 3);
  CHECK(g.OnToken(2, 7, t0 + 19ms) == GenStream::Outcome::kIgnore);  // an old epoch's late answer
  CHECK(g.rebuilding());
  CHECK(g.OnToken(3, 6, t0 + 30ms) == GenStream::Outcome::kEmitContinue);  // 12 ms where 4 are usual
  CHECK_FALSE(g.rebuilding());
  CHECK(g.last_stall_ms() == 8);
  CHECK(g.stall_ms_max() == 8);
  // Back to incremental steps at the next position.
  CHECK(g.NextStepTokens() == std::vector<int64_t>{6});
  CHECK(g.NextStepPosition() == 6);
  g.Rebuild();
  CHECK(g.OnToken(4, 5, t0 + 33ms) == GenStream::Outcome::kEmitContinue);  // faster than usual: no stall
  CHECK(g.last_stall_ms() == 0);
  CHECK(g.stall_ms_max() == 8);
  CHECK(g.moves() == 2);
  CHECK(g.history() == std::vector<int64_t>{4, 5, 6, 9, 8, 7, 6, 5});
}

TEST_CASE("a move before the first token keeps the prompt prefill") {
  GenStream g(Req(2), t0);
  g.Rebuild();
  CHECK(g.NextStepTokens() == std::vector<int64_t>{4, 5, 6});
  CHECK(g.NextStepPosition() == 0);
  CHECK(g.OnToken(0, 9, t0 + 25ms) == GenStream::Outcome::kEmitContinue);
  CHECK(g.last_stall_ms() == 25);  // no usual interval yet: the whole wait
  CHECK(g.NextStepPosition() == 3);
}
