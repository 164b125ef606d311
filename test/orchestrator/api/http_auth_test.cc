#include "orchestrator/api/http_auth.h"

#include <catch.hpp>

using namespace edgesplit::orch;

TEST_CASE("base64 decodes RFC 4648 test vectors and refuses malformed input") {
  CHECK(DecodeBase64("") == std::string());
  CHECK(DecodeBase64("Zg==") == std::string("f"));
  CHECK(DecodeBase64("Zm8=") == std::string("fo"));
  CHECK(DecodeBase64("Zm9v") == std::string("foo"));
  CHECK(DecodeBase64("Zm9vYmFy") == std::string("foobar"));
  CHECK_FALSE(DecodeBase64("Zm9").has_value());       // not a multiple of 4
  CHECK_FALSE(DecodeBase64("Zm9v!A==").has_value());  // not in the alphabet
  CHECK_FALSE(DecodeBase64("Z===").has_value());      // too much padding
  CHECK_FALSE(DecodeBase64("Zg==Zm9v").has_value());  // data after padding
}

TEST_CASE("the token is accepted as Bearer or as the password of Basic, nothing else") {
  CHECK(TokenAccepted("Bearer s3cret", "s3cret"));
  CHECK(TokenAccepted("bearer s3cret", "s3cret"));
  CHECK_FALSE(TokenAccepted("Bearer s3cre", "s3cret"));
  CHECK_FALSE(TokenAccepted("Bearer s3cretX", "s3cret"));
  CHECK(TokenAccepted("Basic b3BzOnMzY3JldA==", "s3cret"));   // ops:s3cret
  CHECK(TokenAccepted("Basic OnMzY3JldA==", "s3cret"));       // empty user
  CHECK_FALSE(TokenAccepted("Basic czNjcmV0", "s3cret"));     // "s3cret": no colon, no password
  CHECK_FALSE(TokenAccepted("Basic b3BzOndyb25n", "s3cret"));  // ops:wrong
  CHECK_FALSE(TokenAccepted("Basic ???", "s3cret"));
  CHECK_FALSE(TokenAccepted("s3cret", "s3cret"));
  CHECK_FALSE(TokenAccepted("", "s3cret"));
  CHECK_FALSE(TokenAccepted("Bearer ", ""));  // no token configured: nothing to accept
}
