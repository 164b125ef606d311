// Zero-copy conversion between HostTensor and at::Tensor. The only bridge between the
// torch-free data plane and libtorch; included by runtime sources only.
#pragma once

#include <ATen/core/Tensor.h>

#include "common/base/tensor.h"

namespace edgesplit {

Result<at::ScalarType> ToTorchDType(DType d);
Result<DType> FromTorchDType(at::ScalarType t);

// A tensor viewing `t`'s bytes; the HostTensor's storage keeps `t` alive.
at::Tensor AsTorch(const HostTensor& t);
// A HostTensor viewing `t`'s bytes (made contiguous first); keeps `t` alive.
Result<HostTensor> FromTorch(const at::Tensor& t);

// The first non-empty line of a libtorch exception message (they carry long C++ backtraces).
std::string TorchErrorMessage(const std::exception& e);

}  // namespace edgesplit
