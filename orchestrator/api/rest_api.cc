#include "orchestrator/api/rest_api.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/json.hpp>

#include "common/model/npy.h"
#include "orchestrator/api/http_auth.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/web/status_page.h"

namespace edgesplit::orch {

namespace json = boost::json;

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kAborted: return 409;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kDataLoss: return 500;
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

HttpResponse ErrorResponse(const Status& s) {
  return HttpResponse::Error(HttpStatusFor(s.code()), StatusCodeName(s.code()), s.message());
}

const std::vector<RouteSpec>& RestApi::Routes() {
  static const std::vector<RouteSpec> routes = {
      {"GET", "/"},
      {"GET", "/livez"},
      {"GET", "/readyz"},
      {"GET", "/metrics"},
      {"GET", "/v1/nodes"},
      {"GET", "/v1/nodes/{name}"},
      {"PUT", "/v1/nodes/{name}/trust"},
      {"GET", "/v1/models"},
      {"GET", "/v1/models/{name}"},
      {"GET", "/v1/deployments"},
      {"POST", "/v1/deployments"},
      {"GET", "/v1/deployments/{name}"},
      {"DELETE", "/v1/deployments/{name}"},
      {"POST", "/v1/deployments/{name}/reevaluate"},
      {"POST", "/v1/deployments/{name}/infer"},
      {"POST", "/v1/deployments/{name}/generate"},
      {"POST", "/v1/completions"},
      {"POST", "/v1/chat/completions"},
      {"GET", "/v1/events"},
      {"POST", "/v1/plan"},
      {"GET", "/v1/policy"},
      {"PUT", "/v1/policy"},
  };
  return routes;
}

RestApi::RestApi(RestApiOptions options, Controller* controller, const Clock* clock, InferFn infer,
                 std::function<std::string()> metrics_text, std::function<bool()> ready)
    : options_(std::move(options)),
      controller_(controller),
      clock_(clock),
      infer_(std::move(infer)),
      metrics_text_(std::move(metrics_text)),
      ready_(std::move(ready)),
      origin_(clock->Now()) {}

HttpResponse RestApi::Reject(HttpResponse r) {
  if (r.status >= 400) {
    auto v = ParseJson(r.body);
    std::string code = "error";
    if (v.ok() && v->is_object()) {
      if (auto* e = v->as_object().if_contains("error"); e && e->is_object()) {
        if (auto* c = e->as_object().if_contains("code"); c && c->is_string()) code = std::string(c->as_string());
      }
    }
    ++rejected_[code];
  }
  return r;
}

void RestApi::Handle(HttpRequest request, Responder respond) {
  bool async = false;
  HttpResponse r = Dispatch(request, respond, &async);
  if (!async) respond(Reject(std::move(r)));
}

namespace {

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

HttpResponse Json(int status, const json::value& v) { return HttpResponse::Json(status, json::serialize(v)); }

HttpResponse MethodNotAllowed(const std::string& m, const std::string& path) {
  return HttpResponse::Error(405, "method_not_allowed", m + " is not allowed on " + path);
}

bool WantsNpy(const HttpRequest& req) {
  const std::string ct = req.Header("content-type");
  return ct.find("application/x-npy") != std::string::npos || ct.find("application/octet-stream") != std::string::npos;
}

// Decimal digits only. Not std::stoull: it accepts "-1" (as 2^64 - 1), leading blanks and
// trailing junk ("5abc" is 5).
bool ParseCount(const std::string& s, uint64_t* out) {
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, *out);
  return ec == std::errc() && p == end;  // from_chars takes no sign or blank for unsigned types
}

}  // namespace

namespace {
// The live view (at "/") and the API under one token. A browser asked with Basic prompts for it
// (any user name, the token as password) and then sends it with each of the page's requests.
HttpResponse Unauthenticated(bool page) {
  HttpResponse r = HttpResponse::Error(401, "unauthenticated", "missing or wrong bearer token");
  r.headers.emplace_back("WWW-Authenticate", page ? "Basic realm=\"edgesplit\", charset=\"UTF-8\"" : "Bearer realm=\"edgesplit\"");
  return r;
}
}  // namespace

std::optional<HttpResponse> RestApi::CheckHeaders(const HttpRequest& head) const {
  const auto parts = Split(head.path);
  if (!parts.empty() && parts[0] != "v1") return std::nullopt;  // probes and /metrics: no token
  if (!options_.bearer_token.empty() && !TokenAccepted(head.Header("authorization"), options_.bearer_token))
    return Unauthenticated(parts.empty());
  const bool is_infer = parts.size() == 4 && parts[1] == "deployments" && parts[3] == "infer";
  uint64_t length = 0;
  if (!is_infer && ParseCount(head.Header("content-length"), &length) && length > options_.max_json_bytes)
    return HttpResponse::Error(413, "payload_too_large",
                               "body exceeds " + std::to_string(options_.max_json_bytes) + " bytes");
  return std::nullopt;
}

HttpResponse RestApi::Dispatch(const HttpRequest& req, const Responder& respond, bool* async) {
  const auto parts = Split(req.path);
  const std::string& m = req.method;
  const TimePoint now = clock_->Now();
  if (parts.size() == 1 && (parts[0] == "livez" || parts[0] == "readyz" || parts[0] == "metrics")) {
    if (m != "GET") return MethodNotAllowed(m, req.path);
    if (parts[0] == "livez") return Json(200, json::object{{"status", "ok"}});
    if (parts[0] == "readyz") {
      bool ok = !ready_ || ready_();
      return Json(ok ? 200 : 503, json::object{{"status", ok ? "ready" : "not_ready"}});
    }
    return HttpResponse::Text(200, metrics_text_ ? metrics_text_() : "", "text/plain; version=0.0.4; charset=utf-8");
  }
  if (parts.empty()) {
    if (!options_.bearer_token.empty() && !TokenAccepted(req.Header("authorization"), options_.bearer_token))
      return Unauthenticated(true);
    if (m != "GET") return MethodNotAllowed(m, req.path);
    HttpResponse page = HttpResponse::Text(200, StatusPageHtml(), "text/html; charset=utf-8");
    page.headers.emplace_back("Content-Security-Policy", kStatusPageCsp);
    page.headers.emplace_back("Cache-Control", "no-store");
    page.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return page;
  }
  if (parts[0] != "v1") return HttpResponse::Error(404, "not_found", "no route for " + req.path);
  if (!options_.bearer_token.empty() && !TokenAccepted(req.Header("authorization"), options_.bearer_token))
    return Unauthenticated(false);
  const bool is_infer = parts.size() == 4 && parts[1] == "deployments" && parts[3] == "infer";
  if (!is_infer && req.body.size() > options_.max_json_bytes)
    return HttpResponse::Error(413, "payload_too_large",
                               "body exceeds " + std::to_string(options_.max_json_bytes) + " bytes");
  auto body_json = [&]() -> Result<json::value> {
    if (req.body.empty()) return InvalidArgument("request body is empty; a JSON object is required");
    return ParseJson(req.body);
  };
  const std::string coll = parts.size() >= 2 ? parts[1] : "";

  if (coll == "nodes") {
    if (parts.size() == 2) {
      if (m != "GET") return MethodNotAllowed(m, req.path);
      json::array a;
      for (const auto& [n, rec] : controller_->registry().nodes()) a.push_back(NodeToJson(rec, now));
      return Json(200, json::object{{"nodes", a}});
    }
    const NodeRecord* n = controller_->registry().Find(parts[2]);
    if (parts.size() == 3) {
      if (m != "GET") return MethodNotAllowed(m, req.path);
      if (!n) return HttpResponse::Error(404, "not_found", "unknown node " + parts[2]);
      return Json(200, NodeToJson(*n, now));
    }
    if (parts.size() == 4 && parts[3] == "trust") {
      if (m != "PUT") return MethodNotAllowed(m, req.path);
      auto v = body_json();
      if (!v.ok()) return ErrorResponse(v.status());
      if (!v->is_object()) return ErrorResponse(InvalidArgument("body must be {\"trusted\": bool}"));
      if (Status s = CheckKeys(v->as_object(), {"trusted"}, "trust"); !s.ok()) return ErrorResponse(s);
      auto* t = v->as_object().if_contains("trusted");
      if (!t || !t->is_bool()) return ErrorResponse(InvalidArgument("trust.trusted: required boolean"));
      if (Status s = controller_->SetTrusted(parts[2], t->as_bool(), now); !s.ok()) return ErrorResponse(s);
      // A name not registered yet is pre-approved (or pre-revoked): the decision waits for it.
      if (const NodeRecord* rec = controller_->registry().Find(parts[2])) return Json(200, NodeToJson(*rec, now));
      return Json(200, json::object{{"name", parts[2]}, {"trusted", t->as_bool()}, {"trust_source", "api"},
                                    {"registered", false}});
    }
  } else if (coll == "models") {
    if (m != "GET") return MethodNotAllowed(m, req.path);
    if (parts.size() == 2) {
      json::array a;
      for (const auto& [n, model] : controller_->catalog().models()) a.push_back(ModelToJson(model));
      // OpenAI's list shape next to ours: clients of /v1/completions name a deployment as `model`.
      json::array data;
      const int64_t created = UnixSeconds(origin_);
      for (const auto& [n, d] : controller_->deployments()) data.push_back(OpenAiModelJson(n, created));
      return Json(200, json::object{{"models", a}, {"object", "list"}, {"data", data}});
    }
    if (parts.size() == 3) {
      const CatalogModel* model = controller_->catalog().Find(parts[2]);
      if (!model) return HttpResponse::Error(404, "not_found", "unknown model " + parts[2]);
      return Json(200, ModelToJson(*model));
    }
  } else if (coll == "deployments") {
    const Duration window = controller_->policy().slo_window;
    if (parts.size() == 2) {
      if (m == "GET") {
        json::array a;
        for (const auto& [n, d] : controller_->deployments()) a.push_back(DeploymentToJson(d, now, window));
        return Json(200, json::object{{"deployments", a}});
      }
      if (m != "POST") return MethodNotAllowed(m, req.path);
      auto v = body_json();
      if (!v.ok()) return ErrorResponse(v.status());
      auto spec = DeploymentSpecFromJson(*v);
      if (!spec.ok()) return ErrorResponse(spec.status());
      auto d = controller_->CreateDeployment(*spec, now);
      if (!d.ok()) return ErrorResponse(d.status());
      return Json(201, DeploymentToJson(**d, now, window));
    }
    if (parts.size() == 3) {
      if (m == "GET") {
        auto it = controller_->deployments().find(parts[2]);
        if (it == controller_->deployments().end())
          return HttpResponse::Error(404, "not_found", "unknown deployment " + parts[2]);
        return Json(200, DeploymentToJson(it->second, now, window));
      }
      if (m == "DELETE") {
        if (Status s = controller_->DeleteDeployment(parts[2], now); !s.ok()) return ErrorResponse(s);
        return Json(200, json::object{{"deleted", parts[2]}});
      }
      return MethodNotAllowed(m, req.path);
    }
    if (parts.size() == 4 && parts[3] == "reevaluate") {
      if (m != "POST") return MethodNotAllowed(m, req.path);
      if (Status s = controller_->Reevaluate(parts[2], now); !s.ok()) return ErrorResponse(s);
      return Json(200, DeploymentToJson(controller_->deployments().at(parts[2]), now, window));
    }
    if (is_infer) {
      if (m != "POST") return MethodNotAllowed(m, req.path);
      return Infer(req, parts[2], respond, async);
    }
    if (parts.size() == 4 && parts[3] == "generate") {
      if (m != "POST") return MethodNotAllowed(m, req.path);
      return Generate(req, parts[2], respond, async);
    }
  } else if ((coll == "completions" && parts.size() == 2) ||
             (coll == "chat" && parts.size() == 3 && parts[2] == "completions")) {
    if (m != "POST") return MethodNotAllowed(m, req.path);
    return OpenAiGenerate(req, coll == "chat" ? OpenAiKind::kChat : OpenAiKind::kCompletion, respond, async);
  } else if (coll == "events" && parts.size() == 2) {
    if (m != "GET") return MethodNotAllowed(m, req.path);
    uint64_t after = 0;
    uint64_t limit = 1000;
    std::string dep;
    if (auto it = req.query.find("after"); it != req.query.end() && !ParseCount(it->second, &after))
      return ErrorResponse(InvalidArgument("after: must be a non-negative integer"));
    if (auto it = req.query.find("limit"); it != req.query.end() && !ParseCount(it->second, &limit))
      return ErrorResponse(InvalidArgument("limit: must be a non-negative integer"));
    limit = std::min<uint64_t>(limit, 10000);
    if (auto it = req.query.find("deployment"); it != req.query.end()) dep = it->second;
    json::array a;
    for (const auto& e : controller_->events().Since(after, limit, dep)) a.push_back(EventToJson(e, origin_, options_.origin_unix_ms));
    return Json(200, json::object{{"events", a}, {"last_seq", controller_->events().last_seq()}});
  } else if (coll == "plan" && parts.size() == 2) {
    if (m != "POST") return MethodNotAllowed(m, req.path);
    auto v = body_json();
    if (!v.ok()) return ErrorResponse(v.status());
    auto spec = DeploymentSpecFromJson(*v, /*require_name=*/false);
    if (!spec.ok()) return ErrorResponse(spec.status());
    auto r = controller_->PreviewPlan(*spec);
    if (!r.ok()) return ErrorResponse(r.status());
    return Json(200, PlanResultToJsonObject(*r));
  } else if (coll == "policy" && parts.size() == 2) {
    if (m == "GET") return Json(200, PolicyToJson(controller_->policy()));
    if (m != "PUT") return MethodNotAllowed(m, req.path);
    auto v = body_json();
    if (!v.ok()) return ErrorResponse(v.status());
    auto p = PolicyFromJson(*v, controller_->policy());
    if (!p.ok()) return ErrorResponse(p.status());
    if (Status s = controller_->SetPolicy(*p); !s.ok()) return ErrorResponse(s);
    return Json(200, PolicyToJson(controller_->policy()));
  }
  return HttpResponse::Error(404, "not_found", "no route for " + req.path);
}

HttpResponse RestApi::Infer(const HttpRequest& req, const std::string& name, const Responder& respond, bool* async) {
  if (!controller_->deployments().count(name)) return HttpResponse::Error(404, "not_found", "unknown deployment " + name);
  if (req.body.size() > options_.max_tensor_bytes)
    return HttpResponse::Error(413, "payload_too_large", "tensor exceeds " + std::to_string(options_.max_tensor_bytes) + " bytes");
  const bool npy = WantsNpy(req);
  Result<HostTensor> input = InvalidArgument("empty body");
  if (npy) {
    input = DecodeNpy(req.body, options_.max_tensor_bytes);
    if (!input.ok()) return ErrorResponse(InvalidArgument("bad .npy body: " + input.status().message()));
  } else {
    if (req.body.size() > options_.max_json_tensor_bytes)
      return HttpResponse::Error(413, "payload_too_large",
                                 "JSON tensor body exceeds " + std::to_string(options_.max_json_tensor_bytes) +
                                     " bytes; send larger tensors as application/x-npy");
    auto v = ParseJson(req.body);
    if (!v.ok()) return ErrorResponse(v.status());
    input = TensorFromJson(*v, options_.max_tensor_bytes);
    if (!input.ok()) return ErrorResponse(input.status());
  }
  Duration deadline = options_.default_infer_deadline;
  if (auto it = req.query.find("deadline_ms"); it != req.query.end()) {
    // Plain decimal only (no sign, exponent, hex or spaces), at least 1 ms.
    const std::string& text = it->second;
    const bool plain = !text.empty() && text.size() <= 32 && std::isdigit(static_cast<unsigned char>(text[0])) &&
                       text.find_first_not_of("0123456789.") == std::string::npos &&
                       std::count(text.begin(), text.end(), '.') <= 1 && text.back() != '.';
    const double ms = plain ? std::strtod(text.c_str(), nullptr) : 0.0;
    if (!(ms >= 1) || ms > ToMillis(options_.max_infer_deadline))
      return ErrorResponse(InvalidArgument("deadline_ms must be a number of milliseconds in [1, " +
                                           std::to_string(static_cast<long long>(ToMillis(options_.max_infer_deadline))) + "]"));
    deadline = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
  }
  if (!infer_) return ErrorResponse(Unavailable("inference gateway not configured"));
  *async = true;
  Responder r = respond;
  infer_(name, std::move(*input), deadline, [r, npy](Result<HostTensor> out) {
    if (!out.ok()) {
      r(ErrorResponse(out.status()));
      return;
    }
    if (npy) {
      r(HttpResponse::Text(200, EncodeNpy(*out), "application/x-npy"));
    } else {
      r(HttpResponse::Json(200, json::serialize(TensorToJson(*out))));
    }
  });
  return {};
}

}  // namespace edgesplit::orch
