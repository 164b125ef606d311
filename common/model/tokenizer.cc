#include "common/model/tokenizer.h"

#include <algorithm>

#include "common/base/utf8.h"

namespace edgesplit {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD: what a decoder makes of a partial character

// True when `s` ends inside a multi-byte character (a prefix of a valid sequence).
bool EndsIncomplete(std::string_view s) {
  for (size_t back = 1; back <= std::min<size_t>(3, s.size()); ++back) {
    const auto c = static_cast<unsigned char>(s[s.size() - back]);
    if (c < 0x80) return false;            // ASCII: complete
    if (c >= 0xC0) {                        // a lead byte: complete only if its sequence fits
      const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      return need > back;
    }
  }
  return false;
}

}  // namespace

Status ValidateUtf8(std::string_view text, const std::string& what) {
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8SequenceLength(text, i);
    if (n == 0) return InvalidArgument(what + ": not valid UTF-8 (bad byte sequence at offset " + std::to_string(i) + ")");
    i += n;
  }
  return Status::Ok();
}

Result<std::vector<int64_t>> EncodePrompt(const Tokenizer& tok, std::string_view text, bool add_bos) {
  ES_ASSIGN_OR_RETURN(std::vector<int64_t> ids, tok.Encode(text));
  if (add_bos && tok.bos_id() >= 0) ids.insert(ids.begin(), tok.bos_id());
  return ids;
}

StreamDecoder::StreamDecoder(const Tokenizer* tok, const std::vector<int64_t>& context) : tok_(tok) {
  constexpr size_t kWindow = 4;  // enough context for the spacing of the next piece
  // Ids without text (beyond the tokenizer's pieces) give no spacing either.
  std::vector<int64_t> known;
  for (int64_t id : context)
    if (id >= 0 && id < tok_->vocab_size()) known.push_back(id);
  const size_t from = known.size() > kWindow ? known.size() - kWindow : 0;
  ids_.assign(known.begin() + static_cast<std::ptrdiff_t>(from), known.end());
  read_ = ids_.size();
}

Result<std::string> StreamDecoder::Push(int64_t id) {
  // A model may have more logits than the tokenizer has pieces (a vocabulary padded for the
  // kernels): such ids have no text.
  if (id < 0 || id >= tok_->vocab_size()) return std::string();
  ids_.push_back(id);
  const std::vector<int64_t> before(ids_.begin() + static_cast<std::ptrdiff_t>(prefix_),
                                    ids_.begin() + static_cast<std::ptrdiff_t>(read_));
  const std::vector<int64_t> after(ids_.begin() + static_cast<std::ptrdiff_t>(prefix_), ids_.end());
  ES_ASSIGN_OR_RETURN(std::string prev, tok_->Decode(before));
  ES_ASSIGN_OR_RETURN(std::string next, tok_->Decode(after));
  const bool partial = next.size() >= kReplacement.size() &&
                       next.compare(next.size() - kReplacement.size(), kReplacement.size(), kReplacement) == 0;
  if (next.size() <= prev.size() || partial || EndsIncomplete(next) || next.compare(0, prev.size(), prev) != 0)
    return std::string();
  std::string delta = next.substr(prev.size());
  prefix_ = read_;
  read_ = ids_.size();
  // Drop ids no window needs any more (keeps Push O(1) in the stream length).
  if (prefix_ > 0) {
    ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_));
    read_ -= prefix_;
    prefix_ = 0;
  }
  return delta;
}

Result<std::string> StreamDecoder::Flush() {
  if (read_ == ids_.size()) return std::string();
  const std::vector<int64_t> before(ids_.begin() + static_cast<std::ptrdiff_t>(prefix_),
                                    ids_.begin() + static_cast<std::ptrdiff_t>(read_));
  const std::vector<int64_t> after(ids_.begin() + static_cast<std::ptrdiff_t>(prefix_), ids_.end());
  ES_ASSIGN_OR_RETURN(std::string prev, tok_->Decode(before));
  ES_ASSIGN_OR_RETURN(std::string next, tok_->Decode(after));
  read_ = ids_.size();
  if (next.size() <= prev.size() || next.compare(0, prev.size(), prev) != 0) return std::string();
  return next.substr(prev.size());
}

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  stops_.erase(std::remove(stops_.begin(), stops_.end(), std::string()), stops_.end());
  for (const auto& s : stops_) longest_ = std::max(longest_, s.size());
}

std::string StopMatcher::Push(std::string_view delta) {
  if (stopped_) return std::string();
  pending_.append(delta);
  size_t first = std::string::npos;
  for (const auto& s : stops_) first = std::min(first, pending_.find(s));
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }
  // Hold back the longest tail that could still grow into a stop string. A stop string starts
  // with a lead byte, so the cut falls on a character boundary.
  size_t keep = 0;
  for (const auto& s : stops_)
    for (size_t n = std::min(s.size() - 1, pending_.size()); n > keep; --n)
      if (pending_.compare(pending_.size() - n, n, s, 0, n) == 0) {
        keep = n;
        break;
      }
  std::string out = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StopMatcher::Flush() {
  if (stopped_) return std::string();
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace edgesplit
