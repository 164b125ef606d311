#include "common/model/manifest.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "common/base/sha256.h"

namespace edgesplit {
namespace {

constexpr size_t kMaxManifestTensorBytes = size_t{1} << 34;  // 16 GiB: sanity bound on any activation

// The one "unknown key" rule of every map in model.yaml (a typo never passes silently).
Status OnlyKeys(const YAML::Node& n, const std::set<std::string>& keys, const std::string& where) {
  for (auto it = n.begin(); it != n.end(); ++it) {
    auto k = it->first.as<std::string>();
    if (!keys.count(k)) return InvalidArgument(where + ": unknown key '" + k + "'");
  }
  return Status::Ok();
}

Result<TensorSpec> ParseSpec(const YAML::Node& n, const std::string& where, int version,
                             const std::set<std::string>& extra = {}) {
  if (!n || !n.IsMap()) return InvalidArgument(where + ": expected a map with dtype and shape");
  for (auto it = n.begin(); it != n.end(); ++it) {
    auto k = it->first.as<std::string>();
    const bool known = k == "dtype" || k == "shape" || (k == "seq_dim" && version >= 2) || extra.count(k);
    if (!known) return InvalidArgument(where + ": unknown key '" + k + "'");
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
  if (n["seq_dim"]) {
    s.seq_dim = n["seq_dim"].as<int>();
    if (s.seq_dim < 0 || s.seq_dim >= static_cast<int>(s.shape.size()))
      return InvalidArgument(where + ".seq_dim: must index a dimension of shape");
  }
  return s;
}

Result<GenerationSpec> ParseGeneration(const YAML::Node& n) {
  const std::string where = "model.yaml: generation";
  if (!n.IsMap()) return InvalidArgument(where + ": expected a map");
  static const std::set<std::string> kKeys = {"max_context", "vocab", "step_method", "batch_step_method"};
  ES_RETURN_IF_ERROR(OnlyKeys(n, kKeys, where));
  GenerationSpec g;
  if (!n["max_context"]) return InvalidArgument(where + ".max_context: missing");
  if (!n["vocab"]) return InvalidArgument(where + ".vocab: missing");
  g.max_context = n["max_context"].as<int64_t>();
  g.vocab = n["vocab"].as<int64_t>();
  if (g.max_context < 1 || g.max_context > (int64_t{1} << 20))
    return InvalidArgument(where + ".max_context: must be in [1, 1048576]");
  if (g.vocab < 1 || g.vocab > (int64_t{1} << 24)) return InvalidArgument(where + ".vocab: must be in [1, 16777216]");
  if (n["step_method"]) g.step_method = n["step_method"].as<std::string>();
  if (g.step_method.empty()) return InvalidArgument(where + ".step_method: must not be empty");
  if (n["batch_step_method"]) g.batch_step_method = n["batch_step_method"].as<std::string>();
  return g;
}

Result<TokenizerSpec> ParseTokenizer(const YAML::Node& n) {
  const std::string where = "model.yaml: tokenizer";
  if (!n.IsMap()) return InvalidArgument(where + ": expected a map with file and sha256");
  static const std::set<std::string> kKeys = {"file", "sha256", "bos_id", "eos_id"};
  ES_RETURN_IF_ERROR(OnlyKeys(n, kKeys, where));
  TokenizerSpec t;
  if (!n["file"]) return InvalidArgument(where + ".file: missing");
  if (!n["sha256"]) return InvalidArgument(where + ".sha256: missing");
  t.file = n["file"].as<std::string>();
  t.sha256 = n["sha256"].as<std::string>();
  if (t.sha256.size() != 64 || t.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
    return InvalidArgument(where + ".sha256: expected 64 lowercase hex digits");
  for (const char* key : {"bos_id", "eos_id"}) {
    if (!n[key]) continue;
    const auto v = n[key].as<int64_t>();
    if (v < 0) return InvalidArgument(where + "." + key + ": must be a non-negative token id");
    (std::string(key) == "bos_id" ? t.bos_id : t.eos_id) = v;
  }
  return t;
}

// n[key] into *out when present; a non-string is an error naming where.key.
Status OptionalString(const YAML::Node& n, const char* key, const std::string& where, std::string* out) {
  const YAML::Node v = n[key];
  if (!v) return Status::Ok();
  if (!v.IsScalar()) return InvalidArgument(where + "." + key + ": expected a string");
  *out = v.as<std::string>();
  return Status::Ok();
}

// chat_template: {begin, roles: {role: {prefix, suffix}}, generation, special: {text: id}}.
Result<ChatTemplateSpec> ParseChatTemplate(const YAML::Node& n, int64_t vocab) {
  const std::string where = "model.yaml: chat_template";
  if (!n.IsMap()) return InvalidArgument(where + ": expected a map with roles");
  static const std::set<std::string> kKeys = {"begin", "roles", "generation", "special"};
  ES_RETURN_IF_ERROR(OnlyKeys(n, kKeys, where));
  ChatTemplateSpec t;
  ES_RETURN_IF_ERROR(OptionalString(n, "begin", where, &t.begin));
  ES_RETURN_IF_ERROR(OptionalString(n, "generation", where, &t.generation));
  const YAML::Node roles = n["roles"];
  if (!roles || !roles.IsMap()) return InvalidArgument(where + ".roles: missing (a map of role: {prefix, suffix})");
  for (auto it = roles.begin(); it != roles.end(); ++it) {
    const std::string role = it->first.as<std::string>(), rw = where + ".roles." + role;
    if (!it->second.IsMap()) return InvalidArgument(rw + ": expected {prefix, suffix}");
    ES_RETURN_IF_ERROR(OnlyKeys(it->second, {"prefix", "suffix"}, rw));
    auto& ps = t.roles[role];
    ES_RETURN_IF_ERROR(OptionalString(it->second, "prefix", rw, &ps.first));
    ES_RETURN_IF_ERROR(OptionalString(it->second, "suffix", rw, &ps.second));
  }
  if (const YAML::Node sp = n["special"]) {
    if (!sp.IsMap()) return InvalidArgument(where + ".special: expected a map of text: token id");
    for (auto it = sp.begin(); it != sp.end(); ++it) {
      const std::string text = it->first.as<std::string>();
      const auto id = it->second.as<int64_t>();
      if (id >= vocab)
        return InvalidArgument(where + ".special['" + text + "']: " + std::to_string(id) +
                               " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
      t.special[text] = id;
    }
  }
  ES_RETURN_IF_ERROR(ValidateChatTemplate(t, where));
  return t;
}

// Cross-checks of a generation package: token input, variable sequence dims, logits, state.
Status CheckGeneration(const Manifest& m) {
  const GenerationSpec& g = *m.generation;
  const std::string where = "model.yaml: generation";
  if (m.input.dtype != DType::kInt64 || m.input.shape.size() != 2 || m.input.seq_dim != 1)
    return InvalidArgument(where + ": input must be int64 token ids [batch, T] with seq_dim 1");
  if (m.input.shape[1] > g.max_context) return InvalidArgument(where + ": input length exceeds max_context");
  for (int i = 0; i < m.num_layers(); ++i) {
    const auto& l = m.layers[i];
    const std::string lw = "model.yaml: layers[" + std::to_string(i) + "]";
    if (l.output.seq_dim < 0) return InvalidArgument(lw + ".output.seq_dim: required in a generation package");
    if (l.state) {
      const TensorSpec& st = l.state->spec;
      if (st.seq_dim < 0 || st.shape[st.seq_dim] != g.max_context)
        return InvalidArgument(lw + ".state: seq_dim must mark a dimension of length max_context");
      if (l.state->bytes_per_token * static_cast<uint64_t>(g.max_context) != st.Bytes())
        return InvalidArgument(lw + ".state.bytes_per_token: does not match shape / max_context");
    }
  }
  const TensorSpec& logits = m.layers.back().output;
  if (logits.shape.back() != g.vocab || logits.seq_dim != static_cast<int>(logits.shape.size()) - 2)
    return InvalidArgument(where + ": the last layer must output logits [batch, T, vocab]");
  return Status::Ok();
}

// Leaves the map open: the caller may add keys, then closes it.
void EmitSpec(YAML::Emitter& e, const TensorSpec& s) {
  e << YAML::Flow << YAML::BeginMap << YAML::Key << "dtype" << YAML::Value << DTypeName(s.dtype)
    << YAML::Key << "shape" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (auto d : s.shape) e << d;
  e << YAML::EndSeq;
  if (s.seq_dim >= 0) e << YAML::Key << "seq_dim" << YAML::Value << s.seq_dim;
}

bool SafeRelativeFile(const std::string& f) {
  return !f.empty() && f.find('/') == std::string::npos && f != "." && f != "..";
}

}  // namespace

bool TensorSpec::Accepts(DType d, const std::vector<int64_t>& s, int64_t max_seq) const {
  if (d != dtype || s.size() != shape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (static_cast<int>(i) == seq_dim) {
      if (s[i] < 1 || s[i] > max_seq) return false;
    } else if (s[i] != shape[i]) {
      return false;
    }
  }
  return true;
}

int64_t Manifest::MaxSeq() const {
  if (generation) return generation->max_context;
  return input.seq_dim >= 0 ? input.shape[input.seq_dim] : 0;
}

uint64_t Manifest::StateBytesPerToken(int first, int end) const {
  uint64_t b = 0;
  for (int i = std::max(0, first); i < std::min(end, num_layers()); ++i)
    if (layers[i].state) b += layers[i].state->bytes_per_token;
  return b;
}

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
    static const std::set<std::string> kTop = {"name", "format_version", "family", "dtype", "input", "layers",
                                               "generation", "tokenizer", "chat_template"};
    ES_RETURN_IF_ERROR(OnlyKeys(root, kTop, "model.yaml"));
    Manifest m;
    if (!root["name"]) return InvalidArgument("model.yaml: name: missing");
    m.name = root["name"].as<std::string>();
    if (!root["format_version"]) return InvalidArgument("model.yaml: format_version: missing");
    m.format_version = root["format_version"].as<int>();
    if (m.format_version < kMinManifestFormatVersion || m.format_version > kManifestFormatVersion)
      return InvalidArgument("model.yaml: format_version " + std::to_string(m.format_version) +
                             " is not supported (this build reads " + std::to_string(kMinManifestFormatVersion) + " to " +
                             std::to_string(kManifestFormatVersion) + ")");
    const int v = m.format_version;
    if (v < 2 && root["generation"]) return InvalidArgument("model.yaml: generation: needs format_version 2");
    if (root["family"]) m.family = root["family"].as<std::string>();
    if (root["dtype"]) {
      auto dt = ParseDType(root["dtype"].as<std::string>());
      if (!dt.ok() || (*dt != DType::kFloat32 && *dt != DType::kBFloat16 && *dt != DType::kFloat16))
        return InvalidArgument("model.yaml: dtype: must be float32, bfloat16 or float16");
      m.dtype = *dt;
    }
    ES_ASSIGN_OR_RETURN(m.input, ParseSpec(root["input"], "model.yaml: input", v));
    const auto& layers = root["layers"];
    if (!layers || !layers.IsSequence() || layers.size() == 0)
      return InvalidArgument("model.yaml: layers: missing or empty");
    static const std::set<std::string> kLayer = {"name", "file", "sha256", "param_bytes", "output", "flops", "state"};
    std::set<std::string> files;
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& n = layers[i];
      const std::string where = "model.yaml: layers[" + std::to_string(i) + "]";
      if (!n.IsMap()) return InvalidArgument(where + ": expected a map");
      for (auto it = n.begin(); it != n.end(); ++it) {
        auto k = it->first.as<std::string>();
        if (!kLayer.count(k) || (k == "state" && v < 2)) return InvalidArgument(where + ": unknown key '" + k + "'");
      }
      LayerSpec l;
      for (const char* key : {"name", "file", "sha256", "param_bytes", "output"})
        if (!n[key]) return InvalidArgument(where + "." + key + ": missing");
      l.name = n["name"].as<std::string>();
      l.file = n["file"].as<std::string>();
      if (!SafeRelativeFile(l.file)) return InvalidArgument(where + ".file: must be a plain file name, got '" + l.file + "'");
      if (!files.insert(l.file).second) return InvalidArgument(where + ".file: duplicate '" + l.file + "'");
      l.sha256 = n["sha256"].as<std::string>();
      if (l.sha256.size() != 64 || l.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
        return InvalidArgument(where + ".sha256: expected 64 hex digits");
      l.param_bytes = n["param_bytes"].as<uint64_t>();
      ES_ASSIGN_OR_RETURN(l.output, ParseSpec(n["output"], where + ".output", v));
      if (n["flops"]) {
        l.flops = n["flops"].as<double>();
        if (!std::isfinite(*l.flops) || *l.flops < 0)
          return InvalidArgument(where + ".flops: expected a non-negative number");
      }
      if (n["state"]) {
        StateSpec st;
        ES_ASSIGN_OR_RETURN(st.spec, ParseSpec(n["state"], where + ".state", v, {"bytes_per_token"}));
        if (!n["state"]["bytes_per_token"]) return InvalidArgument(where + ".state.bytes_per_token: missing");
        st.bytes_per_token = n["state"]["bytes_per_token"].as<uint64_t>();
        l.state = std::move(st);
      }
      m.layers.push_back(std::move(l));
    }
    if (root["generation"]) {
      ES_ASSIGN_OR_RETURN(auto g, ParseGeneration(root["generation"]));
      m.generation = std::move(g);
      ES_RETURN_IF_ERROR(CheckGeneration(m));
    }
    if (root["tokenizer"]) {
      if (!m.generation) return InvalidArgument("model.yaml: tokenizer: only in a generation package");
      ES_ASSIGN_OR_RETURN(auto t, ParseTokenizer(root["tokenizer"]));
      if (!SafeRelativeFile(t.file))
        return InvalidArgument("model.yaml: tokenizer.file: must be a plain file name, got '" + t.file + "'");
      if (files.count(t.file)) return InvalidArgument("model.yaml: tokenizer.file: '" + t.file + "' is also a layer file");
      for (auto [key, v] : {std::pair{"bos_id", t.bos_id}, std::pair{"eos_id", t.eos_id}})
        if (v && *v >= m.generation->vocab)
          return InvalidArgument(std::string("model.yaml: tokenizer.") + key + ": " + std::to_string(*v) +
                                 " is outside the vocabulary [0, " + std::to_string(m.generation->vocab) + ")");
      m.tokenizer = std::move(t);
    }
    if (root["chat_template"]) {
      if (!m.tokenizer) return InvalidArgument("model.yaml: chat_template: only in a package with a tokenizer");
      ES_ASSIGN_OR_RETURN(auto ct, ParseChatTemplate(root["chat_template"], m.generation->vocab));
      m.chat_template = std::move(ct);
    }
    if (!m.generation) {
      for (size_t i = 0; i < m.layers.size(); ++i)
        if (m.layers[i].state)
          return InvalidArgument("model.yaml: layers[" + std::to_string(i) + "].state: only in a generation package");
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
  if (m.dtype) e << YAML::Key << "dtype" << YAML::Value << DTypeName(*m.dtype);
  e << YAML::Key << "input" << YAML::Value;
  EmitSpec(e, m.input);
  e << YAML::EndMap;
  e << YAML::Key << "layers" << YAML::Value << YAML::BeginSeq;
  for (const auto& l : m.layers) {
    e << YAML::BeginMap;
    e << YAML::Key << "name" << YAML::Value << l.name;
    e << YAML::Key << "file" << YAML::Value << l.file;
    e << YAML::Key << "sha256" << YAML::Value << l.sha256;
    e << YAML::Key << "param_bytes" << YAML::Value << l.param_bytes;
    e << YAML::Key << "output" << YAML::Value;
    EmitSpec(e, l.output);
    e << YAML::EndMap;
    if (l.flops) {
      // Whole FLOPs read best as an integer; a count beyond uint64 (or a bad one built in code)
      // stays a double, since casting it is undefined (found by fuzz_manifest).
      const double f = *l.flops;
      e << YAML::Key << "flops" << YAML::Value;
      if (f >= 0 && f < 1.8e19) e << static_cast<uint64_t>(f); else e << f;
    }
    if (l.state) {
      e << YAML::Key << "state" << YAML::Value;
      EmitSpec(e, l.state->spec);
      e << YAML::Key << "bytes_per_token" << YAML::Value << l.state->bytes_per_token << YAML::EndMap;
    }
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
  if (m.generation) {
    e << YAML::Key << "generation" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "max_context" << YAML::Value << m.generation->max_context;
    e << YAML::Key << "vocab" << YAML::Value << m.generation->vocab;
    e << YAML::Key << "step_method" << YAML::Value << m.generation->step_method;
    if (!m.generation->batch_step_method.empty())
      e << YAML::Key << "batch_step_method" << YAML::Value << m.generation->batch_step_method;
    e << YAML::EndMap;
  }
  if (m.tokenizer) {
    e << YAML::Key << "tokenizer" << YAML::Value << YAML::Flow << YAML::BeginMap;
    e << YAML::Key << "file" << YAML::Value << m.tokenizer->file;
    e << YAML::Key << "sha256" << YAML::Value << m.tokenizer->sha256;
    if (m.tokenizer->bos_id) e << YAML::Key << "bos_id" << YAML::Value << *m.tokenizer->bos_id;
    if (m.tokenizer->eos_id) e << YAML::Key << "eos_id" << YAML::Value << *m.tokenizer->eos_id;
    e << YAML::EndMap;
  }
  if (m.chat_template) {
    // Double-quoted: the strings are mostly newlines, spaces and angle brackets.
    const ChatTemplateSpec& t = *m.chat_template;
    e << YAML::Key << "chat_template" << YAML::Value << YAML::BeginMap;
    e << YAML::Key << "begin" << YAML::Value << YAML::DoubleQuoted << t.begin;
    e << YAML::Key << "roles" << YAML::Value << YAML::BeginMap;
    for (const auto& [role, ps] : t.roles) {
      e << YAML::Key << role << YAML::Value << YAML::Flow << YAML::BeginMap;
      e << YAML::Key << "prefix" << YAML::Value << YAML::DoubleQuoted << ps.first;
      e << YAML::Key << "suffix" << YAML::Value << YAML::DoubleQuoted << ps.second << YAML::EndMap;
    }
    e << YAML::EndMap;
    e << YAML::Key << "generation" << YAML::Value << YAML::DoubleQuoted << t.generation;
    if (!t.special.empty()) {
      e << YAML::Key << "special" << YAML::Value << YAML::Flow << YAML::BeginMap;
      for (const auto& [text, id] : t.special) e << YAML::Key << YAML::DoubleQuoted << text << YAML::Value << id;
      e << YAML::EndMap;
    }
    e << YAML::EndMap;
  }
  e << YAML::EndMap;
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
  if (m.tokenizer) {
    auto h = Sha256File(dir + "/" + m.tokenizer->file);
    if (!h.ok()) return NotFound("tokenizer: " + h.status().message());
    if (*h != m.tokenizer->sha256)
      return DataLoss("tokenizer: sha256 mismatch for " + m.tokenizer->file + " (manifest " +
                      m.tokenizer->sha256.substr(0, 12) + "…, file " + h->substr(0, 12) + "…)");
  }
  return Status::Ok();
}

}  // namespace edgesplit
