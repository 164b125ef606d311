#include "agent/runtime/profiler.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <random>

#include "agent/runtime/compute_probe.h"
#include "agent/runtime/segment.h"
#include "common/base/json_escape.h"

namespace edgesplit {

HostTensor MakeExampleInput(const Manifest& m, uint64_t seed, int64_t vocab_hint) {
  HostTensor t = HostTensor::Allocate(m.input.dtype, m.input.shape);
  std::mt19937_64 rng(seed);
  const size_t n = t.numel();
  // For token models, ids must index the embedding table: use the LM head width when known.
  int64_t vocab = vocab_hint;
  if (vocab <= 0 && !m.layers.empty()) vocab = m.layers.back().output.shape.back();
  if (vocab <= 0) vocab = 2;
  switch (t.dtype) {
    case DType::kInt64: {
      auto* p = reinterpret_cast<int64_t*>(t.data);
      for (size_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(rng() % static_cast<uint64_t>(vocab));
      break;
    }
    case DType::kInt32: {
      auto* p = reinterpret_cast<int32_t*>(t.data);
      for (size_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
      break;
    }
    case DType::kFloat32: {
      std::normal_distribution<float> d(0.f, 1.f);
      auto* p = reinterpret_cast<float*>(t.data);
      for (size_t i = 0; i < n; ++i) p[i] = d(rng);
      break;
    }
    case DType::kFloat16: {
      // Small exact halves: integers in [-8, 8] scaled by 1/8 (all exactly representable).
      auto* p = reinterpret_cast<uint16_t*>(t.data);
      for (size_t i = 0; i < n; ++i) {
        int v = static_cast<int>(rng() % 17) - 8;
        float f = v / 8.0f;
        // Encode f as IEEE half by hand (exact for these values).
        if (f == 0) { p[i] = 0; continue; }
        uint16_t sign = f < 0 ? 0x8000 : 0;
        float a = std::fabs(f);
        int e = 0;
        while (a >= 2.0f) { a /= 2; ++e; }
        while (a < 1.0f) { a *= 2; --e; }
        uint16_t mant = static_cast<uint16_t>((a - 1.0f) * 1024.0f);
        p[i] = sign | static_cast<uint16_t>((e + 15) << 10) | mant;
      }
      break;
    }
    case DType::kBFloat16: {
      // bfloat16 is the top half of a float32: truncating a normal draw gives a valid value.
      std::normal_distribution<float> d(0.f, 1.f);
      auto* p = reinterpret_cast<uint16_t*>(t.data);
      for (size_t i = 0; i < n; ++i) {
        float f = d(rng);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        p[i] = static_cast<uint16_t>(bits >> 16);
      }
      break;
    }
  }
  return t;
}

Result<ModelProfile> ProfileModel(const std::string& dir, int runs) {
  if (runs <= 0) return InvalidArgument("runs must be positive");
  ES_ASSIGN_OR_RETURN(Manifest m, LoadManifest(dir));
  ES_ASSIGN_OR_RETURN(auto seg, Segment::Load(dir, m, 0, m.num_layers()));
  HostTensor input = MakeExampleInput(m, 42);
  std::vector<std::vector<double>> samples(m.num_layers());
  std::vector<double> ms;
  ES_RETURN_IF_ERROR(seg->Run(input, &ms).status());  // warm-up: allocator and lazy init
  for (int r = 0; r < runs; ++r) {
    ES_RETURN_IF_ERROR(seg->Run(input, &ms).status());
    for (int i = 0; i < m.num_layers(); ++i) samples[i].push_back(ms[i]);
  }
  ModelProfile p;
  p.model = m.name;
  p.runs = runs;
  p.input_bytes = m.input.Bytes();
  for (int i = 0; i < m.num_layers(); ++i) {
    auto& s = samples[i];
    std::sort(s.begin(), s.end());
    const double med = s.size() % 2 ? s[s.size() / 2] : 0.5 * (s[s.size() / 2 - 1] + s[s.size() / 2]);
    p.layers.push_back({m.layers[i].name, med, m.layers[i].param_bytes, m.layers[i].output.Bytes()});
    p.total_median_ms += med;
  }
  p.probe_ms = MedianComputeProbeMs(9);
  return p;
}

std::string ModelProfileToJson(const ModelProfile& p) {
  std::string s = "{\"model\": " + JsonQuote(p.model) + ", \"runs\": " + std::to_string(p.runs) +
                  ", \"input_bytes\": " + std::to_string(p.input_bytes);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4f", p.total_median_ms);
  s += std::string(", \"total_median_ms\": ") + buf;
  std::snprintf(buf, sizeof(buf), "%.4f", p.probe_ms);
  s += std::string(", \"probe_ms\": ") + buf + ", \"layers\": [";
  for (size_t i = 0; i < p.layers.size(); ++i) {
    const auto& l = p.layers[i];
    std::snprintf(buf, sizeof(buf), "%.4f", l.median_ms);
    s += std::string(i ? ", " : "") + "{\"index\": " + std::to_string(i) + ", \"name\": " + JsonQuote(l.name) +
         ", \"median_ms\": " + buf + ", \"param_bytes\": " + std::to_string(l.param_bytes) +
         ", \"output_bytes\": " + std::to_string(l.output_bytes) + "}";
  }
  return s + "]}";
}

}  // namespace edgesplit
