#include "agent/transport/frame.h"

#include "common/proto/data.pb.h"

namespace edgesplit::transport {

const char* FrameKindName(FrameKind k) {
  switch (k) {
    case FrameKind::kUnspecified: return "unspecified";
    case FrameKind::kRequest: return "request";
    case FrameKind::kActivation: return "activation";
    case FrameKind::kResult: return "result";
    case FrameKind::kError: return "error";
    case FrameKind::kProbe: return "probe";
    case FrameKind::kProbeReply: return "probe_reply";
    case FrameKind::kGenerate: return "generate";
    case FrameKind::kStep: return "step";
    case FrameKind::kToken: return "token";
    case FrameKind::kGenDone: return "gen_done";
    case FrameKind::kSessionEnd: return "session_end";
    case FrameKind::kKvPush: return "kv_push";
    case FrameKind::kKvData: return "kv_data";
    case FrameKind::kKvReady: return "kv_ready";
  }
  return "unknown";
}

Frame Frame::WithoutTensor() const {
  Frame m = *this;
  m.tensor = {};
  m.has_tensor = false;
  return m;
}

Frame Frame::ErrorFor(const Frame& req, const Status& status, const std::string& stage) {
  Frame e;
  e.kind = FrameKind::kError;
  e.request_id = req.request_id;
  e.deployment = req.deployment;
  e.epoch = req.epoch;
  e.layer = req.layer;
  e.origin = req.origin;
  e.error_code = StatusCodeName(status.code());
  e.error = status.message();
  e.stage = stage;
  e.session_id = req.session_id;
  e.token_index = req.token_index;
  return e;
}

StatusCode StatusCodeFromName(const std::string& name) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kPermissionDenied); ++c)
    if (name == StatusCodeName(static_cast<StatusCode>(c))) return static_cast<StatusCode>(c);
  return StatusCode::kInternal;
}

Status Frame::ErrorStatus() const {
  StatusCode c = StatusCodeFromName(error_code);
  if (c == StatusCode::kOk) c = StatusCode::kInternal;
  return Status(c, error + (stage.empty() ? "" : " (at " + stage + ")"));
}

std::string EncodeFrameMeta(const Frame& f) {
  v1::FrameMeta m;
  m.set_kind(static_cast<v1::FrameKind>(f.kind));
  m.set_request_id(f.request_id);
  m.set_deployment(f.deployment);
  m.set_epoch(f.epoch);
  m.set_layer(f.layer);
  m.set_deadline_unix_ms(f.deadline_unix_ms);
  m.set_origin(f.origin);
  m.set_error_code(f.error_code);
  m.set_error(f.error);
  m.set_stage(f.stage);
  m.set_session_id(f.session_id);
  m.set_position(f.position);
  m.set_token_index(f.token_index);
  m.set_token(f.token);
  m.set_context_tokens(f.context_tokens);
  if (f.has_gen) {
    auto* g = m.mutable_gen();
    g->set_max_new_tokens(f.gen.max_new_tokens);
    g->set_temperature(f.gen.sampling.temperature);
    g->set_top_k(f.gen.sampling.top_k);
    g->set_top_p(f.gen.sampling.top_p);
    g->set_seed(f.gen.sampling.seed);
    for (int64_t t : f.gen.stop_tokens) g->add_stop_tokens(t);
  }
  m.set_finish_reason(f.finish_reason);
  m.set_prompt_tokens(f.prompt_tokens);
  m.set_ttft_ms(f.ttft_ms);
  m.set_ms_per_token(f.ms_per_token);
  m.set_moves(f.moves);
  m.set_stall_ms_max(f.stall_ms_max);
  m.set_carry_epoch(f.carry_epoch);
  m.set_kv_end(f.kv_end);
  for (const auto& st : f.carry_stages) {
    auto* r = m.add_carry_stages();
    r->set_node(st.node);
    r->set_data_address(st.address);
    r->set_first_layer(st.first_layer);
    r->set_end_layer(st.end_layer);
  }
  if (f.has_tensor) {
    m.set_dtype(static_cast<uint32_t>(f.tensor.dtype));
    for (int64_t d : f.tensor.shape) m.add_shape(d);
  }
  return m.SerializeAsString();
}

Status DecodeFrameMeta(const void* bytes, size_t len, Frame* f, uint32_t* dtype_code, std::vector<int64_t>* shape) {
  v1::FrameMeta m;
  if (!m.ParseFromArray(bytes, static_cast<int>(len))) return InvalidArgument("frame metadata does not parse");
  if (m.kind() < v1::FRAME_REQUEST || m.kind() > v1::FRAME_KV_READY)
    return InvalidArgument("unknown frame kind " + std::to_string(m.kind()));
  f->kind = static_cast<FrameKind>(m.kind());
  f->request_id = m.request_id();
  f->deployment = m.deployment();
  f->epoch = m.epoch();
  f->layer = m.layer();
  f->deadline_unix_ms = m.deadline_unix_ms();
  f->origin = m.origin();
  f->error_code = m.error_code();
  f->error = m.error();
  f->stage = m.stage();
  f->session_id = m.session_id();
  f->position = m.position();
  f->token_index = m.token_index();
  f->token = m.token();
  f->context_tokens = m.context_tokens();
  f->has_gen = m.has_gen();
  if (f->has_gen) {
    const auto& g = m.gen();
    if (g.stop_tokens_size() > static_cast<int>(kMaxStopTokens))
      return InvalidArgument("gen.stop_tokens: at most " + std::to_string(kMaxStopTokens));
    f->gen.max_new_tokens = g.max_new_tokens();
    f->gen.sampling = {g.temperature(), g.top_k(), g.top_p(), g.seed()};
    f->gen.stop_tokens.assign(g.stop_tokens().begin(), g.stop_tokens().end());
  }
  f->finish_reason = m.finish_reason();
  f->prompt_tokens = m.prompt_tokens();
  f->ttft_ms = m.ttft_ms();
  f->ms_per_token = m.ms_per_token();
  f->moves = m.moves();
  f->stall_ms_max = m.stall_ms_max();
  f->carry_epoch = m.carry_epoch();
  f->kv_end = m.kv_end();
  if (m.carry_stages_size() > static_cast<int>(kMaxCarryStages))
    return InvalidArgument("carry_stages: at most " + std::to_string(kMaxCarryStages));
  f->carry_stages.clear();
  for (const auto& r : m.carry_stages())
    f->carry_stages.push_back({r.node(), r.data_address(), r.first_layer(), r.end_layer()});
  *dtype_code = m.dtype();
  if (m.shape_size() > kMaxRank + 1) {  // cap before copying; ValidateTensorMeta reports the rank
    shape->assign(m.shape().begin(), m.shape().begin() + kMaxRank + 1);
  } else {
    shape->assign(m.shape().begin(), m.shape().end());
  }
  return Status::Ok();
}

}  // namespace edgesplit::transport
