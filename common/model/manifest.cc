#include "common/model/manifest.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "common/base/sha256.h"

namespace edgesplit {
namespace {

constexpr size_t kMaxManifestTensorBytes = size_t{1} << 34;  // 16 GiB: sanity bound on any activation

Result<TensorSpec> ParseSpec(const YAML::Node& n, const std::string& where) {
  if (!n || !n.IsMap()) return InvalidArgument(where + ": expected a map with dtype and shape");
  for (auto it = n.begin(); it != n.end(); ++it) {
    auto k = it->first.as<std::string>();
    if (k != "dtype" && k != "shape") return InvalidArgument(where + ": unknown key '" + k + "'");
  }
  if (!n["dtype"]) return InvalidArgument(where + ".dtype: missing");
  if (!n["shape"] || !n["shape"].IsSequence()) return InvalidArgument(where + ".shape: missing or not a list");
  TensorSpec s;
  auto dt = ParseDType(n["dtype"].as<std::string>());
  if (!dt.ok()) return InvalidArgument(where + ".dtype: " + dt.status().message());
  s.dtype = *dt;
  for (const auto& d : n["shape"]) s.shape.push_back(d.as<int64_t>());
  if (s.shape.empty()) return InvalidArgument(where + ".shape: empty");
  auto numel = CheckedNumel(s.shape, s.dtype, kMaxManifestTensorBytes);
  if (!numel.ok()) return InvalidArgument(where + ".shape: " + numel.status().message());
  return s;
}

void EmitSpec(YAML::Emitter& e, const TensorSpec& s) {
  e << YAML::Flow << YAML::BeginMap << YAML::Key << "dtype" << YAML::Value << DTypeName(s.dtype)
    << YAML::Key << "shape" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (auto d : s.shape) e << d;
  e << YAML::EndSeq << YAML::EndMap;
}

bool SafeRelativeFile(const std::string& f) {
  return !f.empty() && f.find('/') == std::string::npos && f != "." && f != "..";
}

}  // namespace

size_t TensorSpec::Bytes() const {
  size_t n = DTypeSize(dtype);
  for (auto d : shape) n *= static_cast<size_t>(d);
  return n;
}

uint64_t Manifest::TotalParamBytes() const {
  uint64_t t = 0;
  for (const auto& l : layers) t += l.param_bytes;
  return t;
}

Result<Manifest> ParseManifest(const std::string& text) {
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return InvalidArgument("model.yaml: expected a map at the top level");
    static const std::set<std::string> kTop = {"name", "format_version", "family", "input", "layers"};
    for (auto it = root.begin(); it != root.end(); ++it) {
      auto k = it->first.as<std::string>();
      if (!kTop.count(k)) return InvalidArgument("model.yaml: unknown key '" + k + "'");
    }
    Manifest m;
    if (!root["name"]) return InvalidArgument("model.yaml: name: missing");
    m.name = root["name"].as<std::string>();
    if (!root["format_version"]) return InvalidArgument("model.yaml: format_version: missing");
    m.format_version = root["format_version"].as<int>();
    if (m.format_version != kManifestFormatVersion)
      return InvalidArgument("model.yaml: format_version " + std::to_string(m.format_version) +
                             " is not supported (this build reads " + std::to_string(kManifestFormatVersion) + ")");
    if (root["family"]) m.family = root["family"].as<std::string>();
    ES_ASSIGN_OR_RETURN(m.input, ParseSpec(root["input"], "model.yaml: input"));
    const auto& layers = root["layers"];
    if (!layers || !layers.IsSequence() || layers.size() == 0)
      return InvalidArgument("model.yaml: layers: missing or empty");
    static const std::set<std::string> kLayer = {"name", "file", "sha256", "param_bytes", "output", "flops"};
    std::set<std::string> files;
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& n = layers[i];
      const std::string where = "model.yaml: layers[" + std::to_string(i) + "]";
      if (!n.IsMap()) return InvalidArgument(where + ": expected a map");
      for (auto it = n.begin(); it != n.end(); ++it) {
        auto k = it->first.as<std::string>();
        if (!kLayer.count(k)) return InvalidArgument(where + ": unknown key '" + k + "'");
      }
      LayerSpec l;
      for (const char* key : {"name", "file", "sha256", "param_bytes", "output"})
        if (!n[key]) return InvalidArgument(where + "." + key + ": missing");
      l.name = n["name"].as<std::string>();
      l.file = n["file"].as<std::string>();
      if (!SafeRelativeFile(l.file)) return InvalidArgument(where + ".file: must be a plain file name, got '" + l.file + "'");
      if (!files.insert(l.file).second) return InvalidArgument(where + ".file: duplicate '" + l.file + "'");
      l.sha256 = n["sha256"].as<std::string>();
      if (l.sha256.size() != 64) return InvalidArgument(where + ".sha256: expected 64 hex digits");
      l.param_bytes = n["param_bytes"].as<uint64_t>();
      ES_ASSIGN_OR_RETURN(l.output, ParseSpec(n["output"], where + ".output"));
      if (n["flops"]) l.flops = n["flops"].as<double>();
      m.layers.push_back(std::move(l));
    }
    return m;
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("model.yaml: ") + e.what());
  }
}

Result<Manifest> LoadManifest(const std::string& dir) {
  const std::string path = dir + "/" + kManifestFileName;
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseManifest(ss.str());
}

std::string ManifestToYaml(const Manifest& m) {
  YAML::Emitter e;
  e << YAML::BeginMap;
  e << YAML::Key << "name" << YAML::Value << m.name;
  e << YAML::Key << "format_version" << YAML::Value << m.format_version;
  if (!m.family.empty()) e << YAML::Key << "family" << YAML::Value << m.family;
  e << YAML::Key << "input" << YAML::Value;
  EmitSpec(e, m.input);
  e << YAML::Key << "layers" << YAML::Value << YAML::BeginSeq;
  for (const auto& l : m.layers) {
    e << YAML::BeginMap;
    e << YAML::Key << "name" << YAML::Value << l.name;
    e << YAML::Key << "file" << YAML::Value << l.file;
    e << YAML::Key << "sha256" << YAML::Value << l.sha256;
    e << YAML::Key << "param_bytes" << YAML::Value << l.param_bytes;
    e << YAML::Key << "output" << YAML::Value;
    EmitSpec(e, l.output);
    if (l.flops) e << YAML::Key << "flops" << YAML::Value << static_cast<uint64_t>(*l.flops);
    e << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

Status WriteManifest(const Manifest& m, const std::string& dir) {
  const std::string path = dir + "/" + kManifestFileName;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Unavailable("cannot write " + tmp);
    out << ManifestToYaml(m);
    if (!out) return Unavailable("write failed on " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Unavailable("cannot rename " + tmp);
  return Status::Ok();
}

Status VerifyPackage(const Manifest& m, const std::string& dir) {
  for (int i = 0; i < m.num_layers(); ++i) {
    const auto& l = m.layers[i];
    auto h = Sha256File(dir + "/" + l.file);
    if (!h.ok()) return NotFound("layer " + std::to_string(i) + " (" + l.name + "): " + h.status().message());
    if (*h != l.sha256)
      return DataLoss("layer " + std::to_string(i) + " (" + l.name + "): sha256 mismatch for " + l.file +
                      " (manifest " + l.sha256.substr(0, 12) + "…, file " + h->substr(0, 12) + "…)");
  }
  return Status::Ok();
}

}  // namespace edgesplit
