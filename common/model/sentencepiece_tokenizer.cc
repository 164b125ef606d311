#include "common/model/sentencepiece_tokenizer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <sstream>

#include "common/base/sha256.h"

namespace edgesplit {
namespace {

constexpr size_t kMaxTokenizerFileBytes = size_t{64} << 20;  // real SentencePiece models are < 5 MiB

// The C interface of libes_spm_shim.so (spm_shim.cc): SentencePiece, loaded privately.
struct Shim {
  void* (*load)(const char*, size_t, char*, size_t) = nullptr;
  void (*free_model)(void*) = nullptr;
  int (*info)(void*, int*, int*, int*) = nullptr;
  int (*encode)(void*, const char*, size_t, int**, size_t*, char*, size_t) = nullptr;
  int (*decode)(void*, const int*, size_t, char**, size_t*, char*, size_t) = nullptr;
  void (*release)(void*) = nullptr;
};

// Where the shim may be: $EDGESPLIT_SPM_SHIM, next to the program, <prefix>/lib/edgesplit for an
// installed program in <prefix>/bin, then the install and build locations this binary was built for.
std::vector<std::string> ShimCandidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("EDGESPLIT_SPM_SHIM"); env && *env) out.emplace_back(env);
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string dir(exe, static_cast<size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));
    out.push_back(dir + "/libes_spm_shim.so");
    out.push_back(dir + "/../lib/edgesplit/libes_spm_shim.so");
  }
  out.emplace_back(ES_SPM_SHIM_INSTALL_PATH);
  out.emplace_back(ES_SPM_SHIM_BUILD_PATH);
  return out;
}

Result<const Shim*> LoadShim() {
  static std::once_flag once;
  static Shim shim;
  static Status status;
  std::call_once(once, [] {
    std::string tried;
    void* lib = nullptr;
    for (const auto& path : ShimCandidates()) {
      if (access(path.c_str(), R_OK) != 0) continue;
      // RTLD_LOCAL: its symbols never serve the program's libprotobuf; RTLD_DEEPBIND: its own
      // (protobuf-lite) symbols serve it before the program's.
      lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (lib) break;
      tried += std::string(tried.empty() ? "" : "; ") + path + ": " + dlerror();
    }
    if (!lib) {
      status = Unavailable("SentencePiece is not available (libes_spm_shim.so not found or not loadable" +
                           (tried.empty() ? std::string() : ": " + tried) + "; set EDGESPLIT_SPM_SHIM)");
      return;
    }
    auto sym = [&](const char* name) { return dlsym(lib, name); };
    shim.load = reinterpret_cast<decltype(shim.load)>(sym("es_spm_load"));
    shim.free_model = reinterpret_cast<decltype(shim.free_model)>(sym("es_spm_free"));
    shim.info = reinterpret_cast<decltype(shim.info)>(sym("es_spm_info"));
    shim.encode = reinterpret_cast<decltype(shim.encode)>(sym("es_spm_encode"));
    shim.decode = reinterpret_cast<decltype(shim.decode)>(sym("es_spm_decode"));
    shim.release = reinterpret_cast<decltype(shim.release)>(sym("es_spm_release"));
    if (!shim.load || !shim.free_model || !shim.info || !shim.encode || !shim.decode || !shim.release)
      status = Internal("libes_spm_shim.so lacks its entry points");
  });
  if (!status.ok()) return status;
  return &shim;
}

class SentencePieceTokenizer final : public Tokenizer {
 public:
  SentencePieceTokenizer(const Shim* shim, void* model, int64_t pieces, int64_t bos, int64_t eos)
      : shim_(shim), model_(model), pieces_(pieces), bos_(bos), eos_(eos) {}
  ~SentencePieceTokenizer() override { shim_->free_model(model_); }

  Result<std::vector<int64_t>> Encode(std::string_view text) const override {
    char err[512] = {0};
    int* ids = nullptr;
    size_t n = 0;
    if (shim_->encode(model_, text.data(), text.size(), &ids, &n, err, sizeof err) != 0)
      return InvalidArgument(std::string("tokenizer: ") + err);
    std::vector<int64_t> out(ids, ids + n);
    shim_->release(ids);
    return out;
  }

  Result<std::string> Decode(const std::vector<int64_t>& ids) const override {
    std::vector<int> in;
    in.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= pieces_)
        return InvalidArgument("tokens[" + std::to_string(i) + "]: token " + std::to_string(ids[i]) +
                               " is outside the tokenizer's vocabulary [0, " + std::to_string(pieces_) + ")");
      in.push_back(static_cast<int>(ids[i]));
    }
    char err[512] = {0};
    char* text = nullptr;
    size_t len = 0;
    if (shim_->decode(model_, in.data(), in.size(), &text, &len, err, sizeof err) != 0)
      return InvalidArgument(std::string("tokenizer: ") + err);
    std::string out(text, len);
    shim_->release(text);
    return out;
  }

  int64_t vocab_size() const override { return pieces_; }
  int64_t bos_id() const override { return bos_; }
  int64_t eos_id() const override { return eos_; }

 private:
  const Shim* shim_;
  void* model_;
  int64_t pieces_;
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
  ES_ASSIGN_OR_RETURN(const Shim* shim, LoadShim());
  char err[512] = {0};
  void* model = shim->load(bytes.data(), bytes.size(), err, sizeof err);
  if (!model) return InvalidArgument(path + ": not a SentencePiece model (" + err + ")");
  int pieces = 0, model_bos = -1, model_eos = -1;
  shim->info(model, &pieces, &model_bos, &model_eos);
  const int64_t n = pieces;
  if (n < 1) {
    shim->free_model(model);
    return InvalidArgument(path + ": the SentencePiece model has no pieces");
  }
  for (auto [name, v] : {std::pair{"bos_id", bos_id}, std::pair{"eos_id", eos_id}})
    if (v && (*v < 0 || *v >= n)) {
      shim->free_model(model);
      return InvalidArgument(std::string("tokenizer.") + name + ": " + std::to_string(*v) +
                             " is outside the tokenizer's vocabulary [0, " + std::to_string(n) + ")");
    }
  const int64_t bos = bos_id ? *bos_id : model_bos;
  const int64_t eos = eos_id ? *eos_id : model_eos;
  return std::unique_ptr<Tokenizer>(new SentencePieceTokenizer(shim, model, n, bos, eos));
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
