// SHA-256 (FIPS 180-4), used to verify model layer files. Pure, no I/O except Sha256File.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/base/status.h"

namespace edgesplit {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t len);
  std::string HexDigest();  // finalises; call once

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string Sha256Hex(const void* data, size_t len);
Result<std::string> Sha256File(const std::string& path);

}  // namespace edgesplit
