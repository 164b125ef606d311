#include "common/base/sha256.h"

#include <catch.hpp>
#include <string>

using namespace edgesplit;

TEST_CASE("sha256 matches the FIPS 180-4 test vectors") {
  CHECK(Sha256Hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(Sha256Hex(two_blocks.data(), two_blocks.size()) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  CHECK(Sha256Hex(million.data(), million.size()) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256 gives the same digest however the input is chunked") {
  std::string data(10007, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  const std::string whole = Sha256Hex(data.data(), data.size());
  for (size_t chunk : {1, 3, 63, 64, 65, 1000}) {
    Sha256 s;
    for (size_t off = 0; off < data.size(); off += chunk) s.Update(data.data() + off, std::min(chunk, data.size() - off));
    CHECK(s.HexDigest() == whole);
  }
}
