// Deterministic mutation tests of the JSON decoders: valid documents are mutated (values replaced by
// values of other types and extreme numbers, keys dropped or added, arrays grown and shrunk, text
// truncated and bytes flipped), and every decode must either succeed with values inside their
// documented ranges or fail with a message. An exception, a crash or a hang fails the test.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include <boost/json.hpp>
#include <catch.hpp>

#include "orchestrator/api/json_codec.h"

using namespace edgesplit;
using namespace edgesplit::orch;
namespace json = boost::json;

namespace {

constexpr uint32_t kSeed = 20240611;
constexpr size_t kMaxTensorBytes = 1 << 16;

const char* const kDeployments[] = {
    R"({"name":"d1","model":"gpt","entry_node":"n1","objective":{"kind":"mixed","alpha":0.5,"beta":1},)"
    R"("slo_latency_ms":40,"trusted_prefix_layers":2,"max_stages":3})",
    R"({"name":"d-2.x","model":"resnet","objective":"period","max_stages":0})",
};
const char* const kTensors[] = {
    R"({"dtype":"float32","shape":[2,3],"data":[0,1.5,-2,3e38,-1e-30,7]})",
    R"({"dtype":"int64","shape":[3],"data":[9223372036854775807,-9223372036854775808,0]})",
    R"({"dtype":"int32","shape":[1,2,1],"data":[2147483647,-2147483648]})",
    R"({"dtype":"float32","shape":[],"data":[1]})",
};
const char* const kStages[] = {
    R"([{"node":"n1","address":"127.0.0.1:9000","first_layer":0,"end_layer":2},)"
    R"({"node":"n2","address":"[::1]:9000","first_layer":2,"end_layer":4}])",
};
const std::string kPolicy = json::serialize(PolicyToJson(PolicySettings{}));

class Mutator {
 public:
  explicit Mutator(uint32_t seed) : rng_(seed) {}

  size_t Below(size_t n) { return n == 0 ? 0 : rng_() % n; }

  // One value of an arbitrary type, biased to the edges of every numeric conversion.
  json::value Extreme() {
    switch (Below(34)) {
      case 0: return nullptr;
      case 1: return true;
      case 2: return false;
      case 3: return 0;
      case 4: return -1;
      case 5: return 1;
      case 6: return 2.5;
      case 7: return -0.0;
      case 8: return 1e300;
      case 9: return -1e300;
      case 10: return 1e-300;
      case 11: return INT64_MAX;
      case 12: return INT64_MIN;
      case 13: return UINT64_MAX;
      case 14: return uint64_t{1} << 63;
      case 15: return int64_t{1} << 31;
      case 16: return -(int64_t{1} << 31) - 1;
      case 17: return 1e9;
      case 18: return 1e9 + 1;
      case 19: return int64_t{4294967296};
      case 20: return "";
      case 21: return "x";
      case 22: return json::string(300, 'n');
      case 23: return "a\x01" "b";
      case 24: return "line\nbreak";
      case 25: return "\xc3\xa9t\xc3\xa9";
      case 26: return json::array{};
      case 27: return json::object{};
      case 28: return json::array{1, 2, 3};
      case 29: return json::object{{"a", 1}};
      case 30: {
        json::value v = 1;
        for (int i = 0; i < 8; ++i) v = json::array{v};  // three of these stay within kMaxJsonDepth
        return v;
      }
      case 31: return 3.5e38;
      case 32: return DBL_MAX;
      default: return 1e-9;
    }
  }

  // Applies 1-3 random structural or value mutations.
  void Mutate(json::value& root) {
    const size_t n = 1 + Below(3);
    for (size_t i = 0; i < n; ++i) MutateOnce(root);
  }

 private:
  void Collect(json::value& v, std::vector<json::value*>* all) {
    all->push_back(&v);
    if (v.is_object()) {
      for (auto& kv : v.as_object()) Collect(kv.value(), all);
    } else if (v.is_array()) {
      for (auto& e : v.as_array()) Collect(e, all);
    }
  }

  void MutateOnce(json::value& root) {
    std::vector<json::value*> all;
    Collect(root, &all);
    json::value* v = all[Below(all.size())];
    switch (Below(6)) {
      case 0:
      case 1:
        *v = Extreme();
        break;
      case 2:  // drop a key or an element
        if (v->is_object() && !v->as_object().empty()) {
          auto& o = v->as_object();
          o.erase(std::next(o.begin(), static_cast<long>(Below(o.size()))));
        } else if (v->is_array() && !v->as_array().empty()) {
          auto& a = v->as_array();
          a.erase(a.begin() + static_cast<long>(Below(a.size())));
        }
        break;
      case 3:  // add an unknown key, or a key that belongs to another document
        if (v->is_object()) {
          static const char* const keys[] = {"colour", "", "shape", "node", "name", "NAME", "name ", "\x01"};
          v->as_object()[keys[Below(8)]] = Extreme();
        } else if (v->is_array()) {
          v->as_array().push_back(Extreme());
        }
        break;
      case 4:  // repeat an element or shrink an array to nothing
        if (v->is_array() && !v->as_array().empty()) {
          auto& a = v->as_array();
          if (Below(4) == 0) {
            a.clear();
          } else {
            json::value copy = a[Below(a.size())];
            a.push_back(std::move(copy));
          }
        }
        break;
      default:  // perturb a number slightly (often still valid)
        if (v->is_number()) {
          const double d = v->to_number<double>();
          static const double deltas[] = {1, -1, 0.5, 1e-12};
          *v = d + deltas[Below(4)];
        }
        break;
    }
  }

  std::mt19937 rng_;
};

bool NameOk(const std::string& s) {
  if (s.size() > kMaxJsonNameBytes) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Runs `decode` and checks its outcome; `in_range` is asked only on success. Exceptions fail.
template <class T>
void Expect(const Result<T>& r, const std::function<bool(const T&)>& in_range, const std::string& input, int* ok_count) {
  if (r.ok()) {
    if (!in_range(*r)) FAIL("decoded out of range: " << input);
    ++*ok_count;
  } else if (r.status().message().empty()) {
    FAIL("empty error message for: " << input);
  }
}

bool SpecInRange(const DeploymentSpec& s) {
  return s.Validate().ok() && NameOk(s.model) && NameOk(s.entry_node) && std::isfinite(s.slo_latency_ms) &&
         s.slo_latency_ms >= 0 && s.trusted_prefix_layers >= 0 && s.trusted_prefix_layers <= kMaxJsonLayers &&
         s.max_stages >= 0 && s.max_stages <= kMaxJsonLayers && std::isfinite(s.objective.alpha) &&
         std::isfinite(s.objective.beta);
}

bool PolicyInRange(const PolicySettings& p) {
  return p.Validate().ok() && std::isfinite(p.horizon_s) && std::isfinite(p.min_request_rate) &&
         std::isfinite(p.min_gain_ms) && std::isfinite(p.weight_fetch_mbps) && std::isfinite(p.drift_fraction) &&
         p.cooldown >= Duration::zero() && p.cooldown <= std::chrono::seconds(1000000) &&
         p.evaluate_interval > Duration::zero() && p.evaluate_interval <= std::chrono::seconds(1000000) &&
         p.slo_window > Duration::zero() && p.slo_window <= std::chrono::seconds(1000000) &&
         p.confirm_evaluations >= 1 && p.confirm_evaluations <= 100 && p.resplit_margin_fraction >= 0 &&
         p.resplit_margin_fraction < 10 && (p.cooldown_waiver_factor == 0 || p.cooldown_waiver_factor >= 1);
}

bool TensorInRange(const HostTensor& t) {
  if (t.dtype != DType::kFloat32 && t.dtype != DType::kInt64 && t.dtype != DType::kInt32) return false;
  if (t.shape.size() > static_cast<size_t>(kMaxRank)) return false;
  auto numel = CheckedNumel(t.shape, t.dtype, kMaxTensorBytes);
  if (!numel.ok() || *numel != t.numel() || t.nbytes != *numel * DTypeSize(t.dtype)) return false;
  if (t.dtype == DType::kFloat32) {
    for (size_t i = 0; i < *numel; ++i) {
      float f;
      std::memcpy(&f, t.data + i * 4, 4);
      if (!std::isfinite(f)) return false;
    }
  }
  // What we decode, we encode and decode to the same bytes.
  auto back = TensorFromJson(json::value(TensorToJson(t)), kMaxTensorBytes);
  return back.ok() && back->SameBytes(t);
}

bool StagesInRange(const std::vector<StageTarget>& st) {
  int next = 0;
  for (const auto& s : st) {
    if (s.node.empty() || !NameOk(s.node) || !NameOk(s.data_address)) return false;
    if (s.first_layer != next || s.end_layer <= s.first_layer || s.end_layer > kMaxJsonLayers) return false;
    next = s.end_layer;
  }
  return true;
}

// Every decoder on one value; returns how many accepted it.
int DecodeAll(const json::value& v, const std::string& input) {
  int ok = 0;
  Expect<DeploymentSpec>(DeploymentSpecFromJson(v), SpecInRange, input, &ok);
  Expect<DeploymentSpec>(DeploymentSpecFromJson(v, /*require_name=*/false), SpecInRange, input, &ok);
  Expect<PolicySettings>(PolicyFromJson(v, PolicySettings{}), PolicyInRange, input, &ok);
  Expect<HostTensor>(TensorFromJson(v, kMaxTensorBytes), TensorInRange, input, &ok);
  Expect<std::vector<StageTarget>>(StagesFromJson(v), StagesInRange, input, &ok);
  return ok;
}

std::vector<std::string> Seeds() {
  std::vector<std::string> s(std::begin(kDeployments), std::end(kDeployments));
  s.insert(s.end(), std::begin(kTensors), std::end(kTensors));
  s.insert(s.end(), std::begin(kStages), std::end(kStages));
  s.push_back(kPolicy);
  return s;
}

}  // namespace

TEST_CASE("the seed documents decode (so mutations start from valid input)") {
  for (const char* d : kDeployments) CHECK(DeploymentSpecFromJson(*ParseJson(d)).ok());
  for (const char* t : kTensors) CHECK(TensorFromJson(*ParseJson(t), kMaxTensorBytes).ok());
  for (const char* s : kStages) CHECK(StagesFromJson(*ParseJson(s)).ok());
  CHECK(PolicyFromJson(*ParseJson(kPolicy), PolicySettings{}).ok());
}

TEST_CASE("mutated documents decode within range or fail with a message") {
  Mutator m(kSeed);
  const auto seeds = Seeds();
  int cases = 0, accepted = 0;
  for (int round = 0; round < 6000; ++round) {
    const std::string& seed = seeds[static_cast<size_t>(round) % seeds.size()];
    json::value v = *ParseJson(seed);
    m.Mutate(v);
    const std::string text = json::serialize(v);
    accepted += DecodeAll(v, text);
    // What serialize wrote, ParseJson reads back (mutations never repeat a key).
    auto reparsed = ParseJson(text);
    if (!reparsed.ok()) FAIL("cannot re-parse " << text << ": " << reparsed.status().message());
    ++cases;
  }
  CHECK(cases == 6000);
  // Enough mutations keep the document valid that the success path is exercised too.
  CHECK(accepted > 500);
}

TEST_CASE("every truncation of a valid document is malformed JSON with a position") {
  int cases = 0;
  for (const std::string& seed : Seeds()) {
    for (size_t n = 0; n < seed.size(); ++n) {
      auto r = ParseJson(seed.substr(0, n));
      if (r.ok()) FAIL("truncation accepted: " << seed.substr(0, n));
      CHECK(r.status().message().rfind("malformed JSON at byte ", 0) == 0);
      ++cases;
    }
    REQUIRE(ParseJson(seed).ok());
  }
  CHECK(cases > 500);
}

TEST_CASE("byte-level corruption never escapes the parser or the decoders") {
  std::mt19937 rng(kSeed + 1);
  const auto seeds = Seeds();
  static const char kBytes[] = "{}[]\",:0123456789eE.-+ntfu\\\x00\x01\xff\xc3\x80 \t\n";
  int parsed = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string text = seeds[static_cast<size_t>(round) % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % (text.size() + 1);
      const char c = kBytes[rng() % (sizeof(kBytes) - 1)];
      switch (rng() % 3) {
        case 0:
          if (pos < text.size()) text[pos] = c;
          break;
        case 1: text.insert(text.begin() + static_cast<long>(pos), c); break;
        default:
          if (pos < text.size()) text.erase(pos, 1 + rng() % 8);
          break;
      }
    }
    auto v = ParseJson(text);
    if (!v.ok()) {
      CHECK(!v.status().message().empty());
      continue;
    }
    ++parsed;
    DecodeAll(*v, text);
  }
  CHECK(parsed > 100);
}

TEST_CASE("hostile shapes of otherwise valid documents are refused with a message") {
  // Deep nesting inside a valid key, a huge array where a name belongs, many unknown keys.
  std::string deep = R"({"name":"d","model":"m","objective":)" + std::string(40, '[') + std::string(40, ']') + "}";
  CHECK(!ParseJson(deep).ok());
  std::string wide = R"({"dtype":"float32","shape":[)";
  for (int i = 0; i < 100000; ++i) wide += "1,";
  wide += R"(1],"data":[1]})";
  auto t = TensorFromJson(*ParseJson(wide), kMaxTensorBytes);
  REQUIRE(!t.ok());
  CHECK(t.status().message() == "tensor.shape: rank 100001 exceeds 8");
  std::string many = "{";
  for (int i = 0; i < 10000; ++i) many += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  many += R"("name":"d"})";
  auto d = DeploymentSpecFromJson(*ParseJson(many));
  REQUIRE(!d.ok());
  CHECK(d.status().message() == "deployment: unknown key \"k0\"");
  // A shape whose element count overflows size_t, with a matching-looking data array.
  auto big = TensorFromJson(
      *ParseJson(R"({"dtype":"int64","shape":[4294967296,4294967296,4294967296],"data":[1]})"), SIZE_MAX);
  REQUIRE(!big.ok());
  CHECK(big.status().message().find("exceeds the size limit") != std::string::npos);
}

TEST_CASE("the policy's mode and period round-trip; an unknown mode names the key") {
  auto p = PolicyFromJson(*ParseJson(R"({"mode":"periodic","period_s":20})"), PolicySettings{});
  REQUIRE(p.ok());
  CHECK(p->mode == PolicyMode::kPeriodic);
  CHECK(ToSeconds(p->period) == Approx(20));
  auto back = PolicyFromJson(json::value(PolicyToJson(*p)), PolicySettings{});
  REQUIRE(back.ok());
  CHECK(back->mode == PolicyMode::kPeriodic);
  auto bad = PolicyFromJson(*ParseJson(R"({"mode":"never"})"), PolicySettings{});
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find("policy.mode") != std::string::npos);
  CHECK(!PolicyFromJson(*ParseJson(R"({"period_s":0.5})"), PolicySettings{}).ok());
}
