#include "orchestrator/daemon/state_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "orchestrator/api/json_codec.h"

namespace edgesplit::orch {

namespace json = boost::json;

std::string StateToJson(const Controller& c) {
  json::array deps;
  for (const auto& [name, d] : c.deployments()) {
    deps.push_back(json::object{{"spec", DeploymentSpecToJson(d.spec)},
                                {"epoch", d.epoch},
                                {"max_epoch", std::max(d.max_epoch, d.epoch)},
                                {"stages", StagesToJson(d.stages)}});
  }
  json::object trust;
  for (const auto& [node, trusted] : c.registry().trust().decisions()) trust[node] = trusted;
  return json::serialize(json::object{
      {"format_version", 1}, {"policy", PolicyToJson(c.policy())}, {"deployments", deps}, {"trust", trust}});
}

namespace {

// Epochs only ever grow by one; anything past 2^53 (where JSON numbers stop being exact in
// most clients) is corruption, and it keeps max_epoch + 1 far from wrapping to 0.
constexpr uint64_t kMaxEpoch = uint64_t{1} << 53;

// An optional non-negative integer key; to_number<uint64_t> would throw on -1, 2.5 or 1e300.
Result<uint64_t> GetEpoch(const json::object& o, const char* key, const std::string& where) {
  const json::value* v = o.if_contains(key);
  if (!v) return uint64_t{0};
  uint64_t x = 0;
  if (v->is_uint64()) {
    x = v->get_uint64();
  } else if (v->is_int64() && v->get_int64() >= 0) {
    x = static_cast<uint64_t>(v->get_int64());
  } else {
    return DataLoss(where + "." + key + ": must be a non-negative integer");
  }
  if (x > kMaxEpoch) return DataLoss(where + "." + key + ": " + std::to_string(x) + " is implausibly large");
  return x;
}

}  // namespace

Result<PersistedState> StateFromJson(const std::string& text, const PolicySettings& defaults) {
  auto parsed = ParseJson(text);
  if (!parsed.ok()) return DataLoss("state: " + parsed.status().message());  // e.g. a truncated file
  const json::value& v = *parsed;
  if (!v.is_object()) return DataLoss("state: not a JSON object");
  const auto& o = v.as_object();
  if (Status s = CheckKeys(o, {"format_version", "policy", "deployments", "trust"}, "state"); !s.ok())
    return DataLoss(s.message());
  const json::value* fv = o.if_contains("format_version");
  if (!fv) return DataLoss("state.format_version: missing");
  if (!fv->is_int64() || fv->get_int64() != 1) return DataLoss("state.format_version: must be 1 (the only version this build reads)");
  PersistedState st;
  st.policy = defaults;
  if (const auto* p = o.if_contains("policy")) {
    auto pol = PolicyFromJson(*p, defaults);
    if (!pol.ok()) return DataLoss("state." + pol.status().message());
    st.policy = *pol;
  }
  if (const auto* ds = o.if_contains("deployments")) {
    if (!ds->is_array()) return DataLoss("state.deployments: not an array");
    std::set<std::string> names;
    const auto& arr = ds->as_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      const std::string where = "state.deployments[" + std::to_string(i) + "]";
      if (!arr[i].is_object()) return DataLoss(where + ": not an object");
      const auto& eo = arr[i].as_object();
      if (Status s = CheckKeys(eo, {"spec", "epoch", "max_epoch", "stages"}, where); !s.ok()) return DataLoss(s.message());
      const json::value* sp = eo.if_contains("spec");
      if (!sp) return DataLoss(where + ".spec: missing");
      auto spec = DeploymentSpecFromJson(*sp);
      if (!spec.ok()) return DataLoss(where + ".spec: " + spec.status().message());
      if (!names.insert(spec->name).second)
        return DataLoss(where + ".spec.name: deployment " + QuoteForError(spec->name) + " appears twice");
      Deployment d;
      d.spec = *spec;
      ES_ASSIGN_OR_RETURN(d.epoch, GetEpoch(eo, "epoch", where));
      ES_ASSIGN_OR_RETURN(d.max_epoch, GetEpoch(eo, "max_epoch", where));
      if (const auto* s = eo.if_contains("stages")) {
        auto stages = StagesFromJson(*s);
        if (!stages.ok()) return DataLoss(where + "." + stages.status().message());
        d.stages = *stages;
      }
      st.deployments.push_back(std::move(d));
    }
  }
  // Absent in files written before trust decisions were persisted: none were made then.
  if (const auto* t = o.if_contains("trust")) {
    if (!t->is_object()) return DataLoss("state.trust: not an object");
    for (const auto& [node, v] : t->as_object()) {
      const std::string name(node);
      if (!v.is_bool()) return DataLoss("state.trust." + QuoteForError(name) + ": not a boolean");
      if (name.empty() || name.size() > kMaxTrustNameBytes) return DataLoss("state.trust: bad node name " + QuoteForError(name));
      st.trust[name] = v.get_bool();
    }
  }
  return st;
}

Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Unavailable("open " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Unavailable("write " + tmp + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return Unavailable("fsync " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Unavailable("rename " + tmp + ": " + std::strerror(errno));
  const std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Status StateStore::Save(const std::string& json_text) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Unavailable("create " + dir_ + ": " + ec.message());
  return WriteFileAtomically(path(), json_text);
}

Result<std::string> StateStore::Load() const {
  std::ifstream in(path(), std::ios::binary);
  if (!in) return NotFound("no state at " + path());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace edgesplit::orch
