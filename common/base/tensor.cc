#include "common/base/tensor.h"

#include <cstring>
#include <limits>

namespace edgesplit {

size_t DTypeSize(DType d) {
  switch (d) {
    case DType::kFloat32: return 4;
    case DType::kFloat16: return 2;
    case DType::kInt64: return 8;
    case DType::kInt32: return 4;
    case DType::kBFloat16: return 2;
  }
  return 0;
}

const char* DTypeName(DType d) {
  switch (d) {
    case DType::kFloat32: return "float32";
    case DType::kFloat16: return "float16";
    case DType::kInt64: return "int64";
    case DType::kInt32: return "int32";
    case DType::kBFloat16: return "bfloat16";
  }
  return "unknown";
}

Result<DType> ParseDType(std::string_view name) {
  if (name == "float32") return DType::kFloat32;
  if (name == "float16") return DType::kFloat16;
  if (name == "int64") return DType::kInt64;
  if (name == "int32") return DType::kInt32;
  if (name == "bfloat16") return DType::kBFloat16;
  return InvalidArgument("unknown dtype '" + std::string(name) +
                         "' (expected float32, float16, bfloat16, int64 or int32)");
}

bool IsKnownDTypeCode(uint32_t code) { return code >= 1 && code <= 5; }

Result<size_t> CheckedNumel(const std::vector<int64_t>& shape, DType dtype, size_t max_bytes) {
  if (shape.size() > static_cast<size_t>(kMaxRank))
    return InvalidArgument("rank " + std::to_string(shape.size()) + " exceeds " + std::to_string(kMaxRank));
  size_t n = 1;
  const size_t item = DTypeSize(dtype);
  for (int64_t d : shape) {
    if (d <= 0) return InvalidArgument("non-positive dimension in shape " + ShapeToString(shape));
    if (static_cast<uint64_t>(d) > max_bytes || n > max_bytes / static_cast<size_t>(d))
      return ResourceExhausted("shape " + ShapeToString(shape) + " exceeds the size limit");
    n *= static_cast<size_t>(d);
  }
  if (n > max_bytes / item) return ResourceExhausted("shape " + ShapeToString(shape) + " exceeds the size limit");
  return n;
}

std::string ShapeToString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

size_t HostTensor::numel() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

HostTensor HostTensor::Allocate(DType dtype, std::vector<int64_t> shape) {
  HostTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.nbytes = t.numel() * DTypeSize(dtype);
  // operator new[] alignment (16) is enough for every dtype we carry.
  t.storage = std::shared_ptr<std::byte>(new std::byte[t.nbytes == 0 ? 1 : t.nbytes], std::default_delete<std::byte[]>());
  t.data = t.storage.get();
  return t;
}

HostTensor HostTensor::CopyOf(DType dtype, std::vector<int64_t> shape, const void* bytes, size_t nbytes) {
  HostTensor t = Allocate(dtype, std::move(shape));
  std::memcpy(t.data, bytes, std::min(nbytes, t.nbytes));
  return t;
}

bool HostTensor::SameBytes(const HostTensor& o) const {
  return dtype == o.dtype && shape == o.shape && nbytes == o.nbytes &&
         (nbytes == 0 || std::memcmp(data, o.data, nbytes) == 0);
}

}  // namespace edgesplit
