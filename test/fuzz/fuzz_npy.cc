// .npy decoding (common/model/npy.cc), as the REST API and the CLI read tensors: anything that
// decodes must re-encode and decode to the same tensor.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/model/npy.h"

using namespace edgesplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto t = DecodeNpy(std::string_view(reinterpret_cast<const char*>(data), size), size_t{1} << 20);
  if (!t.ok()) return 0;
  auto again = DecodeNpy(EncodeNpy(*t), size_t{1} << 20);
  if (!again.ok() || !again->SameBytes(*t)) {
    std::fprintf(stderr, "npy round trip failed: %s\n", again.ok() ? "bytes differ" : again.status().ToString().c_str());
    std::abort();
  }
  return 0;
}
