#!/usr/bin/python3
"""Bad checkpoints given to `edgesplit_export.py --model llama`: each exits 1 with exactly one
stderr line naming the file and the key or tensor, writes no manifest, and never shows a
traceback. Runs by CTest (needs only /usr/bin/python3 with python3-torch).
"""
import json
import os
import shutil
import struct
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ckpt_lib as lib  # noqa: E402

EXPORT = os.path.join(HERE, "..", "..", "scripts", "edgesplit_export.py")
TMP = os.path.join(os.environ.get("ES_TEST_TMP", "/tmp"), "llama-export-errors-%d" % os.getpid())


def fresh(name, cfg=None, tensors=None, file_dtype=torch.float32, shards=1):
    d = os.path.join(TMP, name)
    shutil.rmtree(d, ignore_errors=True)
    cfg = cfg or lib.base_config(num_hidden_layers=2)
    lib.write_checkpoint(d, cfg, tensors if tensors is not None else lib.random_tensors(cfg, 1), file_dtype, shards)
    return d


def expect_error(name, ckpt, *needles):
    out = os.path.join(TMP, name + "-pkg")
    r = subprocess.run(["/usr/bin/python3", EXPORT, "--model", "llama", "--checkpoint", ckpt, "--out", out],
                       capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1, "%s: exit %d, stderr %r" % (name, r.returncode, r.stderr)
    assert len(lines) == 1 and "Traceback" not in r.stderr, "%s: expected one line, got %r" % (name, r.stderr)
    for n in needles:
        assert n in lines[0], "%s: %r not in %r" % (name, n, lines[0])
    assert not os.path.exists(os.path.join(out, "model.yaml")), "%s: a manifest was written" % name
    print("%-28s %s" % (name, lines[0]))


def patch_config(ckpt, **kv):
    p = os.path.join(ckpt, "config.json")
    c = json.load(open(p))
    for k, v in kv.items():
        if v is KeyError:
            c.pop(k, None)
        else:
            c[k] = v
    json.dump(c, open(p, "w"))


def main():
    os.makedirs(TMP, exist_ok=True)
    try:
        # config.json
        d = fresh("no-config")
        os.remove(os.path.join(d, "config.json"))
        expect_error("missing config.json", d, "config.json", "missing")
        d = fresh("bad-json")
        open(os.path.join(d, "config.json"), "w").write('{"hidden_size": 64,')
        expect_error("malformed config.json", d, "config.json", "not valid JSON")
        d = fresh("no-hidden")
        patch_config(d, hidden_size=KeyError)
        expect_error("missing hidden_size", d, "config.json", "hidden_size")
        d = fresh("rope-scaling")
        patch_config(d, rope_scaling={"type": "linear", "factor": 2.0})
        expect_error("rope_scaling linear", d, "config.json", "rope_scaling")
        d = fresh("sliding")
        patch_config(d, sliding_window=64)  # the context is 96
        expect_error("sliding window", d, "config.json", "sliding_window = 64", "--max-context 64")
        d = fresh("unknown-key")
        patch_config(d, num_experts=8)
        expect_error("unknown config key", d, "config.json", "num_experts")
        d = fresh("gelu")
        patch_config(d, hidden_act="gelu")
        expect_error("hidden_act gelu", d, "config.json", "hidden_act")
        d = fresh("arch")
        patch_config(d, architectures=["GPT2LMHeadModel"])
        expect_error("unsupported architecture", d, "config.json", "architectures", "GPT2LMHeadModel")
        d = fresh("gqa")
        patch_config(d, num_key_value_heads=3)
        expect_error("kv heads not dividing", d, "config.json", "num_key_value_heads")
        d = fresh("negative")
        patch_config(d, vocab_size=-5)
        expect_error("negative vocab", d, "config.json", "vocab_size")

        # tensors
        cfg = lib.base_config(num_hidden_layers=2)
        t = lib.random_tensors(cfg, 1)
        missing = dict(t)
        del missing["model.layers.1.mlp.up_proj.weight"]
        expect_error("missing tensor", fresh("missing-tensor", cfg, missing), "model.layers.1.mlp.up_proj.weight",
                     "missing")
        shape = dict(t)
        shape["model.layers.0.self_attn.k_proj.weight"] = torch.zeros(64, 64)  # GQA: k has 2 heads x 16 rows
        expect_error("wrong shape", fresh("wrong-shape", cfg, shape), "model.safetensors",
                     "model.layers.0.self_attn.k_proj.weight", "[64, 64]", "[32, 64]")
        dt = dict(t)
        dt["model.norm.weight"] = torch.arange(64, dtype=torch.int64)
        expect_error("wrong dtype", fresh("wrong-dtype", cfg, dt), "model.safetensors", "model.norm.weight", "I64")
        extra = dict(t)
        extra["model.layers.0.self_attn.q_proj.scales"] = torch.ones(4)
        expect_error("extra tensor", fresh("extra-tensor", cfg, extra), "model.layers.0.self_attn.q_proj.scales")
        untied = dict(t)
        del untied["lm_head.weight"]
        expect_error("untied without lm_head", fresh("no-head", cfg, untied), "lm_head.weight", "missing")

        # safetensors files
        d = fresh("truncated")
        f = os.path.join(d, "model.safetensors")
        data = open(f, "rb").read()
        open(f, "wb").write(data[:len(data) - 100])
        expect_error("truncated data", d, "model.safetensors", "truncated", "tensor ")
        open(f, "wb").write(data[:5])
        expect_error("truncated length", d, "model.safetensors", "truncated")
        open(f, "wb").write(struct.pack("<Q", 1 << 40) + data[8:])
        expect_error("header length too big", d, "model.safetensors", "header length")
        n = struct.unpack("<Q", data[:8])[0]
        open(f, "wb").write(data[:8] + b"{" * n + data[8 + n:])
        expect_error("header not JSON", d, "model.safetensors", "JSON")
        header = json.loads(data[8:8 + n])
        name = "model.layers.0.mlp.down_proj.weight"
        b, e = header[name]["data_offsets"]
        header[name]["data_offsets"] = [b, e - 4]
        raw = json.dumps(header).encode()
        raw += b" " * (n - len(raw)) if len(raw) <= n else b""
        open(f, "wb").write(struct.pack("<Q", len(raw)) + raw + data[8 + n:])
        expect_error("offsets disagree with shape", d, "model.safetensors", name, "data_offsets")
        header[name]["data_offsets"] = [b, e]
        other = "model.layers.0.mlp.up_proj.weight"
        ob, oe = header[other]["data_offsets"]
        header[other]["data_offsets"] = [b + 4, b + 4 + (oe - ob)]
        raw = json.dumps(header).encode()
        open(f, "wb").write(struct.pack("<Q", len(raw)) + raw + data[8 + n:])
        expect_error("overlapping tensors", d, "model.safetensors", "overlaps")

        # sharded index
        d = fresh("index-missing-file", shards=2)
        os.remove(os.path.join(d, "model-00002-of-00002.safetensors"))
        expect_error("index names a missing shard", d, "model-00002-of-00002.safetensors", "cannot open")
        d = fresh("index-wrong-file", shards=2)
        p = os.path.join(d, "model.safetensors.index.json")
        idx = json.load(open(p))
        first = sorted(idx["weight_map"])[0]
        idx["weight_map"][first] = ("model-00002-of-00002.safetensors"
                                    if idx["weight_map"][first].startswith("model-00001") else "model-00001-of-00002.safetensors")
        json.dump(idx, open(p, "w"))
        expect_error("index points to the wrong shard", d, first, "missing from the file")
        d = fresh("index-bad", shards=2)
        open(os.path.join(d, "model.safetensors.index.json"), "w").write("[1, 2")
        expect_error("index not JSON", d, "model.safetensors.index.json", "JSON")
        d = fresh("index-escape", shards=2)
        p = os.path.join(d, "model.safetensors.index.json")
        idx = json.load(open(p))
        idx["weight_map"][first] = "../model.safetensors"
        json.dump(idx, open(p, "w"))
        expect_error("index file outside the directory", d, first, "plain file name")
        d = os.path.join(TMP, "empty")
        os.makedirs(d, exist_ok=True)
        json.dump(lib.base_config(), open(os.path.join(d, "config.json"), "w"))
        expect_error("no weights", d, "no *.safetensors")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
