#include "common/http/metrics_text.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace edgesplit {

std::string RenderMetricsText(const prometheus::Registry& registry) {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry.Collect());
}

}  // namespace edgesplit
