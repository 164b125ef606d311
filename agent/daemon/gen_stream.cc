#include "agent/daemon/gen_stream.h"

#include <algorithm>

namespace edgesplit::agent {

GenStream::GenStream(GenerationRequest request, TimePoint started)
    : request_(std::move(request)), history_(request_.prompt), started_(started), last_(started) {}

std::vector<int64_t> GenStream::NextStepTokens() const {
  if (generated_ == 0 || rebuild_) return history_;
  return {history_.back()};
}

int64_t GenStream::NextStepPosition() const {
  return generated_ == 0 || rebuild_ ? 0 : static_cast<int64_t>(history_.size()) - 1;
}

void GenStream::Rebuild() {
  rebuild_ = true;
  ++moves_;
  moved_index_ = generated_;
}

void GenStream::Copied() {
  ++moves_;
  moved_index_ = generated_;
}

namespace {
double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}
}  // namespace

GenStream::Outcome GenStream::OnToken(int64_t index, int64_t token, TimePoint now) {
  if (finished_ || index != generated_) return Outcome::kIgnore;
  const double ms = ToMillis(now - last_);
  if (index == moved_index_) {
    // The stall of a move: this token's interval beyond the usual one (a move before the
    // first token is measured against nothing: its whole wait counts).
    last_stall_ms_ = std::max(0.0, ms - Median(intervals_ms_));
    stall_max_ms_ = std::max(stall_max_ms_, last_stall_ms_);
    moved_index_ = -1;
  }
  rebuild_ = false;
  if (generated_ == 0) ttft_ms_ = ToMillis(now - started_);
  else intervals_ms_.push_back(ms);
  last_ = now;
  const auto& stops = request_.stop_tokens;
  if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
    finished_ = true;
    reason_ = FinishReason::kStop;
    return Outcome::kStop;
  }
  history_.push_back(token);
  ++generated_;
  if (generated_ >= request_.max_new_tokens) {
    finished_ = true;
    reason_ = FinishReason::kLength;
    return Outcome::kEmitFinish;
  }
  return Outcome::kEmitContinue;
}

double GenStream::ttft_ms() const { return ttft_ms_; }

double GenStream::ms_per_token_p50() const { return Median(intervals_ms_); }

}  // namespace edgesplit::agent
