#include "common/base/json_escape.h"

#include <catch.hpp>

using namespace edgesplit;

TEST_CASE("JsonEscape escapes quotes, backslashes and control characters") {
  CHECK(JsonEscape("a\"b\\c\n\x01") == "a\\\"b\\\\c\\n\\u0001");
}

TEST_CASE("JsonEscape keeps well-formed UTF-8 as it is") {
  const std::string s = "n\xC3\xA9ud \xE2\x82\xAC \xF0\x9F\x98\x80";  // é, €, an emoji
  CHECK(JsonEscape(s) == s);
}

// Found by fuzz_rest: PUT /v1/nodes/%C2n2/trust answered an error naming the node with its raw
// bytes, which is not JSON (clients' parsers refuse invalid UTF-8).
TEST_CASE("JsonEscape replaces each byte that is not well-formed UTF-8") {
  CHECK(JsonEscape("\xC2n2") == "\\ufffdn2");                 // lead byte without continuation
  CHECK(JsonEscape("\xC0\xAF") == "\\ufffd\\ufffd");          // overlong '/'
  CHECK(JsonEscape("\xED\xA0\x80") == "\\ufffd\\ufffd\\ufffd");  // UTF-16 surrogate
  CHECK(JsonEscape("\xF4\x90\x80\x80") == "\\ufffd\\ufffd\\ufffd\\ufffd");  // above U+10FFFF
  CHECK(JsonEscape("ab\xE2\x82") == "ab\\ufffd\\ufffd");      // truncated at the end
  CHECK(JsonEscape("\xFF") == "\\ufffd");
}
