#!/usr/bin/python3
"""Exported torchvision packages run by edgesplit: equal to PyTorch eager within 1e-5 relative,
and every chain of segments bitwise-equal to the whole model.

Needs ES_BIN_DIR (edgesplitctl) and ES_TEST_TMP; run by CTest.
"""
import os
import random
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import edgesplit_export  # noqa: E402

import torch  # noqa: E402

CTL = os.path.join(os.environ.get("ES_BIN_DIR", "build/bin"), "edgesplitctl")
TMP = os.path.join(os.environ.get("ES_TEST_TMP", "/tmp"), "export-test-%d" % os.getpid())


def run_model(pkg, inp, out, cuts=None):
    cmd = [CTL, "model", "run", "--model", pkg, "--input", inp, "--output", out]
    if cuts:
        cmd += ["--cuts", ",".join(str(c) for c in cuts)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("%s failed: %s" % (" ".join(cmd), r.stderr))


def check_model(model_name, image_size, cut_sets):
    pkg = os.path.join(TMP, model_name)
    ex = os.path.join(TMP, model_name + "-example")
    rc = edgesplit_export.main(["--model", model_name, "--out", pkg, "--image-size", str(image_size),
                                "--write-example", ex, "--seed", "3"])
    assert rc == 0, "export failed"
    r = subprocess.run([CTL, "model", "verify", pkg], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    inp = os.path.join(ex, "input.npy")
    whole = os.path.join(ex, "whole.npy")
    run_model(pkg, inp, whole)
    expected = np.load(os.path.join(ex, "expected.npy"))
    got = np.load(whole)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    scale = float(np.abs(expected).max())
    max_abs = float(np.abs(got - expected).max())
    rel = max_abs / scale
    print("%s: max |edgesplit - eager| = %.3g, relative to max |eager| = %.3g" % (model_name, max_abs, rel))
    assert rel <= 1e-5, "%s differs from eager PyTorch by %g relative" % (model_name, rel)
    whole_bytes = open(whole, "rb").read()
    n_layers = sum(1 for line in open(os.path.join(pkg, "model.yaml")) if line.startswith("  - name:"))
    rng = random.Random(7)
    for _ in range(cut_sets):
        k = rng.randint(1, n_layers - 1)
        cuts = sorted(rng.sample(range(1, n_layers), k))
        out = os.path.join(ex, "split.npy")
        run_model(pkg, inp, out, cuts)
        assert open(out, "rb").read() == whole_bytes, "%s cuts %s: split output differs from whole" % (model_name, cuts)
    print("%s: %d random cut sets bitwise-equal to the whole model" % (model_name, cut_sets))
    shutil.rmtree(pkg, ignore_errors=True)


def check_export_sequential_api():
    torch.manual_seed(0)
    layers = [torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)]
    pkg = os.path.join(TMP, "mlp")
    outs = edgesplit_export.export_sequential(layers, torch.randn(2, 8), pkg, "mlp")
    assert len(outs) == 3 and tuple(outs[-1].shape) == (2, 4)
    text = open(os.path.join(pkg, "model.yaml")).read()
    assert "input: {dtype: float32, shape: [2, 8]}" in text, text
    assert "param_bytes: %d" % ((8 * 16 + 16) * 4) in text, text
    r = subprocess.run([CTL, "model", "verify", pkg], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def main():
    os.makedirs(TMP, exist_ok=True)
    try:
        check_export_sequential_api()
        check_model("resnet18", 64, 8)
        check_model("vit_b_16", 32, 4)
        check_model("resnet50", 64, 3)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
