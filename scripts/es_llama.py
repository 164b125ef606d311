"""Llama-architecture decoders (Hugging Face LlamaForCausalLM) as edgesplit generation packages.

Reads DIR/config.json and the safetensors weights (es_safetensors), builds one TorchScript
module per layer -- embedding, one per decoder block, final RMSNorm + LM head -- each with
forward(x), step(x, cache, pos) and step_batch(x, caches, positions) as docs/model-package.md
defines them, and writes a format-2 package. The maths follows transformers' modeling_llama:
RMSNorm in float32 then cast back, RoPE in the rotate-half layout with inv_freq computed in
float32, grouped-query attention (query head h reads key/value head h // (H / KV)), softmax in
float32, SiLU-gated MLP.

Dtypes: weights, hidden states between layers and the KV cache are in the package dtype
(float32, bfloat16 or float16); the logits are float32. libtorch 1.13 has no float16 matrix
multiply, softmax or SiLU on the CPU, so float16 packages store weights, hidden states and
caches in float16 but compute each layer in float32.
"""
import hashlib
import io
import json
import math
import os
import shutil
from typing import List, Optional

import torch
import torch.nn.functional as F

import es_chat_template as ct
import es_safetensors as st


class ExportError(Exception):
    """Bad input: the message is one line naming the file and the key or tensor."""


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_SIZE = {"float32": 4, "bfloat16": 2, "float16": 2}

# config.json keys, by how the exporter treats them.
_ARCH_KEYS = {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
              "head_dim", "rms_norm_eps", "rope_theta", "max_position_embeddings", "vocab_size",
              "tie_word_embeddings", "attention_bias", "mlp_bias", "hidden_act"}
# Metadata that does not change the maths (training-only or bookkeeping).
_IGNORED_KEYS = {"architectures", "model_type", "torch_dtype", "transformers_version", "bos_token_id", "eos_token_id",
                 "pad_token_id", "initializer_range", "use_cache", "attention_dropout", "_name_or_path",
                 "output_attentions", "output_hidden_states", "return_dict", "tokenizer_class", "max_window_layers"}
# Keys accepted only at the value that means "this feature is off".
_OFF_KEYS = {"rope_scaling": (None,), "use_sliding_window": (False,), "pretraining_tp": (1,)}
_ARCHITECTURES = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"}
_MODEL_TYPES = {"llama", "mistral", "qwen2"}


class LlamaConfig:
    """config.json, validated; every unsupported key refused by name."""

    def __init__(self, path):
        self.path = path
        if not os.path.exists(path):
            raise ExportError("%s: missing (a checkpoint directory needs config.json)" % path)
        try:
            with open(path, "rb") as f:
                c = json.loads(f.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise ExportError("%s: not valid JSON: %s" % (path, str(e).splitlines()[0]))
        if not isinstance(c, dict):
            raise ExportError("%s: expected a JSON object" % path)
        self.raw = c
        for k in sorted(c):
            if k in _ARCH_KEYS or k in _IGNORED_KEYS or k == "sliding_window":
                continue
            if k in _OFF_KEYS:
                if c[k] not in _OFF_KEYS[k]:
                    raise ExportError("%s: %s = %s is not supported (only %s)" % (path, k, json.dumps(c[k]),
                                                                                 json.dumps(_OFF_KEYS[k][0])))
                continue
            raise ExportError("%s: key '%s' is not supported by the llama exporter" % (path, k))
        arch = c.get("architectures")
        if arch is not None and (not isinstance(arch, list) or len(arch) != 1 or arch[0] not in _ARCHITECTURES):
            raise ExportError("%s: architectures = %s is not supported (%s)" % (path, json.dumps(arch),
                                                                               ", ".join(sorted(_ARCHITECTURES))))
        mt = c.get("model_type", "llama")
        if mt not in _MODEL_TYPES:
            raise ExportError("%s: model_type = %s is not supported (%s)" % (path, json.dumps(mt),
                                                                            ", ".join(sorted(_MODEL_TYPES))))
        self.model_type = mt

        def integer(key, default=None, lo=1, hi=1 << 24):
            v = c.get(key, default)
            if v is None:
                raise ExportError("%s: %s: missing" % (path, key))
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ExportError("%s: %s = %s must be an integer in [%d, %d]" % (path, key, json.dumps(v), lo, hi))
            return v

        def number(key, default):
            v = c.get(key, default)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
                raise ExportError("%s: %s = %s must be a positive number" % (path, key, json.dumps(v)))
            return float(v)

        def flag(key, default):
            v = c.get(key, default)
            if not isinstance(v, bool):
                raise ExportError("%s: %s = %s must be true or false" % (path, key, json.dumps(v)))
            return v

        self.hidden = integer("hidden_size")
        self.intermediate = integer("intermediate_size")
        self.layers = integer("num_hidden_layers", lo=0, hi=4096)
        self.heads = integer("num_attention_heads", hi=4096)
        self.kv_heads = integer("num_key_value_heads", self.heads, hi=4096)
        self.head_dim = integer("head_dim", self.hidden // self.heads, hi=65536) if c.get("head_dim") is not None \
            else self.hidden // self.heads
        self.eps = number("rms_norm_eps", 1e-6)
        self.rope_theta = number("rope_theta", 10000.0)
        self.max_positions = integer("max_position_embeddings", 2048, hi=1 << 20)
        self.vocab = integer("vocab_size")
        self.tied = flag("tie_word_embeddings", False)
        self.attention_bias = flag("attention_bias", False)
        self.mlp_bias = flag("mlp_bias", False)
        act = c.get("hidden_act", "silu")
        if act != "silu":
            raise ExportError("%s: hidden_act = %s is not supported (only \"silu\")" % (path, json.dumps(act)))
        if self.heads % self.kv_heads != 0:
            raise ExportError("%s: num_key_value_heads = %d must divide num_attention_heads = %d"
                              % (path, self.kv_heads, self.heads))
        if c.get("head_dim") is None and self.hidden % self.heads != 0:
            raise ExportError("%s: num_attention_heads = %d must divide hidden_size = %d (or give head_dim)"
                              % (path, self.heads, self.hidden))
        if self.head_dim % 2 != 0:
            raise ExportError("%s: head_dim = %d must be even (rotary embedding)" % (path, self.head_dim))
        # A sliding window (Mistral) changes nothing while the context fits in it; checked
        # against the package's context in export_llama.
        sw = c.get("sliding_window")
        if c.get("use_sliding_window") is False:
            sw = None
        if sw is not None and (not isinstance(sw, int) or isinstance(sw, bool) or sw < 1):
            raise ExportError("%s: sliding_window = %s must be null or a positive integer" % (path, json.dumps(sw)))
        self.sliding_window = sw
        # Qwen2 has biases on q, k, v but not on o; Llama's attention_bias covers all four.
        self.qkv_bias = self.attention_bias or mt == "qwen2"
        self.o_bias = self.attention_bias

    def token_id(self, key):
        v = self.raw.get(key)
        if isinstance(v, list):  # Llama 3 lists several EOS ids; the first is the canonical one
            v = v[0] if v else None
        return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _rms(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return w * h.to(x.dtype)


def _linear(x: torch.Tensor, w: torch.Tensor, b: Optional[torch.Tensor], upcast: bool) -> torch.Tensor:
    if upcast:  # float16 weights, float32 maths (x is float32 already)
        bf = None if b is None else b.float()
        return F.linear(x, w.float(), bf)
    return F.linear(x, w, b)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.size(-1) // 2
    return torch.cat((-x[..., half:], x[..., :half]), -1)


def _param(t):
    return torch.nn.Parameter(t, requires_grad=False)


class LlamaEmbed(torch.nn.Module):
    def __init__(self, weight):
        super().__init__()
        self.weight = _param(weight)

    def forward(self, ids):
        return F.embedding(ids, self.weight)

    @torch.jit.export
    def step(self, ids, cache: torch.Tensor, pos: int):
        return F.embedding(ids, self.weight)

    @torch.jit.export
    def step_batch(self, ids, caches: List[torch.Tensor], positions: List[int]):
        return F.embedding(ids, self.weight)


class LlamaBlock(torch.nn.Module):
    bq: Optional[torch.Tensor]
    bk: Optional[torch.Tensor]
    bv: Optional[torch.Tensor]
    bo: Optional[torch.Tensor]
    bg: Optional[torch.Tensor]
    bu: Optional[torch.Tensor]
    bd: Optional[torch.Tensor]

    def __init__(self, cfg, w, upcast):
        super().__init__()
        self.H, self.KV, self.hd, self.eps = cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.eps
        self.G = cfg.heads // cfg.kv_heads
        self.scale = cfg.head_dim ** -0.5
        self.upcast = upcast
        for k in ("ln1", "wq", "wk", "wv", "wo", "ln2", "wg", "wu", "wd"):
            setattr(self, k, _param(w[k]))
        for k in ("bq", "bk", "bv", "bo", "bg", "bu", "bd"):
            setattr(self, k, _param(w[k]) if w.get(k) is not None else None)
        inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.int64).float() / cfg.head_dim))
        self.register_buffer("inv_freq", inv, persistent=True)

    def _rope(self, q, k, positions):
        # positions: float32, broadcastable to [B, heads, T] once unsqueezed
        freqs = positions.unsqueeze(-1) * self.inv_freq
        emb = torch.cat((freqs, freqs), -1)
        cos = emb.cos().to(q.dtype)
        sin = emb.sin().to(q.dtype)
        return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin

    def _qkv(self, x, positions):
        B, T = x.size(0), x.size(1)
        h = _rms(x, self.ln1, self.eps)
        q = _linear(h, self.wq, self.bq, self.upcast).view(B, T, self.H, self.hd).transpose(1, 2)
        k = _linear(h, self.wk, self.bk, self.upcast).view(B, T, self.KV, self.hd).transpose(1, 2)
        v = _linear(h, self.wv, self.bv, self.upcast).view(B, T, self.KV, self.hd).transpose(1, 2)
        q, k = self._rope(q, k, positions)
        return q, k, v

    def _attend(self, q, k, v, pos: int):
        # q [B, H, T, hd]; k, v [B, KV, L, hd] with L = pos + T. The G query heads sharing a
        # key/value head are stacked on the row axis, so the cache is never repeated in memory.
        B, T, L = q.size(0), q.size(2), k.size(2)
        k = k.to(q.dtype)  # no-op except in float16 packages (float16 cache, float32 maths)
        v = v.to(q.dtype)
        qg = q.reshape(B, self.KV, self.G * T, self.hd)
        att = torch.matmul(qg, k.transpose(-2, -1)) * self.scale
        if T > 1:
            mask = torch.ones([T, L], dtype=torch.bool).triu(pos + 1)
            att = att.view(B, self.KV, self.G, T, L).masked_fill(mask, float("-inf")).view(B, self.KV, self.G * T, L)
        att = torch.softmax(att.float(), -1).to(q.dtype)
        y = torch.matmul(att, v)
        return y.view(B, self.H, T, self.hd).transpose(1, 2).reshape(B, T, self.H * self.hd)

    def _finish(self, x, y):
        x = x + _linear(y, self.wo, self.bo, self.upcast)
        h = _rms(x, self.ln2, self.eps)
        m = F.silu(_linear(h, self.wg, self.bg, self.upcast)) * _linear(h, self.wu, self.bu, self.upcast)
        return x + _linear(m, self.wd, self.bd, self.upcast)

    def forward(self, x):
        dt = x.dtype
        x = x.float() if self.upcast else x
        T = x.size(1)
        q, k, v = self._qkv(x, torch.arange(0, T, dtype=torch.int64).float())
        return self._finish(x, self._attend(q, k, v, 0)).to(dt)

    @torch.jit.export
    def step(self, x, cache: torch.Tensor, pos: int):
        dt = x.dtype
        x = x.float() if self.upcast else x
        T = x.size(1)
        q, k, v = self._qkv(x, torch.arange(pos, pos + T, dtype=torch.int64).float())
        kc = cache[0]
        vc = cache[1]
        kc.narrow(2, pos, T).copy_(k)
        vc.narrow(2, pos, T).copy_(v)
        return self._finish(x, self._attend(q, kc.narrow(2, 0, pos + T), vc.narrow(2, 0, pos + T), pos)).to(dt)

    @torch.jit.export
    def step_batch(self, x, caches: List[torch.Tensor], positions: List[int]):
        # One position per row; the projections run batched, attention row by row.
        dt = x.dtype
        x = x.float() if self.upcast else x
        p = torch.tensor(positions, dtype=torch.int64).float().view(-1, 1, 1)
        q, k, v = self._qkv(x, p)
        ys: List[torch.Tensor] = []
        for b in range(x.size(0)):
            pos = positions[b]
            kc = caches[b][0]
            vc = caches[b][1]
            kc.narrow(2, pos, 1).copy_(k[b:b + 1])
            vc.narrow(2, pos, 1).copy_(v[b:b + 1])
            ys.append(self._attend(q[b:b + 1], kc.narrow(2, 0, pos + 1), vc.narrow(2, 0, pos + 1), pos))
        return self._finish(x, torch.cat(ys, 0)).to(dt)


class LlamaHead(torch.nn.Module):
    def __init__(self, norm, weight, eps, upcast):
        super().__init__()
        self.norm = _param(norm)
        self.weight = _param(weight)
        self.eps = eps
        self.upcast = upcast

    def forward(self, x):
        x = x.float() if self.upcast else x
        return _linear(_rms(x, self.norm, self.eps), self.weight, None, self.upcast).float()

    @torch.jit.export
    def step(self, x, cache: torch.Tensor, pos: int):
        return self.forward(x)

    @torch.jit.export
    def step_batch(self, x, caches: List[torch.Tensor], positions: List[int]):
        return self.forward(x)


def _expected_tensors(cfg):
    """{name: shape} of every tensor the architecture reads, in file-independent order."""
    D, I, hd = cfg.hidden, cfg.intermediate, cfg.head_dim
    want = {"model.embed_tokens.weight": (cfg.vocab, D), "model.norm.weight": (D,)}
    if not cfg.tied:
        want["lm_head.weight"] = (cfg.vocab, D)
    for n in range(cfg.layers):
        p = "model.layers.%d." % n
        want[p + "input_layernorm.weight"] = (D,)
        want[p + "post_attention_layernorm.weight"] = (D,)
        for proj, rows in (("q", cfg.heads * hd), ("k", cfg.kv_heads * hd), ("v", cfg.kv_heads * hd)):
            want[p + "self_attn.%s_proj.weight" % proj] = (rows, D)
            if cfg.qkv_bias:
                want[p + "self_attn.%s_proj.bias" % proj] = (rows,)
        want[p + "self_attn.o_proj.weight"] = (D, cfg.heads * hd)
        if cfg.o_bias:
            want[p + "self_attn.o_proj.bias"] = (D,)
        for proj, shape in (("gate", (I, D)), ("up", (I, D)), ("down", (D, I))):
            want[p + "mlp.%s_proj.weight" % proj] = shape
            if cfg.mlp_bias:
                want[p + "mlp.%s_proj.bias" % proj] = (shape[0],)
    return want


def _is_ignorable(name, cfg):
    # Older checkpoints store the (recomputable) rotary table; a tied checkpoint may still
    # carry lm_head.weight, which transformers replaces by the embedding when tying.
    return name.endswith(".self_attn.rotary_emb.inv_freq") or (cfg.tied and name == "lm_head.weight")


def check_checkpoint(ckpt, cfg):
    want = _expected_tensors(cfg)
    for name in sorted(want):
        if not ckpt.has(name):
            raise ExportError("%s: tensor %s: missing (config.json %s)" % (ckpt.directory, name, cfg.path))
        path, dtype, shape = ckpt.describe(name)
        if dtype not in ("F32", "F16", "BF16"):
            raise ExportError("%s: tensor %s: dtype %s, expected F32, F16 or BF16" % (path, name, dtype))
        if tuple(shape) != tuple(want[name]):
            raise ExportError("%s: tensor %s: shape %s, expected %s from config.json"
                              % (path, name, list(shape), list(want[name])))
    for name in sorted(ckpt.names()):
        if name not in want and not _is_ignorable(name, cfg):
            path, _, _ = ckpt.describe(name)
            raise ExportError("%s: tensor %s: not part of the llama architecture this config describes" % (path, name))


def _save(module, out_dir, index):
    scripted = torch.jit.script(module)
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    data = buf.getvalue()
    fname = "layer_%03d.pt" % index
    with open(os.path.join(out_dir, fname), "wb") as f:
        f.write(data)
    pbytes = sum(p.numel() * p.element_size() for p in module.parameters())
    pbytes += sum(b.numel() * b.element_size() for b in module.buffers())
    return fname, hashlib.sha256(data).hexdigest(), pbytes


def _spec(dtype, shape, seq_dim=None, extra=""):
    s = "{dtype: %s, shape: [%s]" % (dtype, ", ".join(str(d) for d in shape))
    if seq_dim is not None:
        s += ", seq_dim: %d" % seq_dim
    return s + extra + "}"


def export_llama(checkpoint, out_dir, dtype="float32", name=None, max_context=None, seq=None, batch=1,
                 chat_template="auto"):
    """Exports the checkpoint directory as a package in out_dir. Raises ExportError on bad input.
    chat_template: "auto" (tokenizer_config.json's, when the checkpoint has a tokenizer), "none", or a
    file (es_chat_template.from_checkpoint). Returns (cfg, layers, the roles the template dropped)."""
    if dtype not in DTYPES:
        raise ExportError("--dtype %s: choose float32, bfloat16 or float16" % dtype)
    if not os.path.isdir(checkpoint):
        raise ExportError("%s: not a directory" % checkpoint)
    cfg = LlamaConfig(os.path.join(checkpoint, "config.json"))
    C = max_context or cfg.max_positions
    if not 1 <= C <= cfg.max_positions:
        raise ExportError("--max-context %d: must be in [1, max_position_embeddings = %d]" % (C, cfg.max_positions))
    if cfg.sliding_window is not None and cfg.sliding_window < C:
        raise ExportError("%s: sliding_window = %d is shorter than the context %d: sliding-window attention is not "
                          "supported (export with --max-context %d or less)"
                          % (cfg.path, cfg.sliding_window, C, cfg.sliding_window))
    S = min(seq or 128, C)
    # The chat template first: a template that cannot be carried fails before any weight is read.
    tok = os.path.join(checkpoint, "tokenizer.model")
    chat, dropped = None, []
    if os.path.isfile(tok):
        try:
            chat, dropped = ct.from_checkpoint(checkpoint, chat_template, cfg.token_id("bos_token_id"),
                                               cfg.token_id("eos_token_id"), cfg.vocab)
        except ct.TemplateError as e:
            raise ExportError(str(e))
    elif chat_template not in ("auto", "none"):
        raise ExportError("--chat-template %s: the checkpoint has no tokenizer.model, so no text to chat in" % chat_template)
    try:
        ckpt = st.Checkpoint(checkpoint)
    except st.FormatError as e:
        raise ExportError(str(e))
    tdt = DTYPES[dtype]
    upcast = dtype == "float16"
    try:
        check_checkpoint(ckpt, cfg)

        def get(n):
            try:
                return ckpt.get(n).to(tdt)
            except st.FormatError as e:
                raise ExportError(str(e))

        os.makedirs(out_dir, exist_ok=True)
        D, V, KV, hd = cfg.hidden, cfg.vocab, cfg.kv_heads, cfg.head_dim
        entries = []
        hidden = _spec(dtype, [batch, S, D], 1)
        fname, digest, pb = _save(LlamaEmbed(get("model.embed_tokens.weight")), out_dir, 0)
        entries.append(("embed", fname, digest, pb, hidden, None, 2 * batch * S * D))
        kv_bpt = 2 * batch * KV * hd * _SIZE[dtype]
        state = _spec(dtype, [2, batch, KV, C, hd], 3, ", bytes_per_token: %d" % kv_bpt)
        for n in range(cfg.layers):
            p = "model.layers.%d." % n
            w = {"ln1": p + "input_layernorm.weight", "ln2": p + "post_attention_layernorm.weight"}
            for short, proj in (("q", "self_attn.q_proj"), ("k", "self_attn.k_proj"), ("v", "self_attn.v_proj"),
                                ("o", "self_attn.o_proj"), ("g", "mlp.gate_proj"), ("u", "mlp.up_proj"),
                                ("d", "mlp.down_proj")):
                w["w" + short] = p + proj + ".weight"
                if ckpt.has(p + proj + ".bias") and (cfg.mlp_bias if short in "gud" else
                                                     (cfg.o_bias if short == "o" else cfg.qkv_bias)):
                    w["b" + short] = p + proj + ".bias"
            tensors = {k: get(v) for k, v in w.items()}
            block = LlamaBlock(cfg, tensors, upcast)
            fname, digest, pb = _save(block, out_dir, n + 1)
            params = sum(t.numel() for t in tensors.values())
            flops = batch * (2 * S * params + 4 * S * S * cfg.heads * hd)
            entries.append(("block_%d" % n, fname, digest, pb, hidden, state, flops))
        head_w = get("model.embed_tokens.weight") if cfg.tied else get("lm_head.weight")
        head = LlamaHead(get("model.norm.weight"), head_w, cfg.eps, upcast)
        fname, digest, pb = _save(head, out_dir, cfg.layers + 1)
        entries.append(("lm_head", fname, digest, pb, _spec("float32", [batch, S, V], 1), None, 2 * batch * S * D * V))
    finally:
        ckpt.close()

    lines = ["name: %s" % (name or os.path.basename(os.path.normpath(checkpoint)) or "llama"),
             "format_version: 2", "family: llama", "dtype: %s" % dtype,
             "input: %s" % _spec("int64", [batch, S], 1), "layers:"]
    for lname, fname, digest, pb, out, state_spec, flops in entries:
        lines += ["  - name: %s" % lname, "    file: %s" % fname, "    sha256: %s" % digest,
                  "    param_bytes: %d" % pb, "    output: %s" % out, "    flops: %d" % flops]
        if state_spec:
            lines.append("    state: %s" % state_spec)
    lines += ["generation:", "  max_context: %d" % C, "  vocab: %d" % V, "  step_method: step",
              "  batch_step_method: step_batch"]
    if os.path.isfile(tok):
        # Copied verbatim; the entry's tokenizer checks the hash (branch `text`, manifest.cc).
        shutil.copyfile(tok, os.path.join(out_dir, "tokenizer.model"))
        with open(tok, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        t = "tokenizer: {file: tokenizer.model, sha256: %s" % digest
        for key, yk in (("bos_token_id", "bos_id"), ("eos_token_id", "eos_id")):
            if cfg.token_id(key) is not None:
                t += ", %s: %d" % (yk, cfg.token_id(key))
        lines.append(t + "}")
        if chat:
            # JSON is YAML: the strings keep their newlines and spaces exactly.
            lines.append("chat_template: %s" % json.dumps(chat, sort_keys=True))
    tmp = os.path.join(out_dir, "model.yaml.tmp")
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(out_dir, "model.yaml"))
    return cfg, len(entries), dropped
