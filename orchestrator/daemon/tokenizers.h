// The orchestrator's tokenizers: every catalog model whose package carries one (model.yaml's
// tokenizer key), loaded once at start-up and checked against its sha256, so a broken
// tokenizer shows in the log at start and not at a client's first request. Immutable after
// construction: Find is safe from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/base/status.h"
#include "common/model/tokenizer.h"
#include "orchestrator/cluster/model_catalog.h"

namespace edgesplit::orch {

class TokenizerSet {
 public:
  explicit TokenizerSet(const ModelCatalog& catalog);
  // The model's tokenizer; failed_precondition naming why when it has none or it failed to load.
  Result<std::shared_ptr<const Tokenizer>> Find(const std::string& model) const;

 private:
  std::map<std::string, std::shared_ptr<const Tokenizer>> loaded_;
  std::map<std::string, Status> failed_;
};

}  // namespace edgesplit::orch
