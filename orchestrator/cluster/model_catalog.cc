#include "orchestrator/cluster/model_catalog.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "common/model/compute_probe_nominal.h"

namespace edgesplit::orch {

Status ModelCatalog::Add(CatalogModel model) {
  if (model.name.empty()) return InvalidArgument("model name is empty");
  if (models_.count(model.name)) return AlreadyExists("model " + model.name + " already in the catalog");
  if (static_cast<int>(model.reference_layer_ms.size()) != model.num_layers())
    return InvalidArgument("model " + model.name + ": reference profile has " +
                           std::to_string(model.reference_layer_ms.size()) + " layers, manifest " +
                           std::to_string(model.num_layers()));
  std::string name = model.name;
  models_.emplace(std::move(name), std::move(model));
  return Status::Ok();
}

const CatalogModel* ModelCatalog::Find(const std::string& name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second;
}

std::vector<double> LayerCostsOn(const CatalogModel& model, const NodeRecord& node, uint64_t min_requests,
                                 double calibration, double remembered_scale) {
  const int L = model.num_layers();
  std::vector<double> measured(L, -1.0);
  std::vector<uint64_t> measured_epoch(L, 0);
  for (const auto& s : node.profile.segments) {
    if (s.model != model.name || s.requests_total < min_requests) continue;
    if (s.end_layer - s.first_layer != static_cast<int>(s.layer_ms.size())) continue;
    for (int i = s.first_layer; i < s.end_layer && i < L; ++i) {
      if (i < 0) continue;
      double v = s.layer_ms[i - s.first_layer];
      if (v > 0 && s.epoch >= measured_epoch[i]) {
        measured[i] = v;
        measured_epoch[i] = s.epoch;
      }
    }
  }
  double meas_sum = 0, ref_sum = 0;
  for (int i = 0; i < L; ++i) {
    if (measured[i] > 0) {
      meas_sum += measured[i];
      ref_sum += model.reference_layer_ms[i];
    }
  }
  double scale = (meas_sum > 0 && ref_sum > 0) ? meas_sum / ref_sum
                 : remembered_scale > 0         ? remembered_scale
                                                : std::max(calibration, 1e-6) / std::max(SpeedFor(model, node), 1e-6);
  std::vector<double> out(L);
  for (int i = 0; i < L; ++i) out[i] = measured[i] > 0 ? measured[i] : model.reference_layer_ms[i] * scale;
  return out;
}

double MeasuredRatio(const CatalogModel& model, const NodeRecord& node, uint64_t min_requests) {
  const double scale = MeasuredScale(model, node, min_requests);
  return scale > 0 ? scale * SpeedFor(model, node) : 0.0;
}

double MeasuredScale(const CatalogModel& model, const NodeRecord& node, uint64_t min_requests) {
  double meas = 0, ref = 0;
  for (const auto& s : node.profile.segments) {
    if (s.model != model.name || s.requests_total < min_requests) continue;
    if (s.end_layer - s.first_layer != static_cast<int>(s.layer_ms.size())) continue;
    for (int i = s.first_layer; i < s.end_layer && i < model.num_layers(); ++i) {
      if (i < 0 || !(s.layer_ms[i - s.first_layer] > 0)) continue;
      meas += s.layer_ms[i - s.first_layer];
      ref += model.reference_layer_ms[i];
    }
  }
  return (meas > 0 && ref > 0) ? meas / ref : 0.0;
}

double SpeedFor(const CatalogModel& model, const NodeRecord& node) {
  const double s = node.EffectiveSpeed();
  if (node.profile.speed_factor > 0 && model.reference_probe_ms > 0) return s * model.reference_probe_ms / kComputeProbeNominalMs;
  return s;
}

std::vector<double> EstimateReferenceMs(const Manifest& m) {
  std::vector<double> out;
  for (int i = 0; i < m.num_layers(); ++i) {
    const auto& l = m.layers[i];
    if (l.flops && *l.flops > 0) {
      out.push_back(*l.flops / 2e10 * 1e3);  // ~20 GFLOP/s reference box
    } else {
      double bytes = static_cast<double>(l.param_bytes) + static_cast<double>(m.InputOf(i).Bytes() + l.output.Bytes());
      out.push_back(std::max(0.01, bytes / 2e9 * 1e3));  // ~2 GB/s effective
    }
  }
  return out;
}

Result<std::vector<double>> ParseProfileJson(const std::string& text, int num_layers, double* probe_ms) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return InvalidArgument("profile.json: not a JSON object");
  if (probe_ms) *probe_ms = 0;
  if (const auto* p = v.as_object().if_contains("probe_ms")) {
    const double d = p->is_number() ? p->to_number<double>() : -1;
    if (!(d >= 0 && d <= 3.6e6)) return InvalidArgument("profile.json: probe_ms must be a number in [0, 3.6e6]");
    if (probe_ms) *probe_ms = d;
  }
  const auto* layers = v.as_object().if_contains("layers");
  if (!layers || !layers->is_array()) return InvalidArgument("profile.json: missing key layers");
  std::vector<double> out;
  for (const auto& l : layers->as_array()) {
    const auto* ms = l.is_object() ? l.as_object().if_contains("median_ms") : nullptr;
    if (!ms || !ms->is_number()) return InvalidArgument("profile.json: layers[].median_ms missing");
    double d = ms->to_number<double>();
    // A layer time is finite and below an hour (1e400 parses as infinity; the planner needs sums).
    if (!(d >= 0 && d <= 3.6e6)) return InvalidArgument("profile.json: layers[].median_ms must be in [0, 3.6e6]");
    out.push_back(std::max(d, 1e-4));
  }
  if (static_cast<int>(out.size()) != num_layers)
    return InvalidArgument("profile.json: " + std::to_string(out.size()) + " layers, manifest has " +
                           std::to_string(num_layers));
  return out;
}

Result<ModelCatalog> LoadCatalogDir(const std::string& dir) {
  namespace fs = std::filesystem;
  ModelCatalog catalog;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound("model directory " + dir + " does not exist");
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  for (const auto& p : entries) {
    if (!fs::exists(p / kManifestFileName, ec)) continue;
    auto m = LoadManifest(p.string());
    if (!m.ok()) return Status(m.status().code(), p.string() + ": " + m.status().message());
    CatalogModel cm;
    // Agents load <models_dir>/<name>/: the package directory's name is the model's name.
    cm.name = p.filename().string();
    cm.dir = p.string();
    cm.manifest = *m;
    cm.profile_source = "estimate";
    cm.reference_layer_ms = EstimateReferenceMs(*m);
    std::ifstream in(p / "profile.json");
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      auto prof = ParseProfileJson(ss.str(), m->num_layers(), &cm.reference_probe_ms);
      if (!prof.ok()) return Status(prof.status().code(), p.string() + ": " + prof.status().message());
      cm.reference_layer_ms = *prof;
      cm.profile_source = "profile.json";
    }
    ES_RETURN_IF_ERROR(catalog.Add(std::move(cm)));
  }
  return catalog;
}

}  // namespace edgesplit::orch
