// The REST API's one credential, the operator's token, as a client may present it: a bearer
// token (edgesplitctl, scripts) or HTTP Basic with the token as the password (browsers: the
// live view at "/" asks for it with WWW-Authenticate: Basic and the browser then sends it on
// every request of the page). Pure.
#pragma once

#include <optional>
#include <string>

namespace edgesplit::orch {

// True when `authorization` (the header's value) carries `token`: "Bearer <token>" or
// "Basic base64(<any user>:<token>)". Compared in time independent of where they differ.
bool TokenAccepted(const std::string& authorization, const std::string& token);

// RFC 4648 base64 (padding required); nullopt for anything else. Bounded by its input.
std::optional<std::string> DecodeBase64(const std::string& in);

}  // namespace edgesplit::orch
