#include "common/model/npy.h"

#include <catch.hpp>
#include <cstring>

using namespace edgesplit;

TEST_CASE("npy round-trips every supported dtype with 64-byte aligned data") {
  for (DType d : {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kInt32}) {
    auto t = HostTensor::Allocate(d, {2, 3, 5});
    for (size_t i = 0; i < t.nbytes; ++i) t.data[i] = static_cast<std::byte>(i * 7);
    std::string bytes = EncodeNpy(t);
    CHECK((bytes.size() - t.nbytes) % 64 == 0);
    auto back = DecodeNpy(bytes);
    REQUIRE(back.ok());
    CHECK(back->SameBytes(t));
  }
  auto one = HostTensor::Allocate(DType::kInt32, {4});
  std::memset(one.data, 0, one.nbytes);
  CHECK(EncodeNpy(one).find("'shape': (4,)") != std::string::npos);
}

TEST_CASE("malformed npy input is rejected with a reason") {
  auto t = HostTensor::Allocate(DType::kFloat32, {4, 4});
  std::memset(t.data, 0, t.nbytes);
  const std::string good = EncodeNpy(t);
  auto err = [](const std::string& b) { return DecodeNpy(b).status().message(); };
  CHECK(err("hello world").find("bad magic") != std::string::npos);
  CHECK(err(good.substr(0, good.size() - 5)).find("truncated data") != std::string::npos);
  CHECK(err(good.substr(0, 40)).find("truncated header") != std::string::npos);
  CHECK(err(good + "xx").find("trailing bytes") != std::string::npos);
  std::string f8 = good;
  f8.replace(f8.find("<f4"), 3, "<f8");
  CHECK(err(f8).find("unsupported dtype '<f8'") != std::string::npos);
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  CHECK(err(fortran).find("fortran_order") != std::string::npos);
  std::string huge = good;
  huge.replace(huge.find("(4, 4)"), 6, "(99999999, 99999999)");
  CHECK(DecodeNpy(huge, 1 << 20).status().code() == StatusCode::kResourceExhausted);
}

TEST_CASE("a bfloat16 tensor is written as float32 with the same values") {
  auto t = HostTensor::Allocate(DType::kBFloat16, {3});
  const uint16_t bits[3] = {0x3f80, 0xc040, 0x0000};  // 1.0, -3.0, 0.0
  std::memcpy(t.data, bits, sizeof(bits));
  auto back = DecodeNpy(EncodeNpy(t));
  REQUIRE(back.ok());
  REQUIRE(back->dtype == DType::kFloat32);
  const float* f = reinterpret_cast<const float*>(back->data);
  CHECK(f[0] == 1.0f);
  CHECK(f[1] == -3.0f);
  CHECK(f[2] == 0.0f);
}
