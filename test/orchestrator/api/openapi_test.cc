// docs/openapi.yaml lists exactly the routes RestApi serves.
#include <cstdlib>
#include <set>

#include <yaml-cpp/yaml.h>

#include <catch.hpp>

#include "orchestrator/api/rest_api.h"

using namespace edgesplit::orch;

TEST_CASE("the OpenAPI description lists exactly the served routes") {
  const char* src = std::getenv("ES_SOURCE_DIR");
  REQUIRE(src);
  YAML::Node doc = YAML::LoadFile(std::string(src) + "/docs/openapi.yaml");
  std::set<std::string> documented;
  for (const auto& p : doc["paths"]) {
    for (const auto& m : p.second) {
      std::string method = m.first.as<std::string>();
      for (auto& c : method) c = static_cast<char>(std::toupper(c));
      documented.insert(method + " " + p.first.as<std::string>());
    }
  }
  std::set<std::string> served;
  for (const auto& r : RestApi::Routes()) served.insert(r.method + " " + r.pattern);
  for (const auto& s : served) {
    INFO(s);
    CHECK(documented.count(s));
  }
  for (const auto& d : documented) {
    INFO(d);
    CHECK(served.count(d));
  }
}
