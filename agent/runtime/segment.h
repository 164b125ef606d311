// A loaded, contiguous layer range [first, end) of a model package, ready to run.
// Torch-free header (pimpl) so the agent's transport and daemon code never compile torch.
// Thread-safety: Run() may be called concurrently from several compute threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/base/tensor.h"
#include "common/model/manifest.h"

namespace edgesplit {

// What the agent's data plane needs from a segment; fakes implement it in unit tests.
class SegmentExecutor {
 public:
  virtual ~SegmentExecutor() = default;
  virtual int first_layer() const = 0;
  virtual int end_layer() const = 0;
  virtual const TensorSpec& input_spec() const = 0;
  virtual const TensorSpec& output_spec() const = 0;
  // Runs the layers in order; fills `layer_ms` (one entry per layer) when given.
  virtual Result<HostTensor> Run(const HostTensor& input, std::vector<double>* layer_ms) = 0;
};

struct SegmentOptions {
  bool verify_sha256 = true;  // hash each layer file before loading it
};

class Segment final : public SegmentExecutor {
 public:
  // Loads layers [first, end) of the package in `dir`, reading only those layer files.
  // Errors: invalid_argument (range), not_found (missing file), data_loss (sha256 mismatch or
  // unreadable TorchScript).
  static Result<std::unique_ptr<Segment>> Load(const std::string& dir, const Manifest& manifest, int first, int end,
                                               const SegmentOptions& options = {});
  ~Segment() override;

  int first_layer() const override { return first_; }
  int end_layer() const override { return end_; }
  const TensorSpec& input_spec() const override { return input_spec_; }
  const TensorSpec& output_spec() const override { return output_spec_; }
  uint64_t param_bytes() const { return param_bytes_; }

  // Rejects an input whose dtype or shape differs from the manifest (invalid_argument).
  Result<HostTensor> Run(const HostTensor& input, std::vector<double>* layer_ms) override;

 private:
  struct Impl;
  Segment(std::unique_ptr<Impl> impl, int first, int end, TensorSpec in, TensorSpec out, uint64_t params);
  std::unique_ptr<Impl> impl_;
  int first_, end_;
  TensorSpec input_spec_, output_spec_;
  uint64_t param_bytes_;
};

// Checks a tensor against a spec; the message names what differs.
Status CheckTensorMatches(const HostTensor& t, const TensorSpec& spec, const std::string& what);

// Runs a chain of segments cut at `cuts` (strictly increasing, inside (0, L)) and returns the
// final output. With no cuts, runs the whole model as one segment.
Result<HostTensor> RunChain(const std::string& dir, const Manifest& manifest, const std::vector<int>& cuts,
                            const HostTensor& input);

}  // namespace edgesplit
