// POST /v1/deployments/{name}/generate: decoding and validation on the controller's thread,
// then the generation through the GenerateFn, answered as one JSON object or streamed as
// Server-Sent Events. A stream starts with the first token, so every error before it (queue
// full, no route, the entry refusing the session) is a normal JSON error with its HTTP status.
#include <memory>

#include <boost/json.hpp>

#include "common/http/sse.h"
#include "orchestrator/api/generate_codec.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/rest_api.h"

namespace edgesplit::orch {

namespace {

// One request's state between the GenerateFn's callbacks (which never run concurrently).
class GenerateSession {
 public:
  GenerateSession(Responder respond, bool stream, int64_t max_new_tokens)
      : respond_(std::move(respond)), stream_(stream) {
    tokens_.reserve(static_cast<size_t>(max_new_tokens));  // validated against the model's context
  }

  bool OnToken(int64_t index, int64_t token) {
    tokens_.push_back(token);
    if (!stream_) return true;
    if (!writer_) writer_ = respond_.StartStream();
    // False when the client is gone or reads too slowly: that cancels the generation.
    return writer_->Write(SseEvent(TokenEventJson(index, token)));
  }

  void Done(Result<GenerationSummary> r) {
    if (!r.ok()) {
      if (!writer_) {
        respond_(ErrorResponse(r.status()));
        return;
      }
      writer_->Write(SseEvent(ErrorEventJson(r.status())));
      writer_->Close();
      return;
    }
    GenerateOutcome o;
    o.tokens = std::move(tokens_);
    o.finish_reason = r->finish_reason;
    o.prompt_tokens = r->prompt_tokens;
    o.ttft_ms = r->ttft_ms;
    o.ms_per_token = r->ms_per_token;
    o.moves = r->moves;
    o.stall_ms_max = r->stall_ms_max;
    o.epoch = r->epoch;
    if (!stream_) {
      respond_(HttpResponse::Json(200, boost::json::serialize(GenerateOutcomeToJson(o))));
      return;
    }
    if (!writer_) writer_ = respond_.StartStream();  // e.g. the first token sampled was a stop token
    writer_->Write(SseEvent(DoneEventJson(o)));
    writer_->Close();
  }

 private:
  Responder respond_;
  bool stream_;
  std::vector<int64_t> tokens_;
  std::shared_ptr<StreamWriter> writer_;
};

}  // namespace

HttpResponse RestApi::Generate(const HttpRequest& req, const std::string& name, const Responder& respond, bool* async) {
  auto it = controller_->deployments().find(name);
  if (it == controller_->deployments().end()) return HttpResponse::Error(404, "not_found", "unknown deployment " + name);
  const std::string& model_name = it->second.spec.model;
  const CatalogModel* model = controller_->catalog().Find(model_name);
  if (!model || !model->manifest.generation)
    return HttpResponse::Error(400, "failed_precondition",
                               "deployment " + name + " serves model " + model_name +
                                   ", which cannot generate (its manifest has no generation section)");
  const GenerationSpec& gen = *model->manifest.generation;
  if (req.body.empty()) return ErrorResponse(InvalidArgument("request body is empty; a JSON object is required"));
  auto v = ParseJson(req.body);
  if (!v.ok()) return ErrorResponse(v.status());
  auto body = GenerateBodyFromJson(*v);
  if (!body.ok()) return ErrorResponse(body.status());
  if (Status s = body->request.Validate(gen.vocab, gen.max_context); !s.ok()) return ErrorResponse(s);
  if (!generate_) return ErrorResponse(Unavailable("generation gateway not configured"));
  *async = true;
  auto session = std::make_shared<GenerateSession>(respond, body->stream, body->request.max_new_tokens);
  generate_(
      name, std::move(body->request), [session](int64_t i, int64_t t) { return session->OnToken(i, t); },
      [session](Result<GenerationSummary> r) { session->Done(std::move(r)); });
  return {};
}

}  // namespace edgesplit::orch
