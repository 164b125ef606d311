// UTF-8 well-formedness (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
// Text that reaches JSON, a state file or a log must be UTF-8; bytes from a URL need not be.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace edgesplit {

// Length of the well-formed sequence starting at s[i] (1-4), or 0 when the bytes there are not one.
size_t Utf8SequenceLength(std::string_view s, size_t i);
bool IsUtf8(const std::string& s);

}  // namespace edgesplit
