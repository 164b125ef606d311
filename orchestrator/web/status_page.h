// The orchestrator's live view: one self-contained HTML page (inline script and style, SVG
// drawn by hand) that polls this orchestrator's REST API. Source: status_page.html.
#pragma once

#include <string>

namespace edgesplit::orch {

const std::string& StatusPageHtml();

// Sent with the page: it may only talk to its own origin and load nothing from elsewhere (the
// page is self-contained; this makes a stray external reference fail loudly in the browser).
inline constexpr const char* kStatusPageCsp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace edgesplit::orch
