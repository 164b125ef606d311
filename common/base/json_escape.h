// Escaping for strings written inside JSON double quotes (RFC 8259): quotes, backslashes and
// control characters; bytes that are not well-formed UTF-8 become \ufffd, so the text is valid
// JSON whatever the input (request paths, file names). Shared by every hand-written JSON
// emitter (REST, planner, CLI, profiles).
#pragma once

#include <string>

namespace edgesplit {

std::string JsonEscape(const std::string& s);
// "\"" + JsonEscape(s) + "\""
inline std::string JsonQuote(const std::string& s) { return "\"" + JsonEscape(s) + "\""; }

}  // namespace edgesplit
