#!/usr/bin/python3
"""Issue 10's real run, as a test: a Llama-architecture checkpoint on local disk (Hugging Face
layout, bf16 safetensors, a SentencePiece tokenizer trained here with spm_train on the
repository's docs, and tokenizer_config.json with TinyLlama's Jinja chat template) exported with
scripts/edgesplit_export.py, deployed over three real agents (mutual TLS), and asked through
POST /v1/chat/completions with streaming.

- The exporter turns the Jinja template into the package's per-role template (model.yaml
  `chat_template`); `edgesplitctl model chat` gives the ids of Jinja's own render, cut at `</s>`
  (EOS as its id, the pieces between encoded by the Python binding), as Hugging Face does.
- The plan uses all three agents; the streamed chat tokens (greedy, and sampled with a seed)
  equal `edgesplitctl model generate --messages` run whole in one process, and the streamed text
  is the Python binding's decode of them.
- A template whose system prompt lives inside the first user turn (Llama 2's) keeps user and
  assistant and refuses system messages by name; a template that is not per-role is refused at
  export with one clear error.
Bounded: every wait has a deadline; a few short generations."""
import json
import os
import shutil
import subprocess
import sys
import time

import sentencepiece as spm
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import llama_ckpt_lib as lib  # noqa: E402
import openai_api_test as oa  # noqa: E402

import es_chat_template  # noqa: E402

TMP = os.path.join(os.environ.get("ES_TEST_TMP", "/tmp"), "llama-chat-%d" % os.getpid())
oa.TMP = TMP  # the shared helpers (tokenizer training, the site) work in this test's directory
EXPORT = os.path.join(HERE, "..", "..", "scripts", "edgesplit_export.py")

# TinyLlama-1.1B-Chat's template (Zephyr's), as its tokenizer_config.json ships it.
ZEPHYR = ("{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
          "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
          "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
          "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}")
# Llama 2 chat's: the system prompt goes inside the first [INST].
LLAMA2 = ("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
          "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}"
          "{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
          "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
          "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
          "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
          "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
          "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
          "{% endfor %}")
VOCAB = 512


# Model shapes: `test` (CI), `anchor` (../shared/ANCHORS.md's: 12 layers, d_model 512, 8 heads,
# FFN 2048, vocab 32000; `--shape anchor` runs the documented run of docs/performance.md).
SHAPES = {
    "test": dict(hidden_size=128, intermediate_size=344, num_hidden_layers=6, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=160, vocab_size=VOCAB, tie_word_embeddings=True),
    "anchor": dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                   num_key_value_heads=8, max_position_embeddings=256, vocab_size=32000, tie_word_embeddings=False),
}
SHAPE = "test"


def write_checkpoint(directory, sp_model, template):
    cfg = lib.base_config(torch_dtype="bfloat16", **SHAPES[SHAPE])
    lib.write_checkpoint(directory, cfg, lib.random_tensors(cfg, seed=11), file_dtype=torch.bfloat16, shards=2)
    shutil.copyfile(sp_model, os.path.join(directory, "tokenizer.model"))
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": {"content": "</s>", "special": True}, "chat_template": template,
                   "added_tokens_decoder": {"0": {"content": "<unk>", "special": True},
                                            "1": {"content": "<s>", "special": True},
                                            "2": {"content": "</s>", "special": True}}}, f)


def export(ckpt, out, *extra):
    ctx = str(SHAPES[SHAPE]["max_position_embeddings"])
    return subprocess.run(["/usr/bin/python3", EXPORT, "--model", "llama", "--checkpoint", ckpt, "--out", out,
                           "--dtype", "bfloat16", "--max-context", ctx, "--seq", "16", *extra],
                          capture_output=True, timeout=300)


def hf_ids(sp, template, messages):
    """What Hugging Face's apply_chat_template(tokenize=True) gives for a SentencePiece Llama
    tokenizer: Jinja's render, special tokens (here `</s>`) as their ids, the text between them
    encoded piece by piece."""
    tmpl = es_chat_template._jinja_renderer(template)
    text = tmpl.render(messages=messages, add_generation_prompt=True, bos_token="<s>", eos_token="</s>")
    ids = []
    for i, chunk in enumerate(text.split("</s>")):
        if i:
            ids.append(sp.eos_id())
        if chunk:
            ids += sp.encode(chunk)
    return text, ids


CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
          "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
LLAMA3 = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
          "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
          "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")


def check_derivations():
    """The per-role parts of real templates (no serving): ChatML and Llama 3 keep all three roles."""
    t, dropped = es_chat_template.derive(CHATML, "<s>", "</s>")
    assert not dropped and t["roles"]["system"] == {"prefix": "<|im_start|>system\n", "suffix": "<|im_end|>\n"}, t
    assert t["generation"] == "<|im_start|>assistant\n" and t["begin"] == "", t
    t, dropped = es_chat_template.derive(LLAMA3, "<|begin_of_text|>", "<|eot_id|>")
    assert not dropped and t["begin"] == "<|begin_of_text|>", t
    assert t["roles"]["user"] == {"prefix": "<|start_header_id|>user<|end_header_id|>\n\n", "suffix": "<|eot_id|>"}, t
    assert es_chat_template.specials(t, {"<|begin_of_text|>": 128000, "<|eot_id|>": 128009, "<|unused|>": 5}) == \
        {"<|begin_of_text|>": 128000, "<|eot_id|>": 128009}
    print("ok: ChatML and Llama 3 templates derive with system, user and assistant")


def main():
    os.makedirs(TMP, exist_ok=True)
    check_derivations()
    site = None
    try:
        sp_model = oa.train_tokenizer()
        sp = spm.SentencePieceProcessor(model_file=sp_model)
        models = os.path.join(TMP, "models")
        ckpt, pkg = os.path.join(TMP, "ckpt"), os.path.join(models, "tinychat")
        write_checkpoint(ckpt, sp_model, ZEPHYR)
        r = export(ckpt, pkg, "--name", "tinychat")
        assert r.returncode == 0, r.stderr.decode()
        print("exported:", r.stdout.decode().strip())
        with open(os.path.join(pkg, "model.yaml")) as f:
            line = [l for l in f if l.startswith("chat_template:")][0]
        tmpl = json.loads(line[len("chat_template:"):])
        assert tmpl == {"begin": "", "generation": "<|assistant|>\n", "special": {"</s>": 2},
                        "roles": {r: {"prefix": "<|%s|>\n" % r, "suffix": "</s>\n"} for r in ("system", "user", "assistant")}
                        }, tmpl
        print("ok: model.yaml chat_template", json.dumps(tmpl))

        # The package's template gives Hugging Face's ids (Jinja's render, </s> as EOS).
        convs = [
            [{"role": "user", "content": "How are the layers placed?"}],
            [{"role": "system", "content": "You answer briefly."}, {"role": "user", "content": "What runs where?"},
             {"role": "assistant", "content": "The agents run segments."}, {"role": "user", "content": "And the keys?"}],
            [{"role": "user", "content": "a </s> typed by a user is text"}],
        ]
        for conv in convs:
            text, want = hf_ids(sp, ZEPHYR, conv)
            got = json.loads(oa.ok(oa.ctl("model", "chat", "--model", pkg, "--messages", json.dumps(conv), "--json")))
            if "typed" in conv[0]["content"]:
                # Content is only text: the user's "</s>" is encoded as text, where HF (which
                # parses specials everywhere) would make it EOS.
                assert got["tokens"].count(2) == 1 and got["text"] == text, got
                continue
            assert got["text"] == text and got["tokens"] == want and got["template"] == "package", (got, text, want)
        print("ok: model chat gives Jinja's render and Hugging Face's ids for %d conversations" % len(convs))

        site = oa.Site()
        if SHAPE == "anchor":
            site.slowdown = "1"  # the real speed: the figures below are the run's own
        site.start()
        oa.wait_until(lambda: len([n for n in site.call("GET", "/v1/nodes")[1]["nodes"] if n["state"] == "alive"]) == 3,
                      60, "3 agents alive")
        oa.wait_until(lambda: all(n["speed_measured"] for n in site.call("GET", "/v1/nodes")[1]["nodes"]), 60,
                      "speeds measured")
        st, body = site.call("POST", "/v1/deployments", {"name": "chat", "model": "tinychat", "objective": "period",
                                                         "max_stages": 3})
        assert st == 201, (st, body)
        dep = oa.wait_until(lambda: (lambda d: d if d.get("epoch", 0) >= 1 and d["status"] == "serving" else None)(
            site.call("GET", "/v1/deployments/chat")[1]), 90, "deployment serving")
        plan = " -> ".join("%s[%d,%d)" % (s["node"], s["first_layer"], s["end_layer"]) for s in dep["stages"])
        # Three equally (4x emulated) slow agents and the period objective: a three-way split.
        assert sorted(s["node"] for s in dep["stages"]) == ["a1", "a2", "a3"], plan
        print("plan:", plan)

        messages = convs[1]
        chat_ids = hf_ids(sp, ZEPHYR, messages)[1]
        n_new = 24 if SHAPE == "test" else 64
        figures = []
        for sampling in ({"temperature": 0}, {"temperature": 0.8, "top_p": 0.9, "seed": 7}):
            flags = ["--temperature", str(sampling["temperature"])]
            if "seed" in sampling:
                flags += ["--top-p", str(sampling["top_p"]), "--seed", str(sampling["seed"])]
            local = json.loads(oa.ok(oa.ctl("model", "generate", "--model", pkg, "--messages", json.dumps(messages),
                                            "--max-new-tokens", str(n_new), "--json", *flags)))
            t0 = time.time()
            chunks, done = site.stream("/v1/chat/completions", {"model": "chat", "messages": messages, "max_tokens": n_new,
                                                                "stream": True, "return_token_ids": True, **sampling},
                                       arrivals=True)
            at = [ch.pop("_arrival") - t0 for ch in chunks]
            gaps = sorted(1000 * (b - a) for a, b in zip(at, at[1:]))
            figures.append({"sampling": sampling, "tokens": len(local["tokens"]), "prompt_tokens": len(chat_ids),
                            "whole_ttft_ms": local["ttft_ms"], "whole_ms_per_token_p50": local["ms_per_token_p50"],
                            "split_ttft_ms": round(1000 * at[0], 1) if at else None,
                            "split_ms_per_token_p50": round(gaps[len(gaps) // 2], 2) if gaps else None})
            assert done, "no data: [DONE]"
            assert chunks[0]["choices"][0]["delta"]["role"] == "assistant", chunks[0]
            assert all(ch["object"] == "chat.completion.chunk" for ch in chunks)
            ids = [t for ch in chunks for t in ch["choices"][0]["token_ids"]]
            content = "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks)
            assert ids == local["tokens"], (sampling, ids, local["tokens"])
            assert content == oa.text_of(sp, chat_ids, ids), (content, oa.text_of(sp, chat_ids, ids))
            assert chunks[-1]["usage"]["prompt_tokens"] == len(chat_ids), chunks[-1]
            print("ok: streamed chat over %s %s = the whole model in one process: %d tokens, %r"
                  % (plan, json.dumps(sampling), len(ids), content))
        print(json.dumps({"shape": SHAPE, "plan": plan, "runs": figures}))
        site.stop()
        site = None
        if SHAPE != "test":
            return

        # Llama 2's template: the system prompt has no per-role form; that role is left out.
        ckpt2, pkg2 = os.path.join(TMP, "ckpt2"), os.path.join(TMP, "llama2chat")
        write_checkpoint(ckpt2, sp_model, LLAMA2)
        r = export(ckpt2, pkg2)
        assert r.returncode == 0, r.stderr.decode()
        assert "no per-role form for system messages" in r.stdout.decode(), r.stdout.decode()
        conv = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "Bye"}]
        text, want = hf_ids(sp, LLAMA2, conv)
        # Llama 2's bos_token inside the template: "<s>" is BOS's id, as HF makes it.
        want = []
        for i, part in enumerate(text.split("<s>")):
            if i:
                want.append(sp.bos_id())
            for j, chunk in enumerate(part.split("</s>")):
                if j:
                    want.append(sp.eos_id())
                if chunk:
                    want += sp.encode(chunk)
        got = json.loads(oa.ok(oa.ctl("model", "chat", "--model", pkg2, "--messages", json.dumps(conv), "--json")))
        assert got["text"] == text and got["tokens"] == want, (got, text, want)
        oa.expect_error(oa.ctl("model", "chat", "--model", pkg2, "--messages",
                               json.dumps([{"role": "system", "content": "S"}] + conv)),
                        "messages[0].role: this model's chat template has no 'system' role", 2)
        print("ok: Llama 2's template: user/assistant as Jinja renders them, system refused")

        # Not a per-role template (it numbers the turns): refused at export, naming the way out.
        bad = "{% for m in messages %}{{ loop.index }}: {{ m['content'] }}\n{% endfor %}"
        with open(os.path.join(ckpt2, "tokenizer_config.json"), "w") as f:
            json.dump({"bos_token": "<s>", "eos_token": "</s>", "chat_template": bad}, f)
        r = export(ckpt2, os.path.join(TMP, "bad"))
        err = r.stderr.decode().strip().splitlines()
        assert r.returncode == 1 and len(err) == 1, (r.returncode, err)
        assert err[0].startswith("edgesplit_export: error: tokenizer_config.json: chat_template: ") and \
            "--chat-template" in err[0], err
        assert not os.path.exists(os.path.join(TMP, "bad", "model.yaml"))
        print("ok:", err[0][:160])
        # ... and --chat-template none exports it with the default template.
        r = export(ckpt2, os.path.join(TMP, "plain"), "--chat-template", "none")
        assert r.returncode == 0, r.stderr.decode()
        got = json.loads(oa.ok(oa.ctl("model", "chat", "--model", os.path.join(TMP, "plain"), "--messages",
                                      json.dumps(conv[:1]), "--json")))
        assert got["template"] == "default" and got["text"] == "<|user|>\nHi\n<|assistant|>\n", got
        print("ok: --chat-template none: the default template")
        print("llama_chat_test: ok")
    finally:
        if site:
            site.stop()
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--shape" and sys.argv[2] in SHAPES:
        SHAPE = sys.argv[2]
    elif len(sys.argv) != 1:
        sys.exit("usage: llama_chat_test.py [--shape test|anchor]")
    main()
