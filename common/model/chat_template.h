// Chat messages rendered as the prompt a model continues (POST /v1/chat/completions,
// `edgesplitctl model chat`). A package may carry its own template (model.yaml `chat_template`,
// written by the Llama exporter from the checkpoint's tokenizer_config.json); without one, one
// simple documented template serves every model:
//
//   <|system|>\n{content}\n<|user|>\n{content}\n<|assistant|>\n{content}\n ... <|assistant|>\n
//
// A package template is a per-role prefix and suffix around each message's content, a `begin`
// before the first message and a `generation` string after the last (what the model continues
// after), plus the strings of the template's own text that stand for single token ids (`<s>`,
// `</s>`, `<|im_end|>`...). Message content is only ever text: a special string a user types is
// encoded as text, never as its id. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/base/status.h"
#include "common/model/tokenizer.h"

namespace edgesplit {

struct ChatMessage {
  std::string role;  // system | user | assistant
  std::string content;
};

struct ChatTemplateSpec {
  std::string begin;
  std::map<std::string, std::pair<std::string, std::string>> roles;  // role -> {prefix, suffix}
  std::string generation;
  std::map<std::string, int64_t> special;  // template text -> the token id it stands for

  bool operator==(const ChatTemplateSpec&) const = default;
};

inline constexpr size_t kMaxChatTemplateBytes = 4096;  // every string of a template together
inline constexpr size_t kMaxChatMessages = 1024;       // messages in one request

// The roles a template may name (OpenAI's; `developer` is read as `system` before rendering).
bool IsChatRole(const std::string& role);

// Structural checks of a package template: known roles, at least `user`, bounded size, no
// empty special string, ids >= 0 (the caller checks them against the vocabulary).
Status ValidateChatTemplate(const ChatTemplateSpec& t, const std::string& where);

struct ChatPrompt {
  std::string text;          // the rendered prompt (special strings included as text)
  std::vector<int64_t> ids;  // what the model sees
};

// `messages` rendered and encoded. `tmpl` null: the default template, encoded with BOS first
// when `add_bos`. A package template puts BOS where it says (its `begin` or prefixes, as
// Hugging Face's apply_chat_template does), so `add_bos` is not used; its text is cut at the
// template's special strings and each piece between them encoded on its own, the specials
// becoming their ids. A message whose role the template lacks is invalid_argument naming
// messages[i].role.
Result<ChatPrompt> EncodeChat(const Tokenizer& tok, const ChatTemplateSpec* tmpl,
                              const std::vector<ChatMessage>& messages, bool add_bos);

// The default template's text (the documented one above).
std::string RenderDefaultChat(const std::vector<ChatMessage>& messages);

}  // namespace edgesplit
