#include "agent/runtime/gpt_synth.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>
#include <torch/csrc/jit/api/module.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/runtime/tensor_convert.h"
#include "common/base/sha256.h"
#include "common/model/manifest.h"

namespace edgesplit {
namespace {

// Scaled normal init (GPT-2 style) from one seeded generator, so weights depend only on options.
at::Tensor Init(at::Generator& gen, std::vector<int64_t> shape, double std) {
  auto t = at::empty(shape, at::kFloat);
  t.normal_(0.0, std, gen);
  return t;
}

uint64_t ParamBytes(const torch::jit::Module& m) {
  uint64_t n = 0;
  for (const auto& p : m.parameters()) n += static_cast<uint64_t>(p.numel()) * p.element_size();
  return n;
}

std::string EmbedSource() {
  return R"JIT(
def forward(self, ids):
    pos = self.wpe[:ids.size(1)]
    return torch.embedding(self.wte, ids) + pos.unsqueeze(0)

def step(self, ids, cache, pos: int):
    p = self.wpe[pos:pos + ids.size(1)]
    return torch.embedding(self.wte, ids) + p.unsqueeze(0)

def step_batch(self, ids, caches: List[Tensor], positions: List[int]):
    p = self.wpe.index_select(0, torch.tensor(positions))
    return torch.embedding(self.wte, ids) + p.unsqueeze(1)
)JIT";
}

// LayerNorm of `x` over the last dimension, computed in float32 and cast back to x's dtype:
// libtorch 1.13's bf16 layer_norm is unvectorised, 0.4 ms per 128-row call against 0.05 in
// float32 — a fifth of a bf16 block's prefill (as the Llama modules' RMSNorm, it upcasts). For
// float32 packages .float() and .to() return x itself: unchanged.
std::string LayerNormF32(const std::string& x, const std::string& w, const std::string& b, int d_model) {
  return "torch.layer_norm(" + x + ".float(), [" + std::to_string(d_model) + "], self." + w + ".float(), self." + b +
         ".float(), 1e-5).to(" + x + ".dtype)";
}

std::string BlockSource(int d_model, int heads) {
  std::ostringstream s;
  const int hd = d_model / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // forward (whole sequence), step (new positions against the cache) and step_batch (one
  // position of several sessions) share the projections and the MLP; only attention differs.
  s << R"JIT(
def heads_qkv(self, x, T: int) -> Tuple[Tensor, Tensor, Tensor]:
    B = x.size(0)
    h = )JIT" << LayerNormF32("x", "ln1_w", "ln1_b", d_model) << R"JIT(
    qkv = torch.linear(h, self.attn_w, self.attn_b)
    q = qkv[:, :, 0:)JIT" << d_model << R"JIT(].reshape(B, T, )JIT" << heads << ", " << hd << R"JIT().transpose(1, 2)
    k = qkv[:, :, )JIT" << d_model << ":" << 2 * d_model << R"JIT(].reshape(B, T, )JIT" << heads << ", " << hd << R"JIT().transpose(1, 2)
    v = qkv[:, :, )JIT" << 2 * d_model << ":" << 3 * d_model << R"JIT(].reshape(B, T, )JIT" << heads << ", " << hd << R"JIT().transpose(1, 2)
    return q, k, v

def finish(self, x, y, T: int):
    y = y.transpose(1, 2).reshape(x.size(0), T, )JIT" << d_model << R"JIT()
    x = x + torch.linear(y, self.proj_w, self.proj_b)
    h2 = )JIT" << LayerNormF32("x", "ln2_w", "ln2_b", d_model) << R"JIT(
    m = torch.gelu(torch.linear(h2, self.fc_w, self.fc_b))
    return x + torch.linear(m, self.fc2_w, self.fc2_b)

def forward(self, x):
    T = x.size(1)
    q, k, v = self.heads_qkv(x, T)
    att = torch.matmul(q, k.transpose(-2, -1)) * )JIT" << scale << R"JIT(
    mask = torch.ones([T, T]).triu(1) > 0.5
    att = att.masked_fill(mask, -10000.0)
    att = torch.softmax(att.float(), -1).to(q.dtype)
    return self.finish(x, torch.matmul(att, v), T)

def step(self, x, cache, pos: int):
    T = x.size(1)
    q, k, v = self.heads_qkv(x, T)
    kc = cache[0]
    vc = cache[1]
    kc.narrow(2, pos, T).copy_(k)
    vc.narrow(2, pos, T).copy_(v)
    att = torch.matmul(q, kc.narrow(2, 0, pos + T).transpose(-2, -1)) * )JIT" << scale << R"JIT(
    if T > 1:
        mask = torch.ones([T, pos + T]).triu(pos + 1) > 0.5
        att = att.masked_fill(mask, -10000.0)
    att = torch.softmax(att.float(), -1).to(q.dtype)
    return self.finish(x, torch.matmul(att, vc.narrow(2, 0, pos + T)), T)

def step_batch(self, x, caches: List[Tensor], positions: List[int]):
    q, k, v = self.heads_qkv(x, 1)
    ys: List[Tensor] = []
    for b in range(x.size(0)):
        pos = positions[b]
        kc = caches[b][0]
        vc = caches[b][1]
        kc.narrow(2, pos, 1).copy_(k[b:b + 1])
        vc.narrow(2, pos, 1).copy_(v[b:b + 1])
        att = torch.matmul(q[b:b + 1], kc.narrow(2, 0, pos + 1).transpose(-2, -1)) * )JIT" << scale << R"JIT(
        att = torch.softmax(att.float(), -1).to(q.dtype)
        ys.append(torch.matmul(att, vc.narrow(2, 0, pos + 1)))
    return self.finish(x, torch.cat(ys, 0), 1)
)JIT";
  return s.str();
}

std::string HeadSource(int d_model) {
  std::ostringstream s;
  s << R"JIT(
def forward(self, x):
    h = )JIT" << LayerNormF32("x", "lnf_w", "lnf_b", d_model) << R"JIT(
    return torch.linear(h, self.head_w).float()

def step(self, x, cache, pos: int):
    return self.forward(x)

def step_batch(self, x, caches: List[Tensor], positions: List[int]):
    return self.forward(x)
)JIT";
  return s.str();
}

}  // namespace

Status GptSynthOptions::Validate() const {
  std::string errs;
  if (name.empty()) errs += "name must not be empty; ";
  if (layers < 0 || layers > 512) errs += "--layers must be in [0, 512]; ";
  if (d_model <= 0 || d_model > 16384) errs += "--d-model must be in [1, 16384]; ";
  if (heads <= 0 || (d_model > 0 && d_model % heads != 0)) errs += "--heads must divide --d-model; ";
  if (vocab <= 0 || vocab > 1000000) errs += "--vocab must be in [1, 1000000]; ";
  if (dtype != DType::kFloat32 && dtype != DType::kBFloat16)
    errs += "--dtype must be float32 or bfloat16 (libtorch has no float16 CPU kernels for this model); ";
  if (seq <= 0 || seq > 65536) errs += "--seq must be in [1, 65536]; ";
  if (batch <= 0 || batch > 4096) errs += "batch must be in [1, 4096]; ";
  if (max_context <= 0 || max_context > 65536) errs += "--max-context must be in [1, 65536]; ";
  else if (seq > max_context) errs += "--seq must not exceed --max-context; ";
  if (!errs.empty()) return InvalidArgument(errs.substr(0, errs.size() - 2));
  return Status::Ok();
}

Status SynthesizeGpt(const GptSynthOptions& o, const std::string& out_dir) {
  ES_RETURN_IF_ERROR(o.Validate());
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Unavailable("cannot create " + out_dir + ": " + ec.message());
  try {
    c10::InferenceMode guard;
    auto gen = at::detail::createCPUGenerator(o.seed);
    const int64_t D = o.d_model, V = o.vocab, S = o.seq, Bt = o.batch, C = o.max_context, H = o.heads;
    const double std_w = 0.02, std_proj = 0.02 / std::sqrt(2.0 * std::max(1, o.layers));

    Manifest m;
    m.name = o.name;
    m.family = "gpt";
    const DType dt = o.dtype;
    const at::ScalarType st = dt == DType::kBFloat16 ? at::kBFloat16 : at::kFloat;
    if (dt != DType::kFloat32) m.dtype = dt;  // float32 manifests keep their old key set
    // Weights drawn in float32 (same draws for every dtype), then rounded to the package dtype.
    auto P = [&](at::Tensor t) { return t.to(st); };
    m.input = {DType::kInt64, {Bt, S}, 1};
    m.generation = GenerationSpec{C, V, "step", "step_batch"};
    const TensorSpec hidden{dt, {Bt, S, D}, 1};
    // A block's KV cache: keys and values [2, batch, heads, context, head_dim].
    StateSpec kv{TensorSpec{dt, {2, Bt, H, C, D / H}, 3}, static_cast<uint64_t>(2 * Bt * D * DTypeSize(dt))};

    auto save = [&](torch::jit::Module& mod, const std::string& lname, const TensorSpec& out, double flops,
                    std::optional<StateSpec> state = std::nullopt) -> Status {
      char file_buf[32];
      std::snprintf(file_buf, sizeof(file_buf), "layer_%03zu.pt", m.layers.size());
      const std::string file = file_buf;
      std::ostringstream bytes;
      mod.save(bytes);
      const std::string data = bytes.str();
      std::ofstream f(out_dir + "/" + file, std::ios::binary | std::ios::trunc);
      if (!f) return Unavailable("cannot write " + out_dir + "/" + file);
      f.write(data.data(), static_cast<std::streamsize>(data.size()));
      if (!f) return Unavailable("write failed on " + out_dir + "/" + file);
      LayerSpec l;
      l.name = lname;
      l.file = file;
      l.sha256 = Sha256Hex(data.data(), data.size());
      l.param_bytes = ParamBytes(mod);
      l.output = out;
      l.flops = flops;
      l.state = std::move(state);
      m.layers.push_back(std::move(l));
      return Status::Ok();
    };

    {
      torch::jit::Module emb("edgesplit.GptEmbedding");
      emb.register_parameter("wte", P(Init(gen, {V, D}, std_w)), false);
      emb.register_parameter("wpe", P(Init(gen, {C, D}, 0.01)), false);
      emb.define(EmbedSource());
      emb.eval();
      ES_RETURN_IF_ERROR(save(emb, "embed", hidden, static_cast<double>(Bt * S * D)));
    }
    for (int b = 0; b < o.layers; ++b) {
      torch::jit::Module blk("edgesplit.GptBlock");
      blk.register_parameter("ln1_w", P(at::ones({D})), false);
      blk.register_parameter("ln1_b", P(at::zeros({D})), false);
      blk.register_parameter("attn_w", P(Init(gen, {3 * D, D}, std_w)), false);
      blk.register_parameter("attn_b", P(at::zeros({3 * D})), false);
      blk.register_parameter("proj_w", P(Init(gen, {D, D}, std_proj)), false);
      blk.register_parameter("proj_b", P(at::zeros({D})), false);
      blk.register_parameter("ln2_w", P(at::ones({D})), false);
      blk.register_parameter("ln2_b", P(at::zeros({D})), false);
      blk.register_parameter("fc_w", P(Init(gen, {4 * D, D}, std_w)), false);
      blk.register_parameter("fc_b", P(at::zeros({4 * D})), false);
      blk.register_parameter("fc2_w", P(Init(gen, {D, 4 * D}, std_proj)), false);
      blk.register_parameter("fc2_b", P(at::zeros({D})), false);
      blk.define(BlockSource(o.d_model, o.heads));
      blk.eval();
      // 2·S·(3D² + D² + 8D²) for the projections plus 2·2·S²·D for attention, per batch item.
      const double flops = static_cast<double>(Bt) * (2.0 * S * 12.0 * D * D + 4.0 * S * S * D);
      ES_RETURN_IF_ERROR(save(blk, "block_" + std::to_string(b), hidden, flops, kv));
    }
    {
      torch::jit::Module head("edgesplit.GptHead");
      head.register_parameter("lnf_w", P(at::ones({D})), false);
      head.register_parameter("lnf_b", P(at::zeros({D})), false);
      head.register_parameter("head_w", P(Init(gen, {V, D}, std_w)), false);
      head.define(HeadSource(o.d_model));
      head.eval();
      ES_RETURN_IF_ERROR(save(head, "lm_head", TensorSpec{DType::kFloat32, {Bt, S, V}, 1},
                              static_cast<double>(Bt) * 2.0 * S * D * V));
    }
    return WriteManifest(m, out_dir);
  } catch (const std::exception& e) {
    return Internal(std::string("synthesis failed: ") + TorchErrorMessage(e));
  }
}

}  // namespace edgesplit
