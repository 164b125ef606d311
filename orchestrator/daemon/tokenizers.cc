#include "orchestrator/daemon/tokenizers.h"

#include "common/base/log.h"
#include "common/model/sentencepiece_tokenizer.h"

namespace edgesplit::orch {

TokenizerSet::TokenizerSet(const ModelCatalog& catalog) {
  for (const auto& [name, model] : catalog.models()) {
    if (!model.manifest.tokenizer) continue;
    auto t = LoadPackageTokenizer(model.dir, model.manifest);
    if (!t.ok()) {
      LogWarn("tokenizer_unusable").Kv("model", name).Kv("error", t.status().ToString());
      failed_[name] = t.status();
      continue;
    }
    LogInfo("tokenizer_loaded").Kv("model", name).Kv("vocab", (*t)->vocab_size()).Kv("bos_id", (*t)->bos_id())
        .Kv("eos_id", (*t)->eos_id());
    loaded_[name] = std::shared_ptr<const Tokenizer>(std::move(*t));
  }
}

Result<std::shared_ptr<const Tokenizer>> TokenizerSet::Find(const std::string& model) const {
  if (auto it = loaded_.find(model); it != loaded_.end()) return it->second;
  if (auto it = failed_.find(model); it != failed_.end()) return FailedPrecondition(it->second.message());
  return FailedPrecondition("its package has no tokenizer (model.yaml has no tokenizer key)");
}

}  // namespace edgesplit::orch
