#include "orchestrator/api/chat_template.h"

namespace edgesplit::orch {

std::string RenderChat(const std::vector<ChatMessage>& messages) {
  std::string out;
  for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "\n";
  out += "<|assistant|>\n";
  return out;
}

}  // namespace edgesplit::orch
