#include "common/model/chat_template.h"

#include <algorithm>

namespace edgesplit {
namespace {

// The rendered prompt as runs of template text (where special strings count) and content.
struct Run {
  std::string text;
  bool from_template;
};

// Each run of template text cut at its special strings (the longest match first, so a special
// that contains another wins); content runs are glued to their neighbours as plain text.
Result<ChatPrompt> EncodeRuns(const Tokenizer& tok, const ChatTemplateSpec& t, const std::vector<Run>& runs) {
  ChatPrompt out;
  std::string pending;  // text since the last special
  auto flush = [&]() -> Status {
    if (pending.empty()) return Status::Ok();
    ES_ASSIGN_OR_RETURN(std::vector<int64_t> ids, tok.Encode(pending));
    out.ids.insert(out.ids.end(), ids.begin(), ids.end());
    pending.clear();
    return Status::Ok();
  };
  for (const Run& r : runs) {
    out.text += r.text;
    if (!r.from_template || t.special.empty()) {
      pending += r.text;
      continue;
    }
    size_t i = 0;
    while (i < r.text.size()) {
      const std::pair<const std::string, int64_t>* best = nullptr;
      for (const auto& s : t.special)
        if (r.text.compare(i, s.first.size(), s.first) == 0 && (!best || s.first.size() > best->first.size()))
          best = &s;
      if (!best) {
        pending += r.text[i++];
        continue;
      }
      ES_RETURN_IF_ERROR(flush());
      out.ids.push_back(best->second);
      i += best->first.size();
    }
  }
  ES_RETURN_IF_ERROR(flush());
  return out;
}

}  // namespace

bool IsChatRole(const std::string& role) { return role == "system" || role == "user" || role == "assistant"; }

Status ValidateChatTemplate(const ChatTemplateSpec& t, const std::string& where) {
  size_t bytes = t.begin.size() + t.generation.size();
  for (const auto& [role, ps] : t.roles) {
    if (!IsChatRole(role))
      return InvalidArgument(where + ".roles: unknown role '" + role + "' (system, user or assistant)");
    bytes += ps.first.size() + ps.second.size();
  }
  if (!t.roles.count("user")) return InvalidArgument(where + ".roles: must have a user role");
  for (const auto& [text, id] : t.special) {
    if (text.empty()) return InvalidArgument(where + ".special: an empty string cannot stand for a token");
    if (id < 0) return InvalidArgument(where + ".special['" + text + "']: must be a non-negative token id");
    bytes += text.size();
  }
  if (bytes > kMaxChatTemplateBytes)
    return InvalidArgument(where + ": " + std::to_string(bytes) + " bytes of text, at most " +
                           std::to_string(kMaxChatTemplateBytes));
  return Status::Ok();
}

std::string RenderDefaultChat(const std::vector<ChatMessage>& messages) {
  std::string out;
  for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "\n";
  out += "<|assistant|>\n";
  return out;
}

Result<ChatPrompt> EncodeChat(const Tokenizer& tok, const ChatTemplateSpec* tmpl,
                              const std::vector<ChatMessage>& messages, bool add_bos) {
  if (!tmpl) {
    ChatPrompt p;
    p.text = RenderDefaultChat(messages);
    ES_ASSIGN_OR_RETURN(p.ids, EncodePrompt(tok, p.text, add_bos));
    return p;
  }
  std::vector<Run> runs;
  runs.push_back({tmpl->begin, true});
  for (size_t i = 0; i < messages.size(); ++i) {
    auto it = tmpl->roles.find(messages[i].role);
    if (it == tmpl->roles.end())
      return InvalidArgument("messages[" + std::to_string(i) + "].role: this model's chat template has no '" +
                             messages[i].role + "' role");
    runs.push_back({it->second.first, true});
    runs.push_back({messages[i].content, false});
    runs.push_back({it->second.second, true});
  }
  runs.push_back({tmpl->generation, true});
  return EncodeRuns(tok, *tmpl, runs);
}

}  // namespace edgesplit
