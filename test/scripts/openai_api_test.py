#!/usr/bin/python3
"""Issue 10, tokenizer, text and the OpenAI-compatible API, with real processes on loopback.

A SentencePiece model is trained here with Debian's spm_train on the repository's docs (never a
downloaded one) and put in a synthetic GPT package (`model synth --tokenizer`). Then:
- `model tokenize` / `detokenize` give what the Python binding (python3-sentencepiece) gives on
  the same model; a package whose vocab is smaller than the tokenizer's is refused;
- a real orchestrator and three real agents (mutual TLS) serve it split; a client that follows
  OpenAI's wire format (http.client, SSE parsed by hand) streams /v1/completions and
  /v1/chat/completions: text_completion / chat.completion.chunk objects, usage in the last,
  `data: [DONE]`; the streamed token ids are the native generate endpoint's for the same seed,
  and the streamed text is the Python binding's decode of them;
- greedy text through the API equals `model generate --prompt` run whole in one process;
- `edgesplitctl generate --prompt` prints the same text as it streams;
- bad text gets a 400 with an OpenAI error object: invalid UTF-8, an empty prompt, a prompt
  beyond the context, an unsupported field (named).
Bounded: every wait has a deadline; a few dozen short generations."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import sentencepiece as spm

BIN = os.environ.get("ES_BIN_DIR", "build/bin")
SRC = os.environ.get("ES_SOURCE_DIR", ".")
TMP = os.path.join(os.environ.get("ES_TEST_TMP", "/tmp"), "openai-%d" % os.getpid())
CTL = os.path.join(BIN, "edgesplitctl")
CONTEXT = 96
VOCAB = 512
PIECES = 500


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_until(pred, seconds, what):
    deadline = time.time() + seconds
    while True:
        v = pred()
        if v:
            return v
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def ctl(*args):
    return subprocess.run([CTL, *args], capture_output=True, timeout=120)


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stderr.decode(errors="replace"))
    return r.stdout.decode()


def expect_error(r, fragment, code):
    lines = [l for l in r.stderr.decode(errors="replace").splitlines() if l.strip()]
    assert r.returncode == code, (r.returncode, lines)
    assert len(lines) == 1 and lines[0].startswith("edgesplitctl: error: "), lines
    assert fragment in lines[0], (fragment, lines[0])
    print("ok:", lines[0])


def train_tokenizer():
    corpus = os.path.join(TMP, "corpus.txt")
    with open(corpus, "w") as out:
        for name in ["README.md"] + ["docs/" + f for f in sorted(os.listdir(os.path.join(SRC, "docs"))) if f.endswith(".md")]:
            with open(os.path.join(SRC, name)) as f:
                out.write(f.read() + "\n")
    prefix = os.path.join(TMP, "sp")
    r = subprocess.run(["spm_train", "--input=" + corpus, "--model_prefix=" + prefix, "--vocab_size=%d" % PIECES,
                        "--byte_fallback=true", "--minloglevel=2"],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    return prefix + ".model"


class Site:
    def __init__(self):
        (self.control, self.http, *rest) = free_ports(8)
        self.agents = {"a1": rest[0:2], "a2": rest[2:4], "a3": rest[4:6]}
        self.procs = {}
        self.slowdown = "4"  # emulated, so that the period objective splits a small model
        pki = os.path.join(TMP, "pki")
        subprocess.run([CTL, "pki", "init", "--dir", pki], check=True, stdout=subprocess.DEVNULL)
        for name, role in [("orchestrator", "orchestrator"), ("a1", "agent"), ("a2", "agent"), ("a3", "agent")]:
            subprocess.run([CTL, "pki", "issue", "--dir", pki, "--name", name, "--role", role], check=True,
                           stdout=subprocess.DEVNULL)
        self.tls = lambda n: ["--tls-ca", os.path.join(pki, "ca.crt"), "--tls-cert", os.path.join(pki, n + ".crt"),
                              "--tls-key", os.path.join(pki, n + ".key")]

    def start(self):
        log = open(os.path.join(TMP, "orchestrator.log"), "a")
        self.procs["orch"] = subprocess.Popen(
            [os.path.join(BIN, "edgesplit-orchestrator"), "--control-listen", "127.0.0.1:%d" % self.control,
             "--http-listen", "127.0.0.1:%d" % self.http, "--models-dir", os.path.join(TMP, "models"),
             "--state-dir", os.path.join(TMP, "state"), "--heartbeat-period-ms", "100", "--set", "trusted_nodes=a1,a2,a3", *self.tls("orchestrator")],
            stdout=log, stderr=log)
        wait_until(self.ready, 30, "orchestrator ready")
        for name, (data, http_port) in self.agents.items():
            log = open(os.path.join(TMP, name + ".log"), "a")
            self.procs[name] = subprocess.Popen(
                [os.path.join(BIN, "edgesplit-agent"), "--node", name, "--orchestrator", "127.0.0.1:%d" % self.control,
                 "--data-listen", "127.0.0.1:%d" % data, "--http-listen", "127.0.0.1:%d" % http_port,
                 "--models-dir", os.path.join(TMP, "models"), "--heartbeat-period-ms", "100",
                 "--intra-op-threads", "1", "--compute-slowdown", self.slowdown, *self.tls(name)], stdout=log, stderr=log)

    def ready(self):
        try:
            return urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.http, timeout=1).status == 200
        except OSError:
            return False

    def request(self, method, path, body=None, raw=None):
        """(status, headers, body bytes) of one request; `raw` sends bytes as they are."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=60)
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        out = resp.status, dict(resp.getheaders()), resp.read()
        conn.close()
        return out

    def call(self, method, path, body=None, raw=None):
        st, _, data = self.request(method, path, body, raw)
        return st, json.loads(data or b"{}")

    def stream(self, path, body, arrivals=False):
        """An OpenAI client's view of a streamed reply: the parsed `data:` objects, and whether
        the stream ended with [DONE]. SSE parsed line by line as it arrives (`arrivals`: each
        object also carries `_arrival`, the time.time() it was read)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=60)
        conn.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json",
                                                                           "Accept": "text/event-stream"})
        resp = conn.getresponse()
        assert resp.status == 200, (resp.status, resp.read())
        assert resp.getheader("Content-Type").startswith("text/event-stream"), resp.getheaders()
        events, done, data = [], False, []
        while True:
            line = resp.fp.readline()  # http.client undoes the chunked transfer encoding
            if not line:
                break
            line = line.decode().rstrip("\r\n")
            if line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
            elif line == "" and data:
                payload = "\n".join(data)
                data = []
                assert not done, "data after [DONE]"
                if payload == "[DONE]":
                    done = True
                else:
                    events.append(json.loads(payload))
                    if arrivals:
                        events[-1]["_arrival"] = time.time()
        conn.close()
        return events, done

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def text_of(sp, prompt_ids, ids):
    """The completion's text as the Python binding decodes it: prompt + completion minus the
    prompt. Ids beyond the tokenizer's pieces (the package's vocab is padded past them) have none."""
    ids = [t for t in ids if t < PIECES]
    return sp.decode(prompt_ids + ids)[len(sp.decode(prompt_ids)):]


def check_tokenizer_cli(pkg, sp):
    bos = sp.bos_id()
    for text in ["The orchestrator plans each deployment.", "edge agents serve segments over TLS",
                 "grüße, 你好 😀 ok", "  spaces   inside  "]:
        want = [bos] + sp.encode(text)
        got = [int(x) for x in ok(ctl("model", "tokenize", "--model", pkg, "--text", text)).strip().split(",")]
        assert got == want, (text, got, want)
        no_bos = [int(x) for x in ok(ctl("model", "tokenize", "--model", pkg, "--text", text, "--no-bos")).strip().split(",")]
        assert no_bos == sp.encode(text), (text, no_bos)
        j = json.loads(ok(ctl("model", "tokenize", "--model", pkg, "--text", text, "--json")))
        assert j["tokens"] == want and j["count"] == len(want), j
        back = json.loads(ok(ctl("model", "detokenize", "--model", pkg, "--tokens", ",".join(map(str, want)), "--json")))
        assert back["text"] == sp.decode(want), (back, sp.decode(want))
    print("ok: tokenize/detokenize match the Python binding")
    # Bad input: one line each.
    expect_error(subprocess.run([os.fsencode(CTL), b"model", b"tokenize", b"--model", os.fsencode(pkg), b"--text",
                                 b"ab\xff"], capture_output=True, timeout=60), "not valid UTF-8", 2)
    expect_error(ctl("model", "detokenize", "--model", pkg, "--tokens", "5,%d" % PIECES), "outside the tokenizer's vocabulary", 2)
    expect_error(ctl("model", "tokenize", "--model", pkg), "--text", 2)


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(os.path.join(TMP, "models"))
    model_file = train_tokenizer()
    sp = spm.SentencePieceProcessor(model_file=model_file)
    assert sp.get_piece_size() == PIECES
    eos = sp.eos_id()

    pkg = os.path.join(TMP, "models", "tiny")
    synth = ["model", "synth", "--family", "gpt", "--layers", "4", "--d-model", "32", "--heads", "2", "--seq", "8",
             "--max-context", str(CONTEXT), "--seed", "3", "--tokenizer", model_file]
    expect_error(ctl(*synth, "--vocab", "400", "--out", os.path.join(TMP, "small")), "more than --vocab 400", 2)
    assert not os.path.exists(os.path.join(TMP, "small", "model.yaml"))
    ok(ctl(*synth, "--vocab", str(VOCAB), "--out", pkg))
    ok(ctl("model", "verify", pkg))  # the tokenizer's sha256 too
    # The reference profile on this machine, with its compute probe time: the planner prices a
    # node by its measured speed relative to that (the agents below are emulated 4x slower).
    profile = ok(ctl("model", "profile", "--model", pkg, "--runs", "5", "--json"))
    assert json.loads(profile)["probe_ms"] > 0, profile
    with open(os.path.join(pkg, "profile.json"), "w") as f:
        f.write(profile)
    check_tokenizer_cli(pkg, sp)

    prompt = "The orchestrator plans"
    prompt_ids = [sp.bos_id()] + sp.encode(prompt)
    local = json.loads(ok(ctl("model", "generate", "--model", pkg, "--prompt", prompt, "--max-new-tokens", "12",
                              "--json")))
    assert local["tokens"], local
    assert local["text"] == text_of(sp, prompt_ids, local["tokens"]), local
    print("ok: model generate --prompt (whole, one process):", repr(local["text"]))

    site = Site()
    try:
        site.start()
        wait_until(lambda: len([n for n in site.call("GET", "/v1/nodes")[1]["nodes"] if n["state"] == "alive"]) == 3,
                   60, "3 agents alive")
        # The plan prices compute with each node's measured speed (its compute probe): deploy
        # once every agent has measured it.
        wait_until(lambda: all(n["speed_measured"] for n in site.call("GET", "/v1/nodes")[1]["nodes"]), 60,
                   "speeds measured")
        st, body = site.call("POST", "/v1/deployments", {"name": "d", "model": "tiny", "objective": "period",
                                                         "max_stages": 3})
        assert st == 201, (st, body)
        dep = wait_until(lambda: (lambda d: d if d.get("epoch", 0) >= 1 and d["status"] == "serving" else None)(
            site.call("GET", "/v1/deployments/d")[1]), 60, "deployment serving")
        # Every agent runs 4x slower (emulated), so the period objective splits the model: the
        # text below comes from a split pipeline and is compared with the whole model in one process.
        assert len(dep["stages"]) >= 2, dep["stages"]
        print("plan:", " -> ".join("%s[%d,%d)" % (s["node"], s["first_layer"], s["end_layer"]) for s in dep["stages"]))

        # GET /v1/models: our catalog, plus OpenAI's list of deployments.
        st, models = site.call("GET", "/v1/models")
        assert st == 200 and [m["name"] for m in models["models"]] == ["tiny"], models
        assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["d"], models
        assert models["data"][0]["object"] == "model" and models["data"][0]["owned_by"] == "edgesplit", models

        # Greedy through the API = the whole model in one process.
        st, c = site.call("POST", "/v1/completions", {"model": "d", "prompt": prompt, "max_tokens": 12,
                                                      "temperature": 0, "return_token_ids": True})
        assert st == 200, (st, c)
        assert c["object"] == "text_completion" and c["choices"][0]["token_ids"] == local["tokens"], (c, local)
        assert c["choices"][0]["text"] == local["text"], (c, local)
        assert c["usage"] == {"prompt_tokens": len(prompt_ids), "completion_tokens": len(local["tokens"]),
                              "total_tokens": len(prompt_ids) + len(local["tokens"])}, c["usage"]
        print("ok: greedy completion equals the whole model:", repr(c["choices"][0]["text"]))

        # Sampled, streamed: the tokens of the native endpoint for the same seed.
        sampling = {"temperature": 0.9, "top_p": 0.95, "seed": 42}
        st, native = site.call("POST", "/v1/deployments/d/generate",
                               {"prompt_tokens": prompt_ids, "max_new_tokens": 20, "stop_tokens": [eos], **sampling})
        assert st == 200, (st, native)
        chunks, done = site.stream("/v1/completions", {"model": "d", "prompt": prompt, "max_tokens": 20, "stream": True,
                                                       "return_token_ids": True, **sampling})
        assert done, "no data: [DONE]"
        ids = [t for ch in chunks for t in ch["choices"][0]["token_ids"]]
        text = "".join(ch["choices"][0]["text"] for ch in chunks)
        assert ids == native["tokens"], (ids, native["tokens"])
        assert text == text_of(sp, prompt_ids, ids), (text, text_of(sp, prompt_ids, ids))
        assert all(ch["object"] == "text_completion" and ch["id"] == chunks[0]["id"] for ch in chunks)
        assert all("usage" not in ch and ch["choices"][0]["finish_reason"] is None for ch in chunks[:-1]), chunks
        last = chunks[-1]
        assert last["choices"][0]["finish_reason"] == native["finish_reason"], (last, native)
        assert last["usage"]["completion_tokens"] == len(ids) and last["usage"]["prompt_tokens"] == len(prompt_ids)
        print("ok: streamed completion = native tokens (%d), text %r" % (len(ids), text))

        # Chat, streamed: the documented template, the role first, tokens as native.
        messages = [{"role": "system", "content": "You answer briefly."}, {"role": "user", "content": "What runs where?"}]
        rendered = "".join("<|%s|>\n%s\n" % (m["role"], m["content"]) for m in messages) + "<|assistant|>\n"
        chat_ids = [sp.bos_id()] + sp.encode(rendered)
        st, native = site.call("POST", "/v1/deployments/d/generate",
                               {"prompt_tokens": chat_ids, "max_new_tokens": 16, "stop_tokens": [eos], **sampling})
        assert st == 200, (st, native)
        chunks, done = site.stream("/v1/chat/completions", {"model": "d", "messages": messages, "max_tokens": 16,
                                                            "stream": True, "return_token_ids": True, **sampling})
        assert done
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant", chunks[0]
        assert all(ch["object"] == "chat.completion.chunk" for ch in chunks)
        ids = [t for ch in chunks for t in ch["choices"][0]["token_ids"]]
        content = "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks)
        assert ids == native["tokens"], (ids, native["tokens"])
        assert content == text_of(sp, chat_ids, ids), (content, text_of(sp, chat_ids, ids))
        assert chunks[-1]["usage"]["prompt_tokens"] == len(chat_ids), chunks[-1]
        st, whole = site.call("POST", "/v1/chat/completions", {"model": "d", "messages": messages, "max_tokens": 16,
                                                              **sampling})
        assert st == 200 and whole["object"] == "chat.completion", whole
        assert whole["choices"][0]["message"] == {"role": "assistant", "content": content}, whole
        print("ok: streamed chat = native tokens, content %r" % content)

        # edgesplitctl generate --prompt prints the completion's text.
        out = ok(ctl("generate", "--addr", "127.0.0.1:%d" % site.http, "--deployment", "d", "--prompt", prompt,
                     "--max-new-tokens", "12"))
        printed, summary = out.rsplit("\nfinish_reason=", 1)
        assert printed == local["text"], (printed, local["text"])
        assert summary.startswith("%s prompt_tokens=%d tokens=%d" % (c["choices"][0]["finish_reason"], len(prompt_ids),
                                                                     len(local["tokens"]))), summary
        print("ok: edgesplitctl generate --prompt printed %r" % printed)

        # Bad text: 400 with an OpenAI error object.
        def refused(body=None, raw=None, path="/v1/completions", status=400):
            st, e = site.call("POST", path, body, raw)
            assert st == status, (st, e)
            err = e["error"]
            assert set(err) == {"message", "type", "param", "code"}, err
            assert err["type"] == "invalid_request_error" if status == 400 else True, err
            return err
        err = refused(raw=b'{"model": "d", "prompt": "ab\xff"}')
        assert "not valid UTF-8" in err["message"], err
        err = refused({"model": "d", "prompt": ""})
        assert err["message"] == "prompt: must not be empty" and err["param"] == "prompt", err
        err = refused({"model": "d", "prompt": "orchestrator " * CONTEXT})
        assert "the model's context is %d" % CONTEXT in err["message"], err
        err = refused({"model": "d", "prompt": prompt, "max_tokens": CONTEXT})
        assert err["param"] == "max_tokens", err
        err = refused({"model": "d", "prompt": prompt, "logprobs": 3})
        assert err["param"] == "logprobs" and "not supported" in err["message"], err
        err = refused({"model": "d", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]},
                      path="/v1/chat/completions")
        assert err["param"] == "tools", err
        err = refused({"model": "nope", "prompt": prompt}, status=404)
        assert err["param"] == "model", err
        print("ok: bad text refused with OpenAI error objects")
        expect_error(ctl("generate", "--addr", "127.0.0.1:%d" % site.http, "--deployment", "d", "--prompt", ""),
                     "--prompt: must not be empty", 2)
        expect_error(ctl("generate", "--addr", "127.0.0.1:%d" % site.http, "--deployment", "d", "--prompt",
                         "orchestrator " * CONTEXT), "context", 1)
    finally:
        site.stop()
    print("openai_api_test: ok")


if __name__ == "__main__":
    main()
