// Text <-> token ids. `Tokenizer` is the interface the entry side (edgesplitctl, the
// orchestrator's gateway) uses; the SentencePiece adapter (sentencepiece_tokenizer.h) is the
// real one, tests may substitute a fake. Also pure helpers around it: UTF-8 validation, the
// streaming decoder that turns one token at a time into text, and stop strings.
// A Tokenizer is immutable after loading: const calls are safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace edgesplit {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Ids of `text` (valid UTF-8, checked by the caller), without BOS/EOS.
  virtual Result<std::vector<int64_t>> Encode(std::string_view text) const = 0;
  // Text of `ids`; every id must be in [0, vocab_size()) (invalid_argument otherwise). Control
  // tokens (BOS, EOS) decode to nothing.
  virtual Result<std::string> Decode(const std::vector<int64_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t bos_id() const = 0;  // -1: the model has none
  virtual int64_t eos_id() const = 0;  // -1: the model has none
};

// OK when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF). The message names `what` and the byte offset of the first bad sequence.
Status ValidateUtf8(std::string_view text, const std::string& what);

// `text` encoded for generation: BOS first when `add_bos` and the tokenizer has one.
Result<std::vector<int64_t>> EncodePrompt(const Tokenizer& tok, std::string_view text, bool add_bos);

// Turns a stream of generated ids into text deltas. Decoding each id alone is wrong twice over:
// SentencePiece drops a piece's leading space at the start of a decode, and a character split
// over byte-fallback pieces is not valid UTF-8 until its last byte arrives. So it decodes a
// short window of context plus the new ids and emits only the text beyond the context, holding
// it back while it ends in an incomplete character (the approach of Hugging Face's
// text-generation-inference). Concatenated deltas equal the text of prompt + generated minus the
// text of the prompt. Thread-compatible.
class StreamDecoder {
 public:
  // `context`: the prompt ids (their last few give the first generated piece its spacing).
  StreamDecoder(const Tokenizer* tok, const std::vector<int64_t>& context);
  // The text that `id` completes ("" while a character is incomplete, and for ids beyond the
  // tokenizer's pieces: a model's vocabulary may be padded past them).
  Result<std::string> Push(int64_t id);
  // Whatever is still held back (an incomplete character at the end of the stream).
  Result<std::string> Flush();

 private:
  const Tokenizer* tok_;
  std::vector<int64_t> ids_;
  size_t prefix_ = 0;  // ids_[prefix_, read_) decode to text already emitted (the context window)
  size_t read_ = 0;
};

// Stop strings over a stream of text deltas: text is released only once no stop string can
// start inside it; at the first stop string the stream ends and the text before it is released.
// Thread-compatible.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  // Appends `delta`; returns the text safe to emit now. After a match, stopped() is true and
  // nothing more is emitted.
  std::string Push(std::string_view delta);
  // At the end of the stream: the held-back tail (no stop string matched).
  std::string Flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  size_t longest_ = 0;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace edgesplit
