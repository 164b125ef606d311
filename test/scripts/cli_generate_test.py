#!/usr/bin/python3
"""edgesplitctl generate and load --generate-sessions against a stand-in REST server (the real
endpoint is unit-tested in C++; this checks the command line): the request body the flags
make, tokens printed as their SSE events arrive (the server sends the next token only after
the CLI printed the previous one), --json forms, server errors and bad flags as exactly one
`edgesplitctl: error:` line with a non-zero exit."""
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CTL = os.path.join(os.environ.get("ES_BIN_DIR", "build/bin"), "edgesplitctl")
TOKENS = [7, 8, 9]
bodies = []          # request bodies the server received
printed = [threading.Event() for _ in TOKENS]  # the CLI printed token i (set by the test)
pace = {"on": False}  # wait for `printed` before each next token


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/deployments/d":
            self.reply(200, {"name": "d", "model": "gpt"})
        elif self.path == "/v1/models/gpt":
            self.reply(200, {"name": "gpt", "generation": {"max_context": 64, "vocab": 50}})
        else:
            self.reply(404, {"error": {"code": "not_found", "message": "no route"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        bodies.append(body)
        if not self.path.startswith("/v1/deployments/d/"):
            self.reply(404, {"error": {"code": "not_found", "message": "unknown deployment x"}})
            return
        if body.get("prompt_tokens") == [13]:
            self.reply(429, {"error": {"code": "resource_exhausted", "message": "too many sessions"}})
            return
        n = body.get("max_new_tokens", 16)
        toks = [(7 + i) for i in range(min(n, 16))] if n != 3 else TOKENS
        done = {"tokens": toks, "finish_reason": "length", "prompt_tokens": len(body["prompt_tokens"]),
                "ttft_ms": 1.5, "ms_per_token": 0.5, "epoch": 2}
        if not body.get("stream"):
            self.reply(200, done)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

        def chunk(obj):
            data = ("data: " + json.dumps(obj) + "\n\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        for i, t in enumerate(toks):
            chunk({"index": i, "token": t})
            if pace["on"] and i < len(printed):
                assert printed[i].wait(20), "the CLI did not print token %d before the next was sent" % i
        if body.get("stop_tokens") == [1]:
            chunk({"error": {"code": "unavailable", "message": "stage down"}})
        else:
            done["done"] = True
            chunk(done)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def ctl(*args):
    return subprocess.run([CTL, *args], capture_output=True, text=True, timeout=60)


def expect_error(result, fragment, code=None):
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert result.returncode > 0, "expected a non-zero exit, got %d" % result.returncode
    if code is not None:
        assert result.returncode == code, (result.returncode, result.stderr)
    assert len(lines) == 1, "expected one error line, got:\n" + result.stderr
    assert lines[0].startswith("edgesplitctl: error: "), lines[0]
    assert fragment in lines[0], "%r not in %r" % (fragment, lines[0])
    print("ok:", lines[0])


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    addr = "127.0.0.1:%d" % server.server_address[1]
    gen = ["generate", "--addr", addr, "--deployment", "d"]
    try:
        # Flags become the documented request body.
        r = ctl(*gen, "--prompt-tokens", "5,17,42", "--max-new-tokens", "3", "--temperature", "0.5", "--top-k", "4",
                "--top-p", "0.9", "--seed", "18446744073709551615", "--stop-tokens", "2,3", "--json")
        assert r.returncode == 0, r.stderr
        assert bodies[-1] == {"prompt_tokens": [5, 17, 42], "max_new_tokens": 3, "temperature": 0.5, "top_k": 4,
                              "top_p": 0.9, "seed": 18446744073709551615, "stop_tokens": [2, 3], "stream": False}, bodies[-1]
        assert json.loads(r.stdout)["tokens"] == TOKENS, r.stdout
        # Plain output: the tokens, then a summary line.
        r = ctl(*gen, "--prompt-tokens", "5", "--max-new-tokens", "3")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "7 8 9", lines
        assert lines[1].startswith("finish_reason=length prompt_tokens=1 tokens=3"), lines

        # --stream prints each token as its event arrives (the server waits for it before the next).
        pace["on"] = True
        p = subprocess.Popen([CTL, *gen, "--prompt-tokens", "5", "--max-new-tokens", "3", "--stream"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen = b""
        for i, t in enumerate(TOKENS):
            want = (" ".join(str(x) for x in TOKENS[: i + 1])).encode()
            while not seen.startswith(want):
                c = p.stdout.read(1)
                assert c, "stream output ended early: %r" % seen
                seen += c
            printed[i].set()
        rest, err = p.communicate(timeout=30)
        pace["on"] = False
        assert p.returncode == 0, err
        out = (seen + rest).decode().splitlines()
        assert out[0] == "7 8 9", out
        assert out[1].startswith("finish_reason=length"), out
        assert bodies[-1]["stream"] is True
        print("ok: streamed tokens printed one by one")

        # --stream --json: one JSON line per token event, then the final object.
        r = ctl(*gen, "--prompt-tokens", "5", "--max-new-tokens", "3", "--stream", "--json")
        assert r.returncode == 0, r.stderr
        objs = [json.loads(l) for l in r.stdout.splitlines()]
        assert [o["token"] for o in objs[:3]] == TOKENS, objs
        assert objs[3]["done"] is True and objs[3]["tokens"] == TOKENS, objs

        # Server errors: before the stream (HTTP status) and mid-stream (error event).
        expect_error(ctl(*gen, "--prompt-tokens", "13", "--stream"), "resource_exhausted: too many sessions", 1)
        expect_error(ctl("generate", "--addr", addr, "--deployment", "x", "--prompt-tokens", "1"), "not_found", 1)
        expect_error(ctl(*gen, "--prompt-tokens", "5", "--max-new-tokens", "3", "--stop-tokens", "1", "--stream"),
                     "unavailable: stage down", 1)
        expect_error(ctl("generate", "--addr", "127.0.0.1:1", "--deployment", "d", "--prompt-tokens", "1"),
                     "unavailable", 1)

        # Bad flags: one line, exit 2, nothing sent.
        sent = len(bodies)
        expect_error(ctl("generate", "--addr", addr, "--prompt-tokens", "1"), "--deployment", 2)
        expect_error(ctl(*gen), "--prompt-tokens", 2)
        expect_error(ctl(*gen, "--prompt-tokens", "1,x"), "--prompt-tokens: 'x'", 2)
        expect_error(ctl(*gen, "--prompt-tokens", "1", "--max-new-tokens", "abc"), "--max-new-tokens", 2)
        expect_error(ctl(*gen, "--prompt-tokens", "1", "--max-new-tokens", "0"), "--max-new-tokens", 2)
        expect_error(ctl(*gen, "--prompt-tokens", "1", "--temperature", "-1"), "--temperature", 2)
        expect_error(ctl(*gen, "--prompt-tokens", "1", "--top-p", "nan"), "--top-p", 2)
        expect_error(ctl(*gen, "--prompt-tokens", "1", "--top-k", "-2"), "--top-k", 2)
        expect_error(ctl(*gen, "--prompt-tokens", "1", "--seed", "-1"), "--seed", 2)
        expect_error(ctl(*gen, "--prompt-tokens", "1", "--stop-tokens", "a"), "--stop-tokens", 2)
        expect_error(ctl(*gen, "--prompt-tokens", "1", "--bogus", "1"), "bogus", 2)
        assert len(bodies) == sent, "a bad flag reached the server"

        # load --generate-sessions: N concurrent streamed sessions, JSON report.
        sent = len(bodies)
        r = ctl("load", "--addr", addr, "--deployment", "d", "--generate-sessions", "3", "--prompt-len", "4",
                "--new-tokens", "5", "--json")
        assert r.returncode == 0, r.stderr
        rep = json.loads(r.stdout)
        assert rep["sessions"] == 3 and rep["sessions_ok"] == 3 and rep["sessions_failed"] == 0, rep
        assert rep["tokens"] == 15, rep
        for k in ("tokens_per_s", "ttft_p50_ms", "inter_token_p50_ms"):
            assert rep[k] >= 0, rep
        new = bodies[sent:]
        assert len(new) == 3 and all(b["stream"] and len(b["prompt_tokens"]) == 4 and b["max_new_tokens"] == 5 and
                                     all(0 <= t < 50 for t in b["prompt_tokens"]) for b in new), new
        print("ok: load report", rep)
        expect_error(ctl("load", "--addr", addr, "--deployment", "d", "--generate-sessions", "0"), "--generate-sessions", 2)
        expect_error(ctl("load", "--addr", addr, "--deployment", "d", "--generate-sessions", "x"), "--generate-sessions", 2)
        expect_error(ctl("load", "--addr", addr, "--generate-sessions", "2"), "--deployment", 2)
        expect_error(ctl("load", "--addr", addr, "--deployment", "d", "--generate-sessions", "2", "--new-tokens", "-1"),
                     "--new-tokens", 2)
        expect_error(ctl("load", "--addr", addr, "--deployment", "nope", "--generate-sessions", "2"), "not_found", 1)
    finally:
        server.shutdown()
    print("cli_generate_test: ok")


if __name__ == "__main__":
    main()
