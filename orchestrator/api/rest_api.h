// The REST API under /v1 (plus /livez, /readyz, /metrics): request routing and handlers, pure
// over HttpRequest/HttpResponse and the Controller. The daemon runs it on the control io
// thread, the only thread that touches the controller. Errors are JSON
// {"error": {"code", "message"}} with a 4xx/5xx status; a refused request changes nothing.
// Thread-compatible (call Handle from the controller's thread).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/tensor.h"
#include "common/model/generation_request.h"
#include "common/http/http_server.h"
#include "orchestrator/controller/controller.h"

namespace edgesplit::orch {

struct RestApiOptions {
  std::string bearer_token;                // empty: no authentication
  size_t max_json_bytes = size_t{1} << 20; // bodies of non-inference routes
  size_t max_tensor_bytes = size_t{64} << 20;
  // JSON inference bodies: a parsed JSON number array takes ~25x its text in memory (measured:
  // 64 MB of "[0,0,...]" peaked at 1.6 GB), so JSON tensors get a much smaller limit than .npy.
  size_t max_json_tensor_bytes = size_t{4} << 20;
  Duration default_infer_deadline = std::chrono::seconds(10);
  Duration max_infer_deadline = std::chrono::seconds(120);
  int64_t origin_unix_ms = 0;  // wall time when the API was built (events' unix_ms); 0 = omit
};

using InferDone = std::function<void(Result<HostTensor>)>;
// Runs one request through a deployment (the daemon's gateway); calls `done` exactly once.
using InferFn = std::function<void(const std::string& deployment, HostTensor input, Duration deadline, InferDone done)>;

// How a generation ended, as the entry reported it (the tokens themselves arrive one by one).
struct GenerationSummary {
  std::string finish_reason;  // "length" | "stop"
  int64_t prompt_tokens = 0;
  int64_t tokens = 0;
  double ttft_ms = 0;
  double ms_per_token = 0;
  int moves = 0;            // times the session moved to another epoch
  double stall_ms_max = 0;  // largest stall of a move (ms)
  uint64_t epoch = 0;
};
// Called for every generated token in order, as it is produced; false cancels the generation.
using TokenFn = std::function<bool(int64_t index, int64_t token)>;
using GenerateDone = std::function<void(Result<GenerationSummary>)>;
// Runs one generation through a deployment (the daemon's gateway): `on_token` for each token,
// then `done` exactly once. Both may run on any thread but never concurrently, and `done`
// after the last `on_token`. A cancelled generation ends with aborted.
using GenerateFn = std::function<void(const std::string& deployment, GenerationRequest request, TokenFn on_token,
                                      GenerateDone done)>;

struct RouteSpec {
  std::string method;
  std::string pattern;  // OpenAPI style: /v1/deployments/{name}
};

// HTTP status for a Status code (invalid_argument 400, not_found 404, ...).
int HttpStatusFor(StatusCode code);
HttpResponse ErrorResponse(const Status& s);

class RestApi {
 public:
  RestApi(RestApiOptions options, Controller* controller, const Clock* clock, InferFn infer,
          std::function<std::string()> metrics_text, std::function<bool()> ready);

  void Handle(HttpRequest request, Responder respond);
  // The checks a request's header settles, for the server to run before reading the body: a
  // wrong or missing bearer token (401) and a Content-Length over the route's limit (413).
  // Reads only the options: callable from any thread.
  std::optional<HttpResponse> CheckHeaders(const HttpRequest& head) const;
  // POST /v1/deployments/{name}/generate runs through `generate` (unset: 503).
  void SetGenerate(GenerateFn generate) { generate_ = std::move(generate); }

  // Every route this API serves; docs/openapi.yaml must list exactly these.
  static const std::vector<RouteSpec>& Routes();
  // Refused requests by error code (for metrics).
  const std::map<std::string, uint64_t>& rejected() const { return rejected_; }

 private:
  HttpResponse Dispatch(const HttpRequest& req, const Responder& respond, bool* async);
  HttpResponse Infer(const HttpRequest& req, const std::string& name, const Responder& respond, bool* async);
  // rest_generate.cc
  HttpResponse Generate(const HttpRequest& req, const std::string& name, const Responder& respond, bool* async);
  HttpResponse Reject(HttpResponse r);

  RestApiOptions options_;
  Controller* controller_;
  const Clock* clock_;
  InferFn infer_;
  GenerateFn generate_;
  std::function<std::string()> metrics_text_;
  std::function<bool()> ready_;
  TimePoint origin_;
  std::map<std::string, uint64_t> rejected_;
};

}  // namespace edgesplit::orch
