// ModelCatalog: the model packages the orchestrator may deploy, with a reference per-layer cost
// profile. Per-node layer costs come from the agents' measurements when present, else from the
// reference profile scaled by the node's speed (see LayerCostsOn).
// LoadCatalogDir is the file-system adapter; everything else is pure. Thread-compatible.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/model/manifest.h"
#include "orchestrator/cluster/node.h"

namespace edgesplit::orch {

struct CatalogModel {
  std::string name;
  std::string dir;  // package directory
  Manifest manifest;
  std::vector<double> reference_layer_ms;  // one per layer, on the reference box
  std::string profile_source;              // "profile.json" | "estimate"
  // The compute probe's time where the reference was profiled (profile.json `probe_ms`); 0:
  // unknown, speed 1 is the probe's nominal time (common/model/compute_probe_nominal.h).
  double reference_probe_ms = 0;

  int num_layers() const { return manifest.num_layers(); }
  uint64_t InputBytes() const { return manifest.input.Bytes(); }
  uint64_t OutputBytes(int layer) const { return manifest.layers[layer].output.Bytes(); }
};

class ModelCatalog {
 public:
  // Errors: already_exists, invalid_argument (profile length differs from layer count).
  Status Add(CatalogModel model);
  const CatalogModel* Find(const std::string& name) const;
  const std::map<std::string, CatalogModel>& models() const { return models_; }

 private:
  std::map<std::string, CatalogModel> models_;
};

// Cost of each layer of `model` on `node`: layers the node measured (any deployment, any epoch,
// the newest report) use the measurement; the others use the reference scaled by the ratio of
// measured to reference time on the measured layers, or else by the node's effective speed.
// Segments that served fewer than `min_requests` requests are not trusted yet (TorchScript's
// first runs are slow warm-up runs).
// `calibration` scales the reference for nodes with no trusted measurement: the ratio of measured
// to reference time a speed-1 node shows on this site (see MeasuredRatio), so measured and
// unmeasured nodes are compared on the same footing.
// `remembered_scale` (> 0) stands in for the measured ratio when the node has no trusted
// segment now: the ratio it showed on its previous segments (see MeasuredScale), kept while its
// compute probe has not changed since — a busy node's probe cannot run, so right after a
// reconfiguration its speed figure may predate a slowdown its layers had measured.
std::vector<double> LayerCostsOn(const CatalogModel& model, const NodeRecord& node, uint64_t min_requests = 20,
                                 double calibration = 1.0, double remembered_scale = 0);
// Measured/reference time ratio of `node`'s trusted segments of `model`, or 0 without any.
double MeasuredScale(const CatalogModel& model, const NodeRecord& node, uint64_t min_requests = 20);
// Measured/reference time ratio of `node` normalised to speed 1, or 0 without measurements.
double MeasuredRatio(const CatalogModel& model, const NodeRecord& node, uint64_t min_requests = 20);

// Reference profile when no profile.json exists: proportional to FLOPs when the manifest has
// them, else to parameter bytes plus activation bytes (a memory-bound estimate).
std::vector<double> EstimateReferenceMs(const Manifest& m);

// A node's speed relative to the machine `model`'s reference was profiled on: its measured
// speed factor rescaled by the reference's probe time (1 when it has not measured one).
double SpeedFor(const CatalogModel& model, const NodeRecord& node);

// Parses the JSON of `edgesplitctl model profile --json` into per-layer medians, and its
// optional `probe_ms` into *probe_ms (0 when absent).
Result<std::vector<double>> ParseProfileJson(const std::string& text, int num_layers, double* probe_ms = nullptr);

// Adapter: every subdirectory of `dir` holding a model.yaml becomes a model named after the
// directory (agents load <models_dir>/<name>/); `<package>/profile.json` supplies the reference profile when present.
Result<ModelCatalog> LoadCatalogDir(const std::string& dir);

}  // namespace edgesplit::orch
