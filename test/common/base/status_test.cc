#include "common/base/status.h"

#include <catch.hpp>

using namespace edgesplit;

namespace {
Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd");
  return x / 2;
}
Result<int> Quarter(int x) {
  ES_ASSIGN_OR_RETURN(int h, Half(x));
  ES_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}
}  // namespace

TEST_CASE("a result carries either a value or the error that stopped it") {
  CHECK(Quarter(8).value() == 2);
  auto r = Quarter(6);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().ToString() == "invalid_argument: odd");
}

TEST_CASE("status codes have stable snake_case names") {
  CHECK(std::string(StatusCodeName(StatusCode::kResourceExhausted)) == "resource_exhausted");
  CHECK(std::string(StatusCodeName(StatusCode::kDataLoss)) == "data_loss");
  CHECK(Status().ok());
}
