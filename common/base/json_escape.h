// Escaping for strings inside JSON double quotes (RFC 8259): quotes, backslashes, control characters and
// bytes that are not UTF-8 (as \ufffd: the text stays JSON). Shared by every hand-written JSON emitter.
#pragma once

#include <string>

namespace edgesplit {

std::string JsonEscape(const std::string& s);
// "\"" + JsonEscape(s) + "\""
inline std::string JsonQuote(const std::string& s) { return "\"" + JsonEscape(s) + "\""; }

}  // namespace edgesplit
