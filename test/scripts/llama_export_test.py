#!/usr/bin/python3
"""Llama checkpoints exported by scripts/edgesplit_export.py --model llama, checked against a
reference written here (float64, Hugging Face LlamaForCausalLM's eager maths: repeat_kv,
rotate-half RoPE, additive causal mask), independent of the exporter's modules.

Random HF-layout checkpoints (tied and untied, GQA, MQA and MHA, head_dim given, biases, fp32
and bf16 files, one file and sharded): fp32 packages give the reference's logits within 1e-4
relative and its greedy tokens -- through the real C++ stack (`edgesplitctl model run` and
`model generate`, whole, cut into segments, and without cache). bf16 packages: segments chained
at any cuts give bytes and tokens equal to the whole model, and logits near the reference.

Needs ES_BIN_DIR (edgesplitctl) and ES_TEST_TMP; run by CTest.
"""
import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import llama_ckpt_lib as lib  # noqa: E402

CTL = os.path.join(os.environ.get("ES_BIN_DIR", "build/bin"), "edgesplitctl")
EXPORT = os.path.join(HERE, "..", "..", "scripts", "edgesplit_export.py")
TMP = os.path.join(os.environ.get("ES_TEST_TMP", "/tmp"), "llama-export-test-%d" % os.getpid())


# ---- reference (float64), written from the Hugging Face definition ----

def ref_rms(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def ref_rope(x, positions, theta, hd):
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = positions.double()[:, None] * inv[None, :]
    emb = torch.cat([freqs, freqs], -1)
    x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
    rotated = torch.cat([-x2, x1], -1)
    return x * emb.cos() + rotated * emb.sin()


def ref_logits(cfg, w, ids):
    """Logits [T, vocab] of token ids (list) under config dict cfg and tensors w (any dtype)."""
    W = {k: v.double() for k, v in w.items()}
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim") or D // H
    eps, theta = cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)
    T = len(ids)
    pos = torch.arange(T)

    def lin(x, name):
        y = x @ W[name + ".weight"].T
        return y + W[name + ".bias"] if name + ".bias" in W else y

    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for n in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % n
        h = ref_rms(x, W[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(T, H, hd).transpose(0, 1)
        k = lin(h, p + "self_attn.k_proj").view(T, KV, hd).transpose(0, 1)
        v = lin(h, p + "self_attn.v_proj").view(T, KV, hd).transpose(0, 1)
        q, k = ref_rope(q, pos, theta, hd), ref_rope(k, pos, theta, hd)
        k = k.repeat_interleave(H // KV, dim=0)  # repeat_kv: query head i reads kv head i // (H/KV)
        v = v.repeat_interleave(H // KV, dim=0)
        att = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5 + mask, -1)
        y = (att @ v).transpose(0, 1).reshape(T, H * hd)
        x = x + lin(y, p + "self_attn.o_proj")
        h = ref_rms(x, W[p + "post_attention_layernorm.weight"], eps)
        gate, up = lin(h, p + "mlp.gate_proj"), lin(h, p + "mlp.up_proj")
        x = x + lin(torch.nn.functional.silu(gate) * up, p + "mlp.down_proj")
    x = ref_rms(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else W["lm_head.weight"]
    return x @ head.T


def ref_greedy(cfg, w, prompt, n):
    ids = list(prompt)
    out = []
    for _ in range(n):
        tok = int(torch.argmax(ref_logits(cfg, w, ids)[-1]))
        out.append(tok)
        ids.append(tok)
    return out


# ---- the system under test ----

def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


def export(ckpt, pkg, dtype):
    run(["/usr/bin/python3", EXPORT, "--model", "llama", "--checkpoint", ckpt, "--out", pkg, "--dtype", dtype,
         "--seq", "16"])
    run([CTL, "model", "verify", pkg])


def model_run(pkg, ids, out, cuts=None):
    inp = out + ".in.npy"
    np.save(inp, np.array([ids], dtype=np.int64))
    cmd = [CTL, "model", "run", "--model", pkg, "--input", inp, "--output", out]
    if cuts:
        cmd += ["--cuts", ",".join(map(str, cuts))]
    run(cmd)
    return np.load(out)


def generate(pkg, prompt, n, extra=()):
    out = run([CTL, "model", "generate", "--model", pkg, "--prompt-tokens", ",".join(map(str, prompt)),
               "--max-new-tokens", str(n), "--json"] + list(extra))
    return json.loads(out.strip().splitlines()[-1])["tokens"]


def random_cuts(rng, n_layers):
    k = rng.randint(1, n_layers - 1)
    return sorted(rng.sample(range(1, n_layers), k))


CASES = [
    # name, config overrides, file dtype, shards
    ("untied-gqa-fp32", {}, torch.float32, 1),
    ("tied-mqa-bf16file-sharded", {"tie_word_embeddings": True, "num_key_value_heads": 1, "mlp_bias": True},
     torch.bfloat16, 3),
    ("untied-mha-headdim-bias", {"hidden_size": 48, "num_attention_heads": 4, "num_key_value_heads": 4,
                                 "head_dim": 16, "attention_bias": True, "rope_theta": 500000.0}, torch.float32, 2),
    ("tied-gqa-bf16file", {"tie_word_embeddings": True, "num_attention_heads": 8, "num_key_value_heads": 2,
                           "num_hidden_layers": 2}, torch.bfloat16, 1),
]


def check_case(name, over, file_dtype, shards, seed):
    cfg = lib.base_config(**over)
    ckpt = os.path.join(TMP, name)
    stored = lib.write_checkpoint(ckpt, cfg, lib.random_tensors(cfg, seed), file_dtype, shards)
    rng = random.Random(seed)
    V = cfg["vocab_size"]
    prompt = [rng.randrange(V) for _ in range(11)]
    n_layers = cfg["num_hidden_layers"] + 2

    # fp32 package: logits and greedy tokens equal the reference.
    pkg = os.path.join(TMP, name + "-fp32")
    export(ckpt, pkg, "float32")
    ref = ref_logits(cfg, stored, prompt).numpy()
    got = model_run(pkg, prompt, os.path.join(TMP, name + "-logits.npy"))
    assert got.shape == (1, len(prompt), V) and got.dtype == np.float32, (got.shape, got.dtype)
    rel = float(np.abs(got[0] - ref).max() / np.abs(ref).max())
    print("%s: fp32 logits max relative difference to the reference %.3g" % (name, rel))
    assert rel <= 1e-4, "%s: logits differ from the reference by %g relative" % (name, rel)
    want = ref_greedy(cfg, stored, prompt, 12)
    assert generate(pkg, prompt, 12) == want, "%s: cached greedy tokens differ from the reference" % name
    assert generate(pkg, prompt, 12, ["--no-cache"]) == want, "%s: no-cache tokens differ" % name
    cuts = random_cuts(rng, n_layers)
    assert generate(pkg, prompt, 12, ["--cuts", ",".join(map(str, cuts))]) == want, \
        "%s: tokens through segments cut at %s differ" % (name, cuts)
    print("%s: greedy tokens %s equal the reference (whole, no cache, cuts %s)" % (name, want, cuts))

    # bf16 package: split == whole bitwise; logits near the reference (bf16 has 8 mantissa bits).
    pkg16 = os.path.join(TMP, name + "-bf16")
    export(ckpt, pkg16, "bfloat16")
    text = open(os.path.join(pkg16, "model.yaml")).read()
    assert "dtype: bfloat16" in text and "state: {dtype: bfloat16" in text, text
    whole = model_run(pkg16, prompt, os.path.join(TMP, name + "-w16.npy"))
    rel16 = float(np.abs(whole[0] - ref).max() / np.abs(ref).max())
    print("%s: bf16 logits max relative difference to the reference %.3g" % (name, rel16))
    assert rel16 <= 0.1, "%s: bf16 logits differ from the reference by %g relative" % (name, rel16)
    whole_tokens = generate(pkg16, prompt, 10)
    for _ in range(3):
        cuts = random_cuts(rng, n_layers)
        split = model_run(pkg16, prompt, os.path.join(TMP, name + "-s16.npy"), cuts)
        assert split.tobytes() == whole.tobytes(), "%s bf16: cuts %s give other logits than whole" % (name, cuts)
        assert generate(pkg16, prompt, 10, ["--cuts", ",".join(map(str, cuts))]) == whole_tokens, \
            "%s bf16: cuts %s give other tokens than whole" % (name, cuts)
    print("%s: bf16 whole and 3 random cut sets bitwise-equal, tokens %s" % (name, whole_tokens))
    for d in (pkg, pkg16, ckpt):
        shutil.rmtree(d, ignore_errors=True)


def check_float16():
    """fp16 packages: fp16 weights, hidden states and caches (computed in float32 on the CPU)."""
    cfg = lib.base_config(num_hidden_layers=2)
    ckpt = os.path.join(TMP, "fp16")
    stored = lib.write_checkpoint(ckpt, cfg, lib.random_tensors(cfg, 21), torch.float16)
    pkg = os.path.join(TMP, "fp16-pkg")
    export(ckpt, pkg, "float16")
    text = open(os.path.join(pkg, "model.yaml")).read()
    assert "dtype: float16" in text and "output: {dtype: float16, shape: [1, 16, 64]" in text, text
    prompt = [3, 1, 4, 1, 5, 9, 2, 6]
    ref = ref_logits(cfg, stored, prompt).numpy()
    whole = model_run(pkg, prompt, os.path.join(TMP, "fp16-w.npy"))
    rel = float(np.abs(whole[0] - ref).max() / np.abs(ref).max())
    print("fp16: logits max relative difference to the reference %.3g" % rel)
    assert rel <= 1e-2, rel
    split = model_run(pkg, prompt, os.path.join(TMP, "fp16-s.npy"), [1, 3])
    assert split.tobytes() == whole.tobytes(), "fp16: split logits differ from whole"
    assert generate(pkg, prompt, 8) == generate(pkg, prompt, 8, ["--cuts", "2"]), "fp16: split tokens differ"


def check_config_variants():
    """Mistral (a sliding window no shorter than the context) and Qwen2 (q/k/v biases, no o
    bias) configs: the exported layers, run here in Python, give the reference's logits."""
    variants = [
        ("mistral", {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "sliding_window": 96}),
        ("qwen2", {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "use_sliding_window": False,
                   "sliding_window": 32, "max_window_layers": 2, "tie_word_embeddings": True}),
    ]
    for name, over in variants:
        cfg = lib.base_config(num_hidden_layers=2, **over)
        ckpt = os.path.join(TMP, name)
        stored = lib.write_checkpoint(ckpt, cfg, lib.random_tensors(cfg, 31))
        if name == "qwen2":
            assert "model.layers.0.self_attn.q_proj.bias" in stored and "model.layers.0.self_attn.o_proj.bias" not in stored
        pkg = os.path.join(TMP, name + "-pkg")
        export(ckpt, pkg, "float32")
        prompt = [9, 8, 7, 6, 5, 4, 3]
        x = torch.tensor([prompt])
        for i in range(cfg["num_hidden_layers"] + 2):
            x = torch.jit.load(os.path.join(pkg, "layer_%03d.pt" % i))(x)
        ref = ref_logits(cfg, stored, prompt)
        rel = float((x[0].double() - ref).abs().max() / ref.abs().max())
        print("%s: fp32 logits max relative difference to the reference %.3g" % (name, rel))
        assert rel <= 1e-4, (name, rel)
        # step (prefill then one token) and step_batch (two sessions at other positions), with
        # the [2, 1, kv_heads, context, head_dim] caches the manifest declares.
        mods = [torch.jit.load(os.path.join(pkg, "layer_%03d.pt" % i)) for i in range(cfg["num_hidden_layers"] + 2)]
        kv, hd = cfg["num_key_value_heads"], cfg["hidden_size"] // cfg["num_attention_heads"]

        def caches():
            return [torch.empty(2, 1, kv, 96, hd) if 0 < i < len(mods) - 1 else torch.empty(0) for i in range(len(mods))]

        sessions = [caches(), caches()]
        for sess, n in zip(sessions, (6, 5)):
            x = torch.tensor([prompt[:n]])
            for m, c in zip(mods, sess):
                x = m.step(x, c, 0)
            want = ref_logits(cfg, stored, prompt[:n])[-1]
            assert float((x[0, -1].double() - want).abs().max() / want.abs().max()) <= 1e-4, (name, "step")
        x = torch.tensor([[prompt[6]], [prompt[5]]])
        for i, m in enumerate(mods):
            x = m.step_batch(x, [sessions[0][i], sessions[1][i]], [6, 5])
        for row, n in ((0, 7), (1, 6)):
            want = ref_logits(cfg, stored, prompt[:n])[-1]
            assert float((x[row, -1].double() - want).abs().max() / want.abs().max()) <= 1e-4, (name, "step_batch")
        print("%s: step and step_batch agree with the reference" % name)


def check_tokenizer_copied():
    """tokenizer.model is copied with its hash and config.json's bos/eos ids (contract with the
    tokenizer work on branch `text`; the C++ manifest parser learns the key there)."""
    cfg = lib.base_config(num_hidden_layers=1, eos_token_id=[7, 8])
    ckpt = os.path.join(TMP, "tok")
    lib.write_checkpoint(ckpt, cfg, lib.random_tensors(cfg, 5))
    blob = bytes(range(256)) * 3
    with open(os.path.join(ckpt, "tokenizer.model"), "wb") as f:
        f.write(blob)
    pkg = os.path.join(TMP, "tok-pkg")
    run(["/usr/bin/python3", EXPORT, "--model", "llama", "--checkpoint", ckpt, "--out", pkg])
    import hashlib
    assert open(os.path.join(pkg, "tokenizer.model"), "rb").read() == blob
    line = [l for l in open(os.path.join(pkg, "model.yaml")) if l.startswith("tokenizer:")]
    want = "tokenizer: {file: tokenizer.model, sha256: %s, bos_id: 1, eos_id: 7}\n" % hashlib.sha256(blob).hexdigest()
    assert line == [want], line


def main():
    os.makedirs(TMP, exist_ok=True)
    try:
        for i, (name, over, fdt, shards) in enumerate(CASES):
            check_case(name, over, fdt, shards, 11 + i)
        check_float16()
        check_config_variants()
        check_tokenizer_copied()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
