// Model package manifest (model.yaml): the contract between exporters, agents and the planner.
// A package is a directory holding model.yaml plus one TorchScript file per layer.
// Format documented in docs/model-package.md. Pure data + YAML (de)serialisation; no torch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/base/tensor.h"

namespace edgesplit {

inline constexpr int kManifestFormatVersion = 1;
inline constexpr const char* kManifestFileName = "model.yaml";

struct TensorSpec {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  size_t Bytes() const;
  bool operator==(const TensorSpec& o) const { return dtype == o.dtype && shape == o.shape; }
};

struct LayerSpec {
  std::string name;
  std::string file;     // relative to the package directory
  std::string sha256;   // lowercase hex of the file bytes
  uint64_t param_bytes = 0;
  TensorSpec output;
  std::optional<double> flops;  // forward FLOPs for one input, where known
};

struct Manifest {
  std::string name;
  int format_version = kManifestFormatVersion;
  std::string family;  // free text, e.g. "gpt", "resnet18"
  TensorSpec input;
  std::vector<LayerSpec> layers;

  int num_layers() const { return static_cast<int>(layers.size()); }
  // Spec of the tensor entering layer i (input for 0, else output of i-1).
  const TensorSpec& InputOf(int layer) const { return layer == 0 ? input : layers[layer - 1].output; }
  uint64_t TotalParamBytes() const;
};

// Parses and validates manifest text. Errors name the offending key.
Result<Manifest> ParseManifest(const std::string& yaml_text);
// Reads <dir>/model.yaml.
Result<Manifest> LoadManifest(const std::string& dir);
// Deterministic YAML (same manifest, same bytes).
std::string ManifestToYaml(const Manifest& m);
Status WriteManifest(const Manifest& m, const std::string& dir);

// Verifies every layer file's sha256; returns the first mismatch or missing file.
Status VerifyPackage(const Manifest& m, const std::string& dir);

}  // namespace edgesplit
