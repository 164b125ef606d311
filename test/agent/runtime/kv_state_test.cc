// Moving a session's KV between segments (the agents' KV copy, docs/agent.md): a session run on
// one cut set, its state exported layer by layer and imported into the segments of another cut
// set, continues there exactly as it would have (bitwise-equal logits, the whole model's tokens).
#include <catch.hpp>
#include <cstring>

#include "agent/runtime/chain_generator.h"
#include "agent/runtime/torch_threads.h"
#include "test/agent/runtime/test_package.h"

using namespace edgesplit;

namespace {

struct Chain {
  std::vector<std::unique_ptr<Segment>> segs;
  std::vector<std::unique_ptr<SessionState>> states;
  Chain(const std::string& dir, const Manifest& m, const std::vector<int>& cuts, int64_t capacity) {
    const auto b = CutBounds(m, cuts).value();
    for (size_t i = 0; i + 1 < b.size(); ++i) {
      segs.push_back(Segment::Load(dir, m, b[i], b[i + 1]).value());
      states.push_back(segs.back()->NewSession(capacity).value());
    }
  }
  // Runs `ids` at `pos` through every segment; the last position's logits.
  HostTensor Step(const std::vector<int64_t>& ids, int64_t pos) {
    HostTensor x = HostTensor::CopyOf(DType::kInt64, {1, static_cast<int64_t>(ids.size())}, ids.data(), ids.size() * 8);
    for (size_t i = 0; i < segs.size(); ++i) x = segs[i]->Step(x, states[i].get(), pos, nullptr).value();
    return x;
  }
  // The segment holding model layer `l`.
  size_t Holder(int l) const {
    for (size_t i = 0; i < segs.size(); ++i)
      if (l >= segs[i]->first_layer() && l < segs[i]->end_layer()) return i;
    return segs.size();
  }
};

int64_t Argmax(const HostTensor& logits, int64_t vocab) {
  const float* p = LastPositionLogits(logits);
  return std::max_element(p, p + vocab) - p;
}

}  // namespace

TEST_CASE("a session's KV moved to another cut set continues exactly where it was") {
  ConfigureTorch({});
  const std::string dir = testing::SmallGpt("kv-state-test", 6);
  const Manifest m = LoadManifest(dir).value();
  const int L = m.num_layers();
  const int64_t vocab = m.generation->vocab;
  auto whole = ChainGenerator::Load(dir, m, {}).value();
  GenerationRequest req;
  req.prompt = {5, 17, 42, 3};
  req.max_new_tokens = 24;
  const auto want = whole->Generate(req, true).value().tokens;

  const int64_t capacity = 4 + 24;
  Chain before(dir, m, {3}, capacity), after(dir, m, {2, 5, 6}, capacity), stay(dir, m, {3}, capacity);
  std::vector<int64_t> got;
  HostTensor logits = before.Step(req.prompt, 0);
  stay.Step(req.prompt, 0);
  int64_t pos = 4;
  for (int i = 0; i < 10; ++i) {
    got.push_back(Argmax(logits, vocab));
    logits = before.Step({got.back()}, pos);
    stay.Step({got.back()}, pos);
    ++pos;
  }
  got.push_back(Argmax(logits, vocab));
  // Move positions [0, pos) in two rounds, as the agents do: most of it first, then the tail.
  int moved_layers = 0;
  for (auto [from, end] : {std::pair<int64_t, int64_t>{0, pos - 3}, {pos - 3, pos}}) {
    for (int l = 0; l < L; ++l) {
      Segment& src = *before.segs[before.Holder(l)];
      if (!src.layer_state(l)) continue;
      auto t = src.ExportState(before.states[before.Holder(l)].get(), l, from, end);
      REQUIRE(t.ok());
      const auto& spec = src.layer_state(l)->spec;
      CHECK(t->shape[spec.seq_dim] == end - from);
      CHECK(t->nbytes == static_cast<size_t>(end - from) * src.layer_state(l)->bytes_per_token);
      const size_t d = after.Holder(l);
      REQUIRE(after.segs[d]->ImportState(after.states[d].get(), l, from, *t).ok());
      moved_layers += from == 0;
    }
  }
  CHECK(moved_layers == 6);  // the blocks; embedding and head keep no state
  // Both continue from the same next token: the moved one must match the one that stayed.
  for (int i = 0; got.size() < want.size(); ++i) {
    HostTensor a = after.Step({got.back()}, pos);
    HostTensor b = stay.Step({got.back()}, pos);
    REQUIRE(a.nbytes == b.nbytes);
    CHECK(std::memcmp(a.data, b.data, a.nbytes) == 0);
    got.push_back(Argmax(a, vocab));
    ++pos;
  }
  CHECK(got == want);
}

TEST_CASE("exported and imported KV is checked against the layer's state, never trusted") {
  ConfigureTorch({});
  const std::string dir = testing::SmallGpt("kv-state-bad", 4);
  const Manifest m = LoadManifest(dir).value();
  auto seg = Segment::Load(dir, m, 0, 3).value();
  auto st = seg->NewSession(8).value();
  HostTensor ids = HostTensor::CopyOf(DType::kInt64, {1, 4}, std::vector<int64_t>{1, 2, 3, 4}.data(), 32);
  REQUIRE(seg->Step(ids, st.get(), 0, nullptr).ok());
  CHECK_FALSE(seg->layer_state(0));  // the embedding
  REQUIRE(seg->layer_state(1));
  CHECK(seg->ExportState(st.get(), 0, 0, 4).status().code() == StatusCode::kInvalidArgument);  // stateless
  CHECK(seg->ExportState(st.get(), 3, 0, 4).status().code() == StatusCode::kInvalidArgument);  // not here
  CHECK(seg->ExportState(st.get(), 1, 0, 9).status().code() == StatusCode::kInvalidArgument);  // past capacity
  CHECK(seg->ExportState(st.get(), 1, 2, 2).status().code() == StatusCode::kInvalidArgument);  // empty
  auto t = seg->ExportState(st.get(), 1, 0, 4).value();
  auto other = seg->NewSession(8).value();
  CHECK(seg->ImportState(other.get(), 1, 5, t).code() == StatusCode::kInvalidArgument);  // 5 + 4 > 8
  CHECK(seg->ImportState(other.get(), 0, 0, t).code() == StatusCode::kInvalidArgument);
  HostTensor wrong = t;
  wrong.shape[0] += 1;
  const Status s = seg->ImportState(other.get(), 1, 0, wrong);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("does not match") != std::string::npos);
  HostTensor as_int = t;
  as_int.dtype = DType::kInt64;
  CHECK(seg->ImportState(other.get(), 1, 0, as_int).code() == StatusCode::kInvalidArgument);
  CHECK(seg->ImportState(other.get(), 1, 0, t).ok());
  CHECK(seg->ImportState(other.get(), 2, 0, seg->ExportState(st.get(), 2, 0, 4).value()).ok());
  // The moved session continues like the original one.
  HostTensor one = HostTensor::CopyOf(DType::kInt64, {1, 1}, std::vector<int64_t>{7}.data(), 8);
  HostTensor a = seg->Step(one, st.get(), 4, nullptr).value();
  HostTensor b = seg->Step(one, other.get(), 4, nullptr).value();
  REQUIRE(a.nbytes == b.nbytes);
  CHECK(std::memcmp(a.data, b.data, a.nbytes) == 0);
}

TEST_CASE("warming a segment up at load changes nothing it computes") {
  ConfigureTorch({});
  const std::string dir = testing::SmallGpt("kv-state-warm", 4);
  const Manifest m = LoadManifest(dir).value();
  auto warm = Segment::Load(dir, m, 0, 3).value();
  auto cold = Segment::Load(dir, m, 0, 3).value();
  REQUIRE(warm->WarmUp().ok());
  HostTensor ids = HostTensor::CopyOf(DType::kInt64, {1, 5}, std::vector<int64_t>{9, 8, 7, 6, 5}.data(), 40);
  HostTensor a = warm->Run(ids, nullptr).value(), b = cold->Run(ids, nullptr).value();
  REQUIRE(a.nbytes == b.nbytes);
  CHECK(std::memcmp(a.data, b.data, a.nbytes) == 0);
  auto sa = warm->NewSession(8).value();
  auto sb = cold->NewSession(8).value();
  HostTensor x = warm->Step(ids, sa.get(), 0, nullptr).value(), y = cold->Step(ids, sb.get(), 0, nullptr).value();
  REQUIRE(x.nbytes == y.nbytes);
  CHECK(std::memcmp(x.data, y.data, x.nbytes) == 0);
}
