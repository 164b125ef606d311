// Escaping for strings inside JSON double quotes (RFC 8259): quotes, backslashes, control characters and
// bytes that are not UTF-8 (as \ufffd: the text stays JSON). Shared by every hand-written JSON emitter.
#pragma once

#include <string>
#include <string_view>

namespace edgesplit {

std::string JsonEscape(const std::string& s);
// "\"" + JsonEscape(s) + "\""
inline std::string JsonQuote(const std::string& s) { return "\"" + JsonEscape(s) + "\""; }
// A client-supplied value quoted for an error message: JsonQuote of at most its first 64 bytes
// (whole UTF-8 sequences), "..." when cut.
std::string QuoteForError(std::string_view s);

}  // namespace edgesplit
