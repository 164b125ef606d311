// .npy (NumPy format 1.0/2.0/3.0) reading and writing for float32, float16, int64 and int32,
// little-endian, C order (bfloat16 tensors are written as float32: NumPy has no bfloat16, and
// the widening is exact). Pure over byte buffers; file helpers on top. Malformed input is
// rejected with a message saying what is wrong, before any allocation sized by the header.
#pragma once

#include <string>
#include <string_view>

#include "common/base/status.h"
#include "common/base/tensor.h"

namespace edgesplit {

inline constexpr size_t kDefaultMaxNpyBytes = size_t{1} << 30;  // 1 GiB

Result<HostTensor> DecodeNpy(std::string_view bytes, size_t max_bytes = kDefaultMaxNpyBytes);
std::string EncodeNpy(const HostTensor& t);

Result<HostTensor> ReadNpyFile(const std::string& path, size_t max_bytes = kDefaultMaxNpyBytes);
Status WriteNpyFile(const HostTensor& t, const std::string& path);

}  // namespace edgesplit
