// The chat template of POST /v1/chat/completions: messages rendered as one prompt text. One
// simple documented template (docs/orchestrator.md), the same for every model:
//
//   <|system|>\n{content}\n<|user|>\n{content}\n<|assistant|>\n{content}\n ... <|assistant|>\n
//
// i.e. each message as its role tag on a line, its content, a newline; then the assistant tag
// the model continues after. Pure.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/api/openai_codec.h"

namespace edgesplit::orch {

std::string RenderChat(const std::vector<ChatMessage>& messages);

}  // namespace edgesplit::orch
