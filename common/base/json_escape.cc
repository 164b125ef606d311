#include "common/base/json_escape.h"

#include <cstdio>

#include "common/base/utf8.h"

namespace edgesplit {

std::string JsonEscape(const std::string& s) {
  std::string o;
  o.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof(b), "\\u%04x", c);
          o += b;
        } else if (c < 0x80) {
          o += static_cast<char>(c);
        } else if (size_t n = Utf8SequenceLength(s, i)) {
          o.append(s, i, n);
          i += n - 1;
        } else {
          // Bytes from a URL or a file name need not be UTF-8; JSON text must be (RFC 8259 8.1),
          // or a client's parser refuses the whole answer. One replacement character per bad byte.
          o += "\\ufffd";
        }
    }
  }
  return o;
}

std::string QuoteForError(std::string_view s) {
  constexpr size_t kMax = 64;
  if (s.size() <= kMax) return JsonQuote(std::string(s));
  size_t n = kMax;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // keep whole UTF-8 sequences
  return JsonQuote(std::string(s.substr(0, n))) + "...";
}

}  // namespace edgesplit
