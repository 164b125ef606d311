#include "common/model/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <fstream>
#include <sstream>

#include "common/base/sha256.h"

namespace edgesplit {
namespace {

constexpr size_t kMaxTokenizerFileBytes = size_t{64} << 20;  // real SentencePiece models are < 5 MiB

class SentencePieceTokenizer final : public Tokenizer {
 public:
  SentencePieceTokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp, int64_t bos, int64_t eos)
      : sp_(std::move(sp)), bos_(bos), eos_(eos) {}

  Result<std::vector<int64_t>> Encode(std::string_view text) const override {
    std::vector<int> ids;
    auto s = sp_->Encode(text, &ids);
    if (!s.ok()) return InvalidArgument("tokenizer: " + s.ToString());
    return std::vector<int64_t>(ids.begin(), ids.end());
  }

  Result<std::string> Decode(const std::vector<int64_t>& ids) const override {
    std::vector<int> in;
    in.reserve(ids.size());
    const int64_t n = vocab_size();
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= n)
        return InvalidArgument("tokens[" + std::to_string(i) + "]: token " + std::to_string(ids[i]) +
                               " is outside the tokenizer's vocabulary [0, " + std::to_string(n) + ")");
      in.push_back(static_cast<int>(ids[i]));
    }
    std::string out;
    auto s = sp_->Decode(in, &out);
    if (!s.ok()) return InvalidArgument("tokenizer: " + s.ToString());
    return out;
  }

  int64_t vocab_size() const override { return sp_->GetPieceSize(); }
  int64_t bos_id() const override { return bos_; }
  int64_t eos_id() const override { return eos_; }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  int64_t bos_;
  int64_t eos_;
};

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return NotFound("cannot read " + path);
  const auto size = static_cast<size_t>(in.tellg());
  if (size > kMaxTokenizerFileBytes)
    return InvalidArgument(path + ": " + std::to_string(size) + " bytes, more than a tokenizer model may have (" +
                           std::to_string(kMaxTokenizerFileBytes) + ")");
  std::string data(size, '\0');
  in.seekg(0);
  in.read(data.data(), static_cast<std::streamsize>(size));
  if (!in) return Unavailable("read failed on " + path);
  return data;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> LoadSentencePiece(const std::string& path, std::optional<int64_t> bos_id,
                                                      std::optional<int64_t> eos_id) {
  ES_ASSIGN_OR_RETURN(std::string bytes, ReadSmallFile(path));
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  auto s = sp->LoadFromSerializedProto(bytes);
  if (!s.ok()) return InvalidArgument(path + ": not a SentencePiece model (" + s.ToString() + ")");
  const int64_t n = sp->GetPieceSize();
  if (n < 1) return InvalidArgument(path + ": the SentencePiece model has no pieces");
  for (auto [name, v] : {std::pair{"bos_id", bos_id}, std::pair{"eos_id", eos_id}})
    if (v && (*v < 0 || *v >= n))
      return InvalidArgument(std::string("tokenizer.") + name + ": " + std::to_string(*v) +
                             " is outside the tokenizer's vocabulary [0, " + std::to_string(n) + ")");
  const int64_t bos = bos_id ? *bos_id : sp->bos_id();
  const int64_t eos = eos_id ? *eos_id : sp->eos_id();
  return std::unique_ptr<Tokenizer>(new SentencePieceTokenizer(std::move(sp), bos, eos));
}

Result<std::unique_ptr<Tokenizer>> LoadPackageTokenizer(const std::string& dir, const Manifest& m) {
  if (!m.tokenizer) return FailedPrecondition("model '" + m.name + "' has no tokenizer (model.yaml has no tokenizer key)");
  const TokenizerSpec& t = *m.tokenizer;
  const std::string path = dir + "/" + t.file;
  auto h = Sha256File(path);
  if (!h.ok()) return NotFound("tokenizer: " + h.status().message());
  if (*h != t.sha256)
    return DataLoss("tokenizer: sha256 mismatch for " + t.file + " (manifest " + t.sha256.substr(0, 12) + "…, file " +
                    h->substr(0, 12) + "…)");
  ES_ASSIGN_OR_RETURN(auto tok, LoadSentencePiece(path, t.bos_id, t.eos_id));
  if (m.generation && tok->vocab_size() > m.generation->vocab)
    return InvalidArgument("tokenizer: " + std::to_string(tok->vocab_size()) + " pieces, more than the model's vocab of " +
                           std::to_string(m.generation->vocab));
  return tok;
}

Status AttachTokenizer(const std::string& dir, const std::string& model_file) {
  ES_ASSIGN_OR_RETURN(Manifest m, LoadManifest(dir));
  if (!m.generation) return FailedPrecondition("--tokenizer: the package cannot generate (no generation section)");
  ES_ASSIGN_OR_RETURN(auto tok, LoadSentencePiece(model_file));
  if (tok->vocab_size() > m.generation->vocab)
    return InvalidArgument("--tokenizer: " + model_file + " has " + std::to_string(tok->vocab_size()) +
                           " pieces, more than the model's vocab of " + std::to_string(m.generation->vocab) +
                           " (synthesise with --vocab >= " + std::to_string(tok->vocab_size()) + ")");
  ES_ASSIGN_OR_RETURN(std::string bytes, ReadSmallFile(model_file));
  const std::string dest = dir + "/" + kTokenizerFileName;
  {
    std::ofstream out(dest, std::ios::binary | std::ios::trunc);
    if (!out) return Unavailable("cannot write " + dest);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return Unavailable("write failed on " + dest);
  }
  TokenizerSpec spec;
  spec.file = kTokenizerFileName;
  spec.sha256 = Sha256Hex(bytes.data(), bytes.size());
  if (tok->bos_id() >= 0) spec.bos_id = tok->bos_id();
  if (tok->eos_id() >= 0) spec.eos_id = tok->eos_id();
  m.tokenizer = spec;
  return WriteManifest(m, dir);
}

}  // namespace edgesplit
