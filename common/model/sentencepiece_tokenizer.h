// The SentencePiece adapter of Tokenizer (Debian's libsentencepiece), and the package side of
// tokenizers: loading a package's tokenizer.model (sha256-checked against model.yaml) and
// attaching one to a package (`edgesplitctl model synth --tokenizer`). SentencePiece itself runs
// in libes_spm_shim.so (spm_shim.cc, the only SentencePiece user), loaded privately on first use
// because libsentencepiece's own protobuf copy would crash a program linking libprotobuf.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/base/status.h"
#include "common/model/manifest.h"
#include "common/model/tokenizer.h"

namespace edgesplit {

// Loads a SentencePiece model file. `bos_id`/`eos_id` override the model's own ids (a
// manifest's tokenizer.bos_id/eos_id); they must be in [0, vocab_size()).
Result<std::unique_ptr<Tokenizer>> LoadSentencePiece(const std::string& path, std::optional<int64_t> bos_id = std::nullopt,
                                                      std::optional<int64_t> eos_id = std::nullopt);

// The tokenizer of the package in `dir` (failed_precondition when its manifest has none;
// data_loss when the file does not match its sha256; invalid_argument when the tokenizer's
// vocabulary does not fit the model's).
Result<std::unique_ptr<Tokenizer>> LoadPackageTokenizer(const std::string& dir, const Manifest& m);

// Copies the SentencePiece model `model_file` into the package in `dir` as tokenizer.model and
// writes the manifest's tokenizer key (with the model's BOS/EOS ids). Refused when the package
// cannot generate or its vocabulary is smaller than the tokenizer's.
Status AttachTokenizer(const std::string& dir, const std::string& model_file);

}  // namespace edgesplit
