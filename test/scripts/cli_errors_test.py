#!/usr/bin/python3
"""edgesplitctl model: a corrupted layer file, a wrong-shape input and a truncated .npy each
give exactly one clear error line on stderr and a non-zero exit (never a crash)."""
import os
import shutil
import subprocess

import numpy as np

CTL = os.path.join(os.environ.get("ES_BIN_DIR", "build/bin"), "edgesplitctl")
TMP = os.path.join(os.environ.get("ES_TEST_TMP", "/tmp"), "cli-errors-%d" % os.getpid())


def ctl(*args):
    return subprocess.run([CTL, *args], capture_output=True, text=True)


def expect_error(result, fragment):
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert result.returncode not in (0,) and result.returncode > 0, "expected a clean non-zero exit, got %d" % result.returncode
    assert len(lines) == 1, "expected one error line, got:\n" + result.stderr
    assert lines[0].startswith("edgesplitctl: error: "), lines[0]
    assert fragment in lines[0], "%r not in %r" % (fragment, lines[0])
    print("ok:", lines[0])


def main():
    os.makedirs(TMP, exist_ok=True)
    try:
        pkg = os.path.join(TMP, "gpt")
        r = ctl("model", "synth", "--layers", "3", "--d-model", "32", "--heads", "2", "--vocab", "50", "--seq", "8",
                "--seed", "1", "--out", pkg)
        assert r.returncode == 0, r.stderr
        good = os.path.join(TMP, "in.npy")
        np.save(good, np.arange(8, dtype=np.int64).reshape(1, 8))
        out = os.path.join(TMP, "out.npy")
        r = ctl("model", "run", "--model", pkg, "--input", good, "--output", out, "--cuts", "2")
        assert r.returncode == 0, r.stderr

        # Wrong-shape input (the sequence dimension may vary up to the context, the batch may not).
        wrong = os.path.join(TMP, "wrong.npy")
        np.save(wrong, np.zeros((2, 8), dtype=np.int64))
        expect_error(ctl("model", "run", "--model", pkg, "--input", wrong, "--output", out),
                     "shape [2,8] does not match expected [1,8]")
        np.save(wrong, np.zeros((1, 1025), dtype=np.int64))
        expect_error(ctl("model", "run", "--model", pkg, "--input", wrong, "--output", out),
                     "dimension 1 may be 1..1024")
        # Generation: bad requests name the field and exit non-zero.
        gen = ["model", "generate", "--model", pkg, "--max-new-tokens", "4"]
        r = ctl(*gen, "--prompt-tokens", "1,2,3", "--json")
        assert r.returncode == 0, r.stderr
        assert '"finish_reason": "length"' in r.stdout, r.stdout
        expect_error(ctl(*gen, "--prompt-tokens", "1,50"), "prompt_tokens[1]")
        expect_error(ctl(*gen, "--prompt-tokens", "1,x"), "--prompt-tokens: 'x'")
        expect_error(ctl(*gen, "--prompt-tokens", "1", "--temperature", "-1"), "temperature")
        expect_error(ctl(*gen, "--prompt-tokens", "1", "--top-p", "nan"), "top_p")
        expect_error(ctl(*gen, "--prompt-tokens", "1", "--bogus", "1"), "bogus")
        expect_error(ctl("model", "generate", "--model", pkg, "--prompt-tokens", "1", "--max-new-tokens", "1024"),
                     "max_new_tokens")
        # Wrong dtype.
        np.save(wrong, np.zeros((1, 8), dtype=np.float64))
        expect_error(ctl("model", "run", "--model", pkg, "--input", wrong, "--output", out), "unsupported dtype '<f8'")
        # Truncated .npy.
        data = open(good, "rb").read()
        trunc = os.path.join(TMP, "trunc.npy")
        open(trunc, "wb").write(data[:-10])
        expect_error(ctl("model", "run", "--model", pkg, "--input", trunc, "--output", out), "truncated data")
        open(trunc, "wb").write(data[:20])
        expect_error(ctl("model", "run", "--model", pkg, "--input", trunc, "--output", out), "truncated header")
        # Bad cuts.
        expect_error(ctl("model", "run", "--model", pkg, "--input", good, "--output", out, "--cuts", "3,2"),
                     "strictly increasing")
        # Corrupted layer file: verify and run both refuse it.
        layer = os.path.join(pkg, "layer_002.pt")
        blob = bytearray(open(layer, "rb").read())
        blob[len(blob) // 2] ^= 0xFF
        open(layer, "wb").write(bytes(blob))
        expect_error(ctl("model", "verify", pkg), "sha256 mismatch")
        expect_error(ctl("model", "run", "--model", pkg, "--input", good, "--output", out), "sha256 mismatch")
        # Missing package and bad flags.
        expect_error(ctl("model", "inspect", os.path.join(TMP, "nope")), "cannot read")
        expect_error(ctl("model", "synth", "--layers", "2", "--d-model", "30", "--heads", "4", "--out", pkg + "2"),
                     "--heads must divide --d-model")
        print("all cli error cases ok")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
