// Zero-copy conversion between HostTensor and torch::Tensor. The only bridge between the
// torch-free data plane and libtorch; included by runtime sources only.
#pragma once

#include <torch/torch.h>

#include "common/base/tensor.h"

namespace edgesplit {

Result<torch::ScalarType> ToTorchDType(DType d);
Result<DType> FromTorchDType(torch::ScalarType t);

// A tensor viewing `t`'s bytes; the HostTensor's storage keeps `t` alive.
torch::Tensor AsTorch(const HostTensor& t);
// A HostTensor viewing `t`'s bytes (made contiguous first); keeps `t` alive.
Result<HostTensor> FromTorch(const torch::Tensor& t);

// The first non-empty line of a libtorch exception message (they carry long C++ backtraces).
std::string TorchErrorMessage(const std::exception& e);

}  // namespace edgesplit
