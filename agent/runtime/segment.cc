#include "agent/runtime/segment.h"

#include <c10/core/InferenceMode.h>
#include <torch/script.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "agent/runtime/tensor_convert.h"
#include "common/base/sha256.h"

namespace edgesplit {

struct Segment::Impl {
  std::vector<torch::jit::Module> layers;
};

Segment::Segment(std::unique_ptr<Impl> impl, int first, int end, TensorSpec in, TensorSpec out, uint64_t params)
    : impl_(std::move(impl)), first_(first), end_(end), input_spec_(std::move(in)), output_spec_(std::move(out)),
      param_bytes_(params) {}

Segment::~Segment() = default;

Status CheckTensorMatches(const HostTensor& t, const TensorSpec& spec, const std::string& what) {
  if (t.dtype != spec.dtype)
    return InvalidArgument(what + ": dtype " + DTypeName(t.dtype) + " does not match expected " + DTypeName(spec.dtype));
  if (t.shape != spec.shape)
    return InvalidArgument(what + ": shape " + ShapeToString(t.shape) + " does not match expected " +
                           ShapeToString(spec.shape));
  if (t.nbytes != spec.Bytes()) return InvalidArgument(what + ": byte count does not match shape");
  return Status::Ok();
}

Result<std::unique_ptr<Segment>> Segment::Load(const std::string& dir, const Manifest& m, int first, int end,
                                               const SegmentOptions& options) {
  if (first < 0 || end > m.num_layers() || first >= end)
    return InvalidArgument("layer range [" + std::to_string(first) + ", " + std::to_string(end) +
                           ") is outside model '" + m.name + "' with " + std::to_string(m.num_layers()) + " layers");
  auto impl = std::make_unique<Impl>();
  uint64_t params = 0;
  for (int i = first; i < end; ++i) {
    const auto& l = m.layers[i];
    const std::string path = dir + "/" + l.file;
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound("layer " + std::to_string(i) + " (" + l.name + "): cannot open " + path);
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string bytes = buf.str();
    if (options.verify_sha256) {
      const std::string h = Sha256Hex(bytes.data(), bytes.size());
      if (h != l.sha256)
        return DataLoss("layer " + std::to_string(i) + " (" + l.name + "): sha256 mismatch for " + path +
                        " (file is corrupt or does not belong to this manifest)");
    }
    try {
      std::istringstream is(bytes);
      torch::jit::Module mod = torch::jit::load(is, torch::kCPU);
      mod.eval();
      impl->layers.push_back(std::move(mod));
    } catch (const std::exception& e) {
      return DataLoss("layer " + std::to_string(i) + " (" + l.name +
                      "): not a loadable TorchScript file: " + TorchErrorMessage(e));
    }
    params += l.param_bytes;
  }
  return std::unique_ptr<Segment>(
      new Segment(std::move(impl), first, end, m.InputOf(first), m.layers[end - 1].output, params));
}

Result<HostTensor> Segment::Run(const HostTensor& input, std::vector<double>* layer_ms) {
  ES_RETURN_IF_ERROR(CheckTensorMatches(input, input_spec_, "input to layer " + std::to_string(first_)));
  if (layer_ms) layer_ms->assign(impl_->layers.size(), 0.0);
  try {
    c10::InferenceMode guard;
    at::Tensor x = AsTorch(input);
    for (size_t i = 0; i < impl_->layers.size(); ++i) {
      auto t0 = std::chrono::steady_clock::now();
      x = impl_->layers[i].forward({x}).toTensor();
      if (layer_ms)
        (*layer_ms)[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    ES_ASSIGN_OR_RETURN(HostTensor out, FromTorch(x));
    ES_RETURN_IF_ERROR(CheckTensorMatches(out, output_spec_, "output of layer " + std::to_string(end_ - 1)));
    return out;
  } catch (const std::exception& e) {
    return Internal("segment [" + std::to_string(first_) + "," + std::to_string(end_) +
                    ") failed: " + TorchErrorMessage(e));
  }
}

Result<HostTensor> RunChain(const std::string& dir, const Manifest& m, const std::vector<int>& cuts,
                            const HostTensor& input) {
  std::vector<int> bounds = {0};
  for (int c : cuts) {
    if (c <= bounds.back() || c >= m.num_layers())
      return InvalidArgument("cuts must be strictly increasing layer indices inside (0, " +
                             std::to_string(m.num_layers()) + "), got " + std::to_string(c));
    bounds.push_back(c);
  }
  bounds.push_back(m.num_layers());
  HostTensor x = input;
  for (size_t s = 0; s + 1 < bounds.size(); ++s) {
    ES_ASSIGN_OR_RETURN(auto seg, Segment::Load(dir, m, bounds[s], bounds[s + 1]));
    ES_ASSIGN_OR_RETURN(x, seg->Run(x, nullptr));
  }
  return x;
}

}  // namespace edgesplit
