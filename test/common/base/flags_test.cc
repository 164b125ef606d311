#include "common/base/flags.h"

#include <catch.hpp>

using namespace edgesplit;

TEST_CASE("flags parse values, booleans and positionals and refuse unknown flags") {
  auto f = Flags::Parse({"pos", "--a", "1", "--b=2.5", "--json"}, {"a", "b"}, {"json"});
  REQUIRE(f.ok());
  CHECK(f->GetInt("a", 0).value() == 1);
  CHECK(f->GetDouble("b", 0).value() == 2.5);
  CHECK(f->GetBool("json"));
  CHECK(f->positional() == std::vector<std::string>{"pos"});
  CHECK_FALSE(Flags::Parse({"--nope"}, {"a"}).ok());
  CHECK_FALSE(Flags::Parse({"--a"}, {"a"}).ok());
  CHECK_FALSE(f->GetInt("b", 0).ok());
  CHECK(f->Required("missing").status().message() == "missing required flag --missing");
}
