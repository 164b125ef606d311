#include "orchestrator/daemon/state_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
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
  return json::serialize(json::object{{"format_version", 1}, {"policy", PolicyToJson(c.policy())}, {"deployments", deps}});
}

Result<PersistedState> StateFromJson(const std::string& text, const PolicySettings& defaults) {
  ES_ASSIGN_OR_RETURN(json::value v, ParseJson(text));
  if (!v.is_object()) return DataLoss("state: not a JSON object");
  const auto& o = v.as_object();
  PersistedState st;
  st.policy = defaults;
  if (const auto* p = o.if_contains("policy")) {
    auto pol = PolicyFromJson(*p, defaults);
    if (!pol.ok()) return DataLoss("state.policy: " + pol.status().message());
    st.policy = *pol;
  }
  if (const auto* ds = o.if_contains("deployments")) {
    if (!ds->is_array()) return DataLoss("state.deployments: not an array");
    for (const auto& e : ds->as_array()) {
      if (!e.is_object() || !e.as_object().if_contains("spec")) return DataLoss("state.deployments[]: missing spec");
      const auto& eo = e.as_object();
      auto spec = DeploymentSpecFromJson(eo.at("spec"));
      if (!spec.ok()) return DataLoss("state.deployments[].spec: " + spec.status().message());
      Deployment d;
      d.spec = *spec;
      if (const auto* ep = eo.if_contains("epoch"); ep && ep->is_number()) d.epoch = ep->to_number<uint64_t>();
      if (const auto* mx = eo.if_contains("max_epoch"); mx && mx->is_number()) d.max_epoch = mx->to_number<uint64_t>();
      if (const auto* s = eo.if_contains("stages")) {
        auto stages = StagesFromJson(*s);
        if (!stages.ok()) return DataLoss("state.deployments[].stages: " + stages.status().message());
        d.stages = *stages;
      }
      st.deployments.push_back(std::move(d));
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
