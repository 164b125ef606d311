// HostTensor: a dense, contiguous, row-major tensor in host memory, independent of libtorch so the
// data plane, the npy codec and the REST gateway never include torch headers.
// The bytes are shared (not copied) between holders; the runtime wraps torch storage in them
// without copying (see agent/runtime/tensor_convert.h). Immutable after construction by convention.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace edgesplit {

// The value is the wire code (data.proto). bfloat16 carries the hidden states of bf16 packages.
enum class DType : uint8_t { kFloat32 = 1, kFloat16 = 2, kInt64 = 3, kInt32 = 4, kBFloat16 = 5 };

// Largest rank accepted anywhere (frames, npy files, manifests).
inline constexpr int kMaxRank = 8;

size_t DTypeSize(DType d);
const char* DTypeName(DType d);  // "float32", "float16", "int64", "int32", "bfloat16"
Result<DType> ParseDType(std::string_view name);
// Accepts wire codes only for known dtypes.
bool IsKnownDTypeCode(uint32_t code);

// Validates rank and dims and returns the element count; rejects overflow past `max_bytes`.
Result<size_t> CheckedNumel(const std::vector<int64_t>& shape, DType dtype, size_t max_bytes);
std::string ShapeToString(const std::vector<int64_t>& shape);  // "[1,128,512]"

struct HostTensor {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::shared_ptr<std::byte> storage;  // owns or keeps alive the bytes
  std::byte* data = nullptr;           // start of the bytes (may point inside storage)
  size_t nbytes = 0;

  size_t numel() const;
  // Allocates uninitialised bytes for dtype/shape. Caller validated the shape.
  static HostTensor Allocate(DType dtype, std::vector<int64_t> shape);
  // Copies the bytes into fresh storage.
  static HostTensor CopyOf(DType dtype, std::vector<int64_t> shape, const void* bytes, size_t nbytes);
  bool SameBytes(const HostTensor& other) const;  // dtype, shape and bytes equal
};

}  // namespace edgesplit
