// model.yaml parsing (common/model/manifest.cc): the agent and the orchestrator read every
// package's manifest. A manifest that parses must answer its own size questions and survive
// ManifestToYaml -> ParseManifest unchanged.
#include <cstdio>
#include <cstdlib>

#include "common/model/manifest.h"

using namespace edgesplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = ParseManifest(std::string(reinterpret_cast<const char*>(data), size));
  if (!m.ok()) return 0;
  (void)m->TotalParamBytes();
  (void)m->MaxSeq();
  (void)m->input.Bytes();
  for (int i = 0; i < m->num_layers(); ++i) {
    (void)m->InputOf(i).Bytes();
    (void)m->layers[i].output.Accepts(m->layers[i].output.dtype, m->layers[i].output.shape, m->MaxSeq());
  }
  (void)m->StateBytesPerToken(0, m->num_layers());
  const std::string yaml = ManifestToYaml(*m);
  auto again = ParseManifest(yaml);
  if (!again.ok() || ManifestToYaml(*again) != yaml) {
    std::fprintf(stderr, "manifest round trip failed: %s\n%s\n",
                 again.ok() ? "text differs" : again.status().ToString().c_str(), yaml.c_str());
    std::abort();
  }
  return 0;
}
