#include "agent/daemon/segment_table.h"

#include <catch.hpp>

#include "agent/daemon/backoff.h"

using namespace edgesplit;
using namespace edgesplit::agent;
using transport::RejectReason;

namespace {

class FakeSegment : public SegmentExecutor {
 public:
  FakeSegment(int first, int end) : first_(first), end_(end) {
    in_.dtype = DType::kFloat32;
    in_.shape = {1, 4};
    out_ = in_;
  }
  int first_layer() const override { return first_; }
  int end_layer() const override { return end_; }
  const TensorSpec& input_spec() const override { return in_; }
  const TensorSpec& output_spec() const override { return out_; }
  Result<HostTensor> Run(const HostTensor& input, std::vector<double>*) override { return input; }

 private:
  int first_, end_;
  TensorSpec in_, out_;
};

LoadSpec Spec(uint64_t epoch, int first, int end, bool entry) {
  LoadSpec s;
  s.deployment = "d";
  s.epoch = epoch;
  s.model = "m";
  s.first_layer = first;
  s.end_layer = end;
  s.num_layers = 4;
  s.downstream_address = end < 4 ? "127.0.0.1:1" : "";
  s.is_entry = entry;
  return s;
}

Result<std::shared_ptr<SegmentExecutor>> Fake(int first, int end) {
  return std::shared_ptr<SegmentExecutor>(std::make_shared<FakeSegment>(first, end));
}

}  // namespace

TEST_CASE("lifecycle allows only the listed transitions") {
  using S = SegmentState;
  CHECK(IsLegalTransition(S::kLoading, S::kReady));
  CHECK(IsLegalTransition(S::kReady, S::kDraining));
  CHECK(IsLegalTransition(S::kDraining, S::kUnloaded));
  CHECK(IsLegalTransition(S::kFailed, S::kUnloaded));
  CHECK_FALSE(IsLegalTransition(S::kFailed, S::kReady));
  CHECK_FALSE(IsLegalTransition(S::kUnloaded, S::kReady));
  CHECK_FALSE(IsLegalTransition(S::kLoading, S::kDraining));
  S s = S::kLoading;
  CHECK(Transition(&s, S::kDraining).code() == StatusCode::kFailedPrecondition);
  CHECK(s == S::kLoading);
}

TEST_CASE("a segment is not routed to before it is ready") {
  SegmentTable t;
  REQUIRE(t.BeginLoad(Spec(1, 0, 2, true)).ok());
  std::optional<RejectReason> r;
  CHECK_FALSE(t.RouteRequest("d", 1, &r).ok());
  CHECK_FALSE(t.Activate({"d", 1}).ok());
  REQUIRE(t.FinishLoad({"d", 1}, Fake(0, 2)).ok());
  REQUIRE(t.Activate({"d", 1}).ok());
  auto s = t.RouteRequest("d", 0, &r);
  REQUIRE(s.ok());
  CHECK((*s)->spec.epoch == 1);
}

TEST_CASE("two epochs live side by side; activation switches new requests") {
  SegmentTable t;
  REQUIRE(t.BeginLoad(Spec(1, 0, 2, true)).ok());
  REQUIRE(t.FinishLoad({"d", 1}, Fake(0, 2)).ok());
  REQUIRE(t.Activate({"d", 1}).ok());
  REQUIRE(t.BeginLoad(Spec(2, 0, 3, true)).ok());
  REQUIRE(t.FinishLoad({"d", 2}, Fake(0, 3)).ok());
  std::optional<RejectReason> r;
  CHECK((*t.RouteRequest("d", 0, &r))->spec.epoch == 1);
  REQUIRE(t.Activate({"d", 2}).ok());
  CHECK((*t.RouteRequest("d", 0, &r))->spec.epoch == 2);
  CHECK_FALSE(t.Find({"d", 1})->active);
  REQUIRE(t.Drain({"d", 1}).ok());
  // Draining: no new requests, but activations already in the pipeline still run.
  CHECK_FALSE(t.RouteRequest("d", 1, &r).ok());
  CHECK(t.RouteActivation("d", 1, 0, &r).ok());
  REQUIRE(t.Unload({"d", 1}).ok());
  r.reset();
  CHECK_FALSE(t.RouteActivation("d", 1, 0, &r).ok());
  REQUIRE(r.has_value());
  CHECK(*r == RejectReason::kUnknownEpoch);
  CHECK((*t.RouteRequest("d", 0, &r))->spec.epoch == 2);
}

TEST_CASE("activations must start at the segment's first layer") {
  SegmentTable t;
  REQUIRE(t.BeginLoad(Spec(1, 2, 4, false)).ok());
  REQUIRE(t.FinishLoad({"d", 1}, Fake(2, 4)).ok());
  std::optional<RejectReason> r;
  CHECK(t.RouteActivation("d", 1, 2, &r).ok());
  CHECK_FALSE(t.RouteActivation("d", 1, 3, &r).ok());
  CHECK(*r == RejectReason::kUnknownEpoch);
}

TEST_CASE("a failed load is reported and can be retried") {
  SegmentTable t;
  REQUIRE(t.BeginLoad(Spec(1, 0, 2, true)).ok());
  CHECK(t.BeginLoad(Spec(1, 0, 2, true)).code() == StatusCode::kAlreadyExists);
  CHECK_FALSE(t.FinishLoad({"d", 1}, Status(StatusCode::kNotFound, "no file")).ok());
  CHECK(t.Find({"d", 1})->state == SegmentState::kFailed);
  CHECK(t.BeginLoad(Spec(1, 0, 2, true)).ok());
}

TEST_CASE("load specs are validated with every problem named") {
  LoadSpec s = Spec(0, 3, 2, true);
  s.model = "";
  Status st = ValidateLoadSpec(s);
  CHECK(st.message().find("epoch") != std::string::npos);
  CHECK(st.message().find("model") != std::string::npos);
  CHECK(st.message().find("layer range") != std::string::npos);
}

TEST_CASE("input spec mismatch is detected") {
  SegmentTable t;
  REQUIRE(t.BeginLoad(Spec(1, 0, 2, true)).ok());
  REQUIRE(t.FinishLoad({"d", 1}, Fake(0, 2)).ok());
  const SegmentSlot& s = *t.Find({"d", 1});
  CHECK(SegmentTable::CheckInput(s, DType::kFloat32, {1, 4}).ok());
  CHECK_FALSE(SegmentTable::CheckInput(s, DType::kFloat32, {1, 5}).ok());
  CHECK_FALSE(SegmentTable::CheckInput(s, DType::kInt64, {1, 4}).ok());
}

TEST_CASE("median layer times over the recent window") {
  SegmentSlot s;
  s.spec = Spec(1, 0, 2, true);
  s.RecordRun({1.0, 10.0});
  s.RecordRun({3.0, 30.0});
  s.RecordRun({2.0, 20.0});
  auto m = s.MedianLayerMs();
  CHECK(m[0] == 2.0);
  CHECK(m[1] == 20.0);
}

TEST_CASE("backoff grows exponentially, is capped and jittered") {
  BackoffOptions o;
  o.min = std::chrono::milliseconds(100);
  o.max = std::chrono::milliseconds(1000);
  CHECK(ToMillis(BackoffDelay(o, 0, 0.0)) == Approx(50));
  CHECK(ToMillis(BackoffDelay(o, 0, 0.999999)) == Approx(100).epsilon(0.01));
  CHECK(ToMillis(BackoffDelay(o, 2, 0.999999)) == Approx(400).epsilon(0.01));
  CHECK(ToMillis(BackoffDelay(o, 30, 0.999999)) == Approx(1000).epsilon(0.01));
}
