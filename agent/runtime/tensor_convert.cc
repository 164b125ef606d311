#include "agent/runtime/tensor_convert.h"

#include <ATen/ops/from_blob.h>

namespace edgesplit {

Result<at::ScalarType> ToTorchDType(DType d) {
  switch (d) {
    case DType::kFloat32: return at::kFloat;
    case DType::kFloat16: return at::kHalf;
    case DType::kInt64: return at::kLong;
    case DType::kInt32: return at::kInt;
    case DType::kBFloat16: return at::kBFloat16;
  }
  return InvalidArgument("unknown dtype");
}

Result<DType> FromTorchDType(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return DType::kFloat32;
    case at::kHalf: return DType::kFloat16;
    case at::kLong: return DType::kInt64;
    case at::kInt: return DType::kInt32;
    case at::kBFloat16: return DType::kBFloat16;
    default: return InvalidArgument(std::string("unsupported torch dtype ") + c10::toString(t));
  }
}

at::Tensor AsTorch(const HostTensor& t) {
  auto keep = t.storage;  // the deleter holds the bytes alive for the tensor's lifetime
  return at::from_blob(
      t.data, t.shape, [keep](void*) mutable { keep.reset(); },
      at::TensorOptions().dtype(ToTorchDType(t.dtype).value()));
}

Result<HostTensor> FromTorch(const at::Tensor& in) {
  ES_ASSIGN_OR_RETURN(DType d, FromTorchDType(in.scalar_type()));
  at::Tensor t = in.contiguous();
  HostTensor h;
  h.dtype = d;
  h.shape.assign(t.sizes().begin(), t.sizes().end());
  h.nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  h.data = static_cast<std::byte*>(t.data_ptr());
  // Aliasing constructor: storage shares ownership with a heap copy of the tensor handle.
  auto holder = std::make_shared<at::Tensor>(t);
  h.storage = std::shared_ptr<std::byte>(holder, h.data);
  return h;
}

std::string TorchErrorMessage(const std::exception& e) {
  std::string_view w = e.what();
  while (!w.empty()) {
    size_t nl = w.find('\n');
    std::string_view line = w.substr(0, nl);
    if (line.find_first_not_of(" \t") != std::string_view::npos) return std::string(line);
    if (nl == std::string_view::npos) break;
    w.remove_prefix(nl + 1);
  }
  return "unknown libtorch error";
}

}  // namespace edgesplit
