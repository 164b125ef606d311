// Persistence of what must survive an orchestrator restart: deployments (spec, committed epoch,
// stages, highest epoch used), the policy settings and the operator's trust decisions. One JSON file, replaced atomically
// (write a temporary file, fsync, rename, fsync the directory), so a crash leaves either the
// old or the new state, never a torn one. Thread-compatible.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "orchestrator/controller/controller.h"

namespace edgesplit::orch {

struct PersistedState {
  PolicySettings policy;
  std::vector<Deployment> deployments;  // spec, epoch, stages, max_epoch only
  std::map<std::string, bool> trust;    // the operator's PUT /v1/nodes/{name}/trust decisions
};

std::string StateToJson(const Controller& c);
Result<PersistedState> StateFromJson(const std::string& text, const PolicySettings& defaults);

class StateStore {
 public:
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}
  // Creates the directory if needed.
  Status Save(const std::string& json_text);
  // not_found when no state was ever saved.
  Result<std::string> Load() const;
  std::string path() const { return dir_ + "/state.json"; }

 private:
  std::string dir_;
};

// Writes `content` to `path` atomically (temp + fsync + rename + directory fsync).
Status WriteFileAtomically(const std::string& path, const std::string& content);

}  // namespace edgesplit::orch
