#include "orchestrator/api/generate_codec.h"

#include <boost/json.hpp>
#include <catch.hpp>

#include "orchestrator/api/json_codec.h"

using namespace edgesplit;
using namespace edgesplit::orch;

TEST_CASE("only prompt_tokens is required; the rest has the documented defaults") {
  auto b = GenerateBodyFromJson(*ParseJson(R"({"prompt_tokens": [0, 9223372036854775807]})"));
  REQUIRE(b.ok());
  CHECK(b->request.prompt == std::vector<int64_t>{0, INT64_MAX});
  CHECK(b->request.max_new_tokens == 16);
  CHECK(b->request.sampling.top_p == 1.0);
  CHECK_FALSE(b->stream);
}

TEST_CASE("integral doubles are not integers for token ids and counts") {
  for (const char* body : {R"({"prompt_tokens": [2.0]})", R"({"prompt_tokens": [1], "max_new_tokens": 4.0})",
                           R"({"prompt_tokens": [1], "top_k": 1e2})"}) {
    INFO(body);
    auto b = GenerateBodyFromJson(*ParseJson(body));
    REQUIRE_FALSE(b.ok());
    CHECK(b.status().message().find("must be an integer") != std::string::npos);
  }
}

TEST_CASE("stream events are the documented JSON objects") {
  CHECK(TokenEventJson(3, 42) == R"({"index": 3, "token": 42})");
  GenerateOutcome o;
  o.tokens = {1, 2};
  o.finish_reason = "stop";
  o.prompt_tokens = 5;
  o.ttft_ms = 1.5;
  o.ms_per_token = 0.5;
  o.epoch = 2;
  auto done = *ParseJson(DoneEventJson(o));
  CHECK(done.at("done").as_bool());
  CHECK(boost::json::serialize(done.at("tokens")) == "[1,2]");
  CHECK(done.at("finish_reason").as_string() == "stop");
  auto err = *ParseJson(ErrorEventJson(Unavailable("down")));
  CHECK(err.at("error").at("code").as_string() == "unavailable");
  CHECK(err.at("error").at("message").as_string() == "down");
}
