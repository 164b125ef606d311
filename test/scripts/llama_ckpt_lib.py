"""Small random Llama checkpoints in Hugging Face layout (config.json + safetensors), for tests.

Weights are seeded normals; files are written with es_safetensors.write_file (the format's
reference layout: 8-byte length, JSON header padded to 8 bytes, raw little-endian tensors).
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import es_safetensors  # noqa: E402


def base_config(**over):
    c = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 160,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "max_position_embeddings": 96,
        "vocab_size": 211,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "mlp_bias": False,
        "hidden_act": "silu",
        "rope_scaling": None,
        "pretraining_tp": 1,
        "initializer_range": 0.02,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
        "transformers_version": "4.44.0",
        "use_cache": True,
    }
    c.update(over)
    return c


def random_tensors(cfg, seed):
    """{HF name: float32 tensor} for cfg (a config dict)."""
    g = torch.Generator().manual_seed(seed)
    D, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KV = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    hd = cfg.get("head_dim") or D // H
    qkv_bias = cfg.get("attention_bias", False) or cfg.get("model_type") == "qwen2"

    def rnd(*shape, std=0.08):
        return torch.randn(*shape, generator=g) * std

    t = {"model.embed_tokens.weight": rnd(V, D, std=0.5), "model.norm.weight": 1.0 + rnd(D, std=0.1)}
    if not cfg.get("tie_word_embeddings", False):
        t["lm_head.weight"] = rnd(V, D, std=0.2)
    for n in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % n
        t[p + "input_layernorm.weight"] = 1.0 + rnd(D, std=0.1)
        t[p + "post_attention_layernorm.weight"] = 1.0 + rnd(D, std=0.1)
        for proj, rows in (("q", H * hd), ("k", KV * hd), ("v", KV * hd)):
            t[p + "self_attn.%s_proj.weight" % proj] = rnd(rows, D, std=0.25)
            if qkv_bias:
                t[p + "self_attn.%s_proj.bias" % proj] = rnd(rows, std=0.1)
        t[p + "self_attn.o_proj.weight"] = rnd(D, H * hd, std=0.15)
        if cfg.get("attention_bias", False):
            t[p + "self_attn.o_proj.bias"] = rnd(D, std=0.05)
        for proj, shape in (("gate", (I, D)), ("up", (I, D)), ("down", (D, I))):
            t[p + "mlp.%s_proj.weight" % proj] = rnd(*shape, std=0.12)
            if cfg.get("mlp_bias", False):
                t[p + "mlp.%s_proj.bias" % proj] = rnd(shape[0], std=0.05)
    return t


def write_checkpoint(directory, cfg, tensors, file_dtype=torch.float32, shards=1):
    """Writes config.json and the tensors (cast to file_dtype) as one file or `shards` shards
    with model.safetensors.index.json. Returns the tensors as stored (after the cast)."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    stored = {k: v.to(file_dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    names = sorted(stored)
    if shards == 1:
        es_safetensors.write_file(os.path.join(directory, "model.safetensors"), stored, {"format": "pt"})
        return stored
    weight_map = {}
    for s in range(shards):
        fname = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        part = {n: stored[n] for i, n in enumerate(names) if i % shards == s}
        es_safetensors.write_file(os.path.join(directory, fname), part, {"format": "pt"})
        weight_map.update({n: fname for n in part})
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=1)
    return stored
