// Renders a prometheus-cpp registry in the Prometheus text exposition format (0.0.4).
#pragma once

#include <string>

namespace prometheus {
class Registry;
}

namespace edgesplit {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string RenderMetricsText(const prometheus::Registry& registry);

}  // namespace edgesplit
