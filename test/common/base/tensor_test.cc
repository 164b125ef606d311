#include "common/base/tensor.h"

#include <catch.hpp>

using namespace edgesplit;

TEST_CASE("checked numel rejects bad shapes before anything is allocated") {
  CHECK(CheckedNumel({2, 3}, DType::kFloat32, 1 << 20).value() == 6);
  CHECK(CheckedNumel({}, DType::kFloat32, 1 << 20).value() == 1);
  CHECK(CheckedNumel({2, 0}, DType::kFloat32, 1 << 20).status().code() == StatusCode::kInvalidArgument);
  CHECK(CheckedNumel({-1}, DType::kFloat32, 1 << 20).status().code() == StatusCode::kInvalidArgument);
  CHECK(CheckedNumel({1, 1, 1, 1, 1, 1, 1, 1, 1}, DType::kFloat32, 1 << 20).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(CheckedNumel({1 << 20, 1 << 20, 1 << 20}, DType::kInt64, size_t{1} << 30).status().code() ==
        StatusCode::kResourceExhausted);
  CHECK(CheckedNumel({1024, 1024}, DType::kFloat32, 4 * 1024 * 1024 - 1).status().code() ==
        StatusCode::kResourceExhausted);
}

TEST_CASE("dtype names round-trip and unknown names are refused") {
  for (DType d : {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kInt32, DType::kBFloat16})
    CHECK(ParseDType(DTypeName(d)).value() == d);
  CHECK_FALSE(ParseDType("bfloat8").ok());
  CHECK(DTypeSize(DType::kFloat16) == 2);
  CHECK(DTypeSize(DType::kBFloat16) == 2);
  CHECK(IsKnownDTypeCode(static_cast<uint32_t>(DType::kBFloat16)));  // bf16 hidden states cross the wire
  CHECK_FALSE(IsKnownDTypeCode(6));
}

TEST_CASE("host tensors share bytes and compare by dtype, shape and content") {
  float v[4] = {1, 2, 3, 4};
  auto a = HostTensor::CopyOf(DType::kFloat32, {2, 2}, v, sizeof(v));
  auto b = a;  // shares storage
  CHECK(b.data == a.data);
  CHECK(a.SameBytes(b));
  auto c = HostTensor::CopyOf(DType::kFloat32, {4}, v, sizeof(v));
  CHECK_FALSE(a.SameBytes(c));
}
