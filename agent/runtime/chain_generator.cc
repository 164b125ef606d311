#include "agent/runtime/chain_generator.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace edgesplit {
namespace {
double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

HostTensor TokenTensor(const int64_t* ids, int64_t n) {
  return HostTensor::CopyOf(DType::kInt64, {1, n}, ids, static_cast<size_t>(n) * sizeof(int64_t));
}
}  // namespace

double GenerationResult::MsPerTokenP50() const {
  if (token_ms.empty()) return 0;
  std::vector<double> v = token_ms;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

const float* LastPositionLogits(const HostTensor& logits) {
  const int64_t T = logits.shape[logits.shape.size() - 2], V = logits.shape.back();
  return reinterpret_cast<const float*>(logits.data) + (T - 1) * V;
}

Result<std::unique_ptr<ChainGenerator>> ChainGenerator::Load(const std::string& dir, const Manifest& m,
                                                             const std::vector<int>& cuts) {
  if (!m.generation) return FailedPrecondition("model '" + m.name + "' cannot generate (no generation section in model.yaml)");
  ES_ASSIGN_OR_RETURN(const std::vector<int> bounds, CutBounds(m, cuts));
  std::vector<std::unique_ptr<Segment>> segs;
  for (size_t s = 0; s + 1 < bounds.size(); ++s) {
    ES_ASSIGN_OR_RETURN(auto seg, Segment::Load(dir, m, bounds[s], bounds[s + 1]));
    segs.push_back(std::move(seg));
  }
  return std::unique_ptr<ChainGenerator>(new ChainGenerator(m, std::move(segs)));
}

Result<GenerationResult> ChainGenerator::Generate(const GenerationRequest& req, bool use_cache,
                                                  const std::function<void(int64_t, int64_t)>& on_token) {
  const GenerationSpec& g = *manifest_.generation;
  ES_RETURN_IF_ERROR(req.Validate(g.vocab, g.max_context));
  GenerationResult r;
  std::vector<std::unique_ptr<SessionState>> states;
  if (use_cache) {
    for (auto& s : segments_) {
      ES_ASSIGN_OR_RETURN(auto st, s->NewSession(req.ContextTokens()));
      states.push_back(std::move(st));
    }
  }
  std::vector<int64_t> history = req.prompt;
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  int64_t pos = 0;  // positions already in the caches
  for (int64_t i = 0; i < req.max_new_tokens; ++i) {
    HostTensor x;
    if (use_cache) {
      x = TokenTensor(history.data() + pos, static_cast<int64_t>(history.size()) - pos);
      for (size_t s = 0; s < segments_.size(); ++s) {
        ES_ASSIGN_OR_RETURN(x, segments_[s]->Step(x, states[s].get(), pos, nullptr));
      }
      pos = static_cast<int64_t>(history.size());
    } else {
      x = TokenTensor(history.data(), static_cast<int64_t>(history.size()));
      for (auto& s : segments_) {
        ES_ASSIGN_OR_RETURN(x, s->Run(x, nullptr));
      }
    }
    const int64_t tok = SampleToken(LastPositionLogits(x), static_cast<size_t>(g.vocab), req.sampling,
                                    static_cast<uint64_t>(i));
    if (i == 0) r.ttft_ms = MsSince(t0);
    else r.token_ms.push_back(MsSince(last));
    last = std::chrono::steady_clock::now();
    if (std::find(req.stop_tokens.begin(), req.stop_tokens.end(), tok) != req.stop_tokens.end()) {
      r.finish = FinishReason::kStop;
      return r;
    }
    r.tokens.push_back(tok);
    if (on_token) on_token(i, tok);
    history.push_back(tok);
  }
  r.finish = FinishReason::kLength;
  return r;
}

}  // namespace edgesplit
