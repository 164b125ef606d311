// The REST JSON codec (orchestrator/api/json_codec.cc, tensor_json.cc, generate_codec.cc): the
// first byte picks a decoder, the rest is the request body. ParseJson must refuse or parse; a
// decoder must refuse or return a value whose JSON form decodes again.
#include <cstdio>
#include <cstdlib>

#include <boost/json.hpp>

#include "orchestrator/api/generate_codec.h"
#include "orchestrator/api/json_codec.h"

using namespace edgesplit;
using namespace edgesplit::orch;
namespace json = boost::json;

namespace {

constexpr size_t kMaxTensorBytes = size_t{1} << 16;

template <typename T>
void CheckAgain(const Result<T>& r, const char* what, const json::value& encoded) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s round trip refused: %s\n%s\n", what, r.status().ToString().c_str(),
                 json::serialize(encoded).c_str());
    std::abort();
  }
}

// Its own JSON text parsed again: what a client reading our answer and sending it back does.
json::value Reparsed(const json::value& v) {
  auto r = ParseJson(json::serialize(v));
  CheckAgain(r, "serialized", v);
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)QuoteForError(text);
  auto v = ParseJson(text);
  if (!v.ok()) return 0;
  switch (data[0] % 6) {
    case 0:
    case 1: {
      const bool require_name = data[0] % 6 == 0;
      auto s = DeploymentSpecFromJson(*v, require_name);
      if (!s.ok()) return 0;
      json::value out = DeploymentSpecToJson(*s);
      CheckAgain(DeploymentSpecFromJson(Reparsed(out), require_name), "deployment spec", out);
      break;
    }
    case 2: {
      auto p = PolicyFromJson(*v, PolicySettings{});
      if (!p.ok()) return 0;
      json::value out = PolicyToJson(*p);
      CheckAgain(PolicyFromJson(Reparsed(out), PolicySettings{}), "policy", out);
      break;
    }
    case 3: {
      auto s = StagesFromJson(*v);
      if (!s.ok()) return 0;
      json::value out = StagesToJson(*s);
      CheckAgain(StagesFromJson(Reparsed(out)), "stages", out);
      break;
    }
    case 4: {
      auto t = TensorFromJson(*v, kMaxTensorBytes);
      if (!t.ok()) return 0;
      json::value out = TensorToJson(*t);
      CheckAgain(TensorFromJson(Reparsed(out), kMaxTensorBytes), "tensor", out);
      break;
    }
    case 5: {
      auto g = GenerateBodyFromJson(*v);
      if (!g.ok()) return 0;
      (void)g->request.Validate(100, 64);
      break;
    }
  }
  return 0;
}
