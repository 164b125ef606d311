#include "common/http/sse.h"

#include <catch.hpp>
#include <vector>

using namespace edgesplit;

TEST_CASE("formats one data event, one data line per payload line") {
  CHECK(SseEvent("{\"a\":1}") == "data: {\"a\":1}\n\n");
  CHECK(SseEvent("x\ny") == "data: x\ndata: y\n\n");
}

TEST_CASE("parses events split anywhere across reads") {
  const std::string text = SseEvent("one") + ": comment\n\n" + "event: x\r\ndata: two\r\ndata: lines\r\n\r\n" + SseEvent("three");
  for (size_t step : {size_t{1}, size_t{2}, size_t{7}, text.size()}) {
    INFO("step " << step);
    SseParser p;
    std::vector<std::string> got;
    for (size_t i = 0; i < text.size(); i += step) {
      REQUIRE(p.Feed(std::string_view(text).substr(i, step), [&](const std::string& d) {
        got.push_back(d);
        return true;
      }));
    }
    CHECK(got == std::vector<std::string>{"one", "two\nlines", "three"});
  }
}

TEST_CASE("an oversized event or a callback refusal stops the parser") {
  SseParser small(8);
  CHECK_FALSE(small.Feed("data: 0123456789\n\n", [](const std::string&) { return true; }));
  SseParser p;
  CHECK_FALSE(p.Feed(SseEvent("a"), [](const std::string&) { return false; }));
}
