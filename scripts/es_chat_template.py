"""The chat template of a Llama-family checkpoint, as the package carries it (docs/model-package.md,
`chat_template`): a `begin` string, a prefix and suffix per role around each message's content,
a `generation` string the model continues after, and the template strings that stand for single
token ids (`special`).

Hugging Face checkpoints give their template as Jinja (tokenizer_config.json `chat_template`).
edgesplit does not run Jinja where it serves: the template is rendered here, at export time, with
python3-jinja2 on probe conversations, its per-role parts are read off the renders, and the parts
are checked by composing conversations and comparing them with Jinja's own renders. A template
that is not of that per-role shape (Llama 2's system prompt inside the first user turn, say) keeps
the roles that compose and drops the rest by name; one where even user/assistant do not compose is
refused with one clear error. Nothing is guessed silently.
"""
import json
import os

ROLES = ("system", "user", "assistant")
MAX_TEMPLATE_BYTES = 4096  # common/model/chat_template.h kMaxChatTemplateBytes


class TemplateError(Exception):
    pass


def _token_text(v):
    """tokenizer_config.json gives bos_token/eos_token as a string or as {"content": ...}."""
    if isinstance(v, dict):
        v = v.get("content")
    return v if isinstance(v, str) and v else None


def _jinja_renderer(source):
    try:
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        raise TemplateError("reading a Jinja chat template needs python3-jinja2 (apt install python3-jinja2); "
                            "or pass --chat-template none")

    def raise_exception(msg):
        raise TemplateError("the template raised: %s" % msg)

    # As transformers' apply_chat_template sets it up.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    try:
        tmpl = env.from_string(source)
    except jinja2.TemplateError as e:
        raise TemplateError("not a valid Jinja template: %s" % e)
    return tmpl


def _strip_prefix(s, p, what):
    if not s.startswith(p):
        raise TemplateError(what)
    return s[len(p):]


def _strip_suffix(s, p, what):
    if not s.endswith(p):
        raise TemplateError(what)
    return s[:len(s) - len(p)] if p else s


def _split(text, markers):
    """text cut at each marker in order: len(markers) + 1 pieces; TemplateError if one is missing."""
    out, rest = [], text
    for m in markers:
        i = rest.find(m)
        if i < 0:
            raise TemplateError("a message's content does not appear verbatim in the render")
        out.append(rest[:i])
        rest = rest[i + len(m):]
    out.append(rest)
    return out


def compose(t, messages, add_generation_prompt):
    """What the C++ side renders (common/model/chat_template.cc EncodeChat), as text."""
    out = t["begin"]
    for m in messages:
        pre, suf = t["roles"][m["role"]]["prefix"], t["roles"][m["role"]]["suffix"]
        out += pre + m["content"] + suf
    return out + (t["generation"] if add_generation_prompt else "")


# Conversations the derived parts must reproduce exactly (with and without a generation prompt).
def _probes(with_system):
    conv = [
        [{"role": "user", "content": "Hello there."}],
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
         {"role": "user", "content": "Tell me a joke."}],
        [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
         {"role": "assistant", "content": "d"}],
    ]
    if with_system:
        conv += [[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Why?"}],
                 [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
                  {"role": "assistant", "content": "A1"}, {"role": "user", "content": "U2"}]]
    return conv


def derive(source, bos_token, eos_token):
    """Per-role parts of a Jinja chat template. Returns (template dict without `special`, dropped roles)."""
    tmpl = _jinja_renderer(source)

    def render(msgs, gen=False):
        try:
            return tmpl.render(messages=msgs, add_generation_prompt=gen, bos_token=bos_token or "",
                               eos_token=eos_token or "")
        except TemplateError:
            raise
        except Exception as e:  # a template bug or an unsupported construct: say which
            raise TemplateError("rendering failed: %s: %s" % (type(e).__name__, e))

    X = ["ESCHATX%dX" % i for i in range(4)]
    u = lambda i: {"role": "user", "content": X[i]}
    a = lambda i: {"role": "assistant", "content": X[i]}
    # [user X0, assistant X1, user X2] = A0 X0 A1 X1 A2 X2 A3
    A0, A1, A2, A3 = _split(render([u(0), a(1), u(2)]), X[:3])
    # [user X0, assistant X1] = B0 X0 B1 X1 B2
    B0, B1, B2 = _split(render([u(0), a(1)]), X[:2])
    if (B0, B1) != (A0, A1):
        raise TemplateError("the render of a turn depends on the turns after it")
    suf_u, suf_a = A3, B2
    pre_a = _strip_prefix(A1, suf_u, "the user suffix does not end the user turn")
    pre_u = _strip_prefix(A2, suf_a, "the assistant suffix does not end the assistant turn")
    begin = _strip_suffix(A0, pre_u, "the first user turn does not start like the later ones")
    g_off, g_on = render([u(0)]), render([u(0)], True)
    generation = _strip_prefix(g_on, g_off, "the generation prompt is not appended after the messages")
    t = {"begin": begin, "roles": {"user": {"prefix": pre_u, "suffix": suf_u},
                                   "assistant": {"prefix": pre_a, "suffix": suf_a}},
         "generation": generation}
    dropped = []
    try:
        # [system X3, user X0] = C0 X3 C1 X0 C2
        C0, C1, C2 = _split(render([{"role": "system", "content": X[3]}, u(0)]), [X[3], X[0]])
        if C2 != suf_u:
            raise TemplateError("system")
        t["roles"]["system"] = {"prefix": _strip_prefix(C0, begin, "system"),
                                "suffix": _strip_suffix(C1, pre_u, "system")}
        check(render, t, with_system=True)
    except TemplateError:
        t["roles"].pop("system", None)
        dropped.append("system")
    check(render, t, with_system=False)
    return t, dropped


def check(render, t, with_system):
    for conv in _probes(with_system):
        for gen in (False, True):
            want, got = render(conv, gen), compose(t, conv, gen)
            if want != got:
                raise TemplateError("it is not a prefix/suffix per role: for %s the template renders %s, the parts "
                                    "give %s" % (json.dumps([m["role"] for m in conv]), json.dumps(want),
                                                 json.dumps(got)))


def specials(t, named_ids):
    """The special strings (text -> id) that occur in the template's own text."""
    text = t["begin"] + t["generation"] + "".join(p["prefix"] + p["suffix"] for p in t["roles"].values())
    return {s: i for s, i in sorted(named_ids.items()) if s and s in text}


def validate(t, where):
    """The structure common/model/manifest.cc accepts; TemplateError naming the key otherwise."""
    if not isinstance(t, dict) or set(t) - {"begin", "roles", "generation", "special"}:
        raise TemplateError("%s: expected {begin, roles, generation, special}" % where)
    roles = t.get("roles")
    if not isinstance(roles, dict) or "user" not in roles:
        raise TemplateError("%s.roles: must map roles to {prefix, suffix} and have a user role" % where)
    size = 0
    for r, ps in roles.items():
        if r not in ROLES:
            raise TemplateError("%s.roles: unknown role %s (system, user or assistant)" % (where, json.dumps(r)))
        if not isinstance(ps, dict) or set(ps) - {"prefix", "suffix"} or \
                not all(isinstance(v, str) for v in ps.values()):
            raise TemplateError("%s.roles.%s: expected {prefix: string, suffix: string}" % (where, r))
        size += sum(len(v.encode()) for v in ps.values())
    for k in ("begin", "generation"):
        if not isinstance(t.get(k, ""), str):
            raise TemplateError("%s.%s: expected a string" % (where, k))
        size += len(t.get(k, "").encode())
    for s, i in (t.get("special") or {}).items():
        if not s or not isinstance(i, int) or isinstance(i, bool) or i < 0:
            raise TemplateError("%s.special: expected non-empty strings mapped to token ids" % where)
        size += len(s.encode())
    if size > MAX_TEMPLATE_BYTES:
        raise TemplateError("%s: %d bytes of text, at most %d" % (where, size, MAX_TEMPLATE_BYTES))
    return {"begin": t.get("begin", ""), "roles": roles, "generation": t.get("generation", ""),
            "special": t.get("special") or {}}


def from_checkpoint(checkpoint, choice, bos_id, eos_id, vocab):
    """The package's chat template, or None. `choice`: "auto" (tokenizer_config.json's chat_template
    when present), "none", a .json file in the package's form, or a file holding a Jinja template."""
    if choice == "none":
        return None, []
    tc_path = os.path.join(checkpoint, "tokenizer_config.json")
    tc = {}
    if os.path.isfile(tc_path):
        try:
            with open(tc_path) as f:
                tc = json.load(f)
        except (OSError, ValueError) as e:
            raise TemplateError("%s: %s" % (tc_path, e))
        if not isinstance(tc, dict):
            raise TemplateError("%s: expected a JSON object" % tc_path)
    bos, eos = _token_text(tc.get("bos_token")), _token_text(tc.get("eos_token"))
    named = {}
    if bos and bos_id is not None:
        named[bos] = bos_id
    if eos and eos_id is not None:
        named[eos] = eos_id
    added = tc.get("added_tokens_decoder")
    if isinstance(added, dict):
        for k, v in added.items():
            if isinstance(v, dict) and v.get("special") and isinstance(v.get("content"), str) and str(k).isdigit():
                named.setdefault(v["content"], int(k))
    named = {s: i for s, i in named.items() if i < vocab}
    where = "tokenizer_config.json: chat_template"
    if choice == "auto":
        source = tc.get("chat_template")
        if source is None:
            return None, []
        if isinstance(source, list):  # [{"name": "default", "template": ...}, ...]
            by_name = {e.get("name"): e.get("template") for e in source if isinstance(e, dict)}
            source = by_name.get("default")
        if not isinstance(source, str):
            raise TemplateError("%s: expected a string (or a list with a \"default\" entry)" % where)
    else:
        where = choice
        try:
            with open(choice) as f:
                source = f.read()
        except OSError as e:
            raise TemplateError("--chat-template %s: %s" % (choice, e))
        if choice.endswith(".json"):
            try:
                t = validate(json.loads(source), choice)
            except ValueError as e:
                raise TemplateError("%s: not JSON: %s" % (choice, e))
            for s, i in t["special"].items():
                if i >= vocab:
                    raise TemplateError("%s.special[%s]: %d is outside the vocabulary" % (choice, json.dumps(s), i))
            return t, []
    try:
        t, dropped = derive(source, bos, eos)
    except TemplateError as e:
        raise TemplateError("%s: %s; pass --chat-template FILE.json (docs/model-package.md) or --chat-template none"
                            % (where, e))
    t["special"] = specials(t, named)
    return validate(t, where), dropped
