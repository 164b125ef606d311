#!/usr/bin/python3
"""Export layer-sequential PyTorch models as edgesplit model packages.

A package is a directory with model.yaml plus one TorchScript file per layer
(docs/model-package.md). Run with Debian's python3-torch (/usr/bin/python3).

As a module:
    from edgesplit_export import export_sequential
    export_sequential([block0, block1, head], example_input, "out/dir", "my-model")

As a CLI (torchvision models, random init or a local weights file):
    scripts/edgesplit_export.py --model resnet18 --out DIR [--weights FILE] [--image-size 224]
        [--seed 0] [--write-example DIR]

A Llama-architecture Hugging Face checkpoint on local disk (config.json + *.safetensors, one
file or sharded; tokenizer.model copied when present) as a generation package (es_llama.py):
    scripts/edgesplit_export.py --model llama --checkpoint DIR --out PKG
        [--dtype float32|bfloat16|float16] [--max-context N] [--seq S] [--name NAME]
Bad input exits 1 with one line naming the file and the key or tensor.
"""
import argparse
import hashlib
import io
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # es_llama, es_safetensors

FORMAT_VERSION = 1
_DTYPES = {
    torch.float32: "float32",
    torch.float16: "float16",
    torch.int64: "int64",
    torch.int32: "int32",
}


def _spec(t):
    if not isinstance(t, torch.Tensor):
        raise TypeError("every layer must map one tensor to one tensor, got %s" % type(t).__name__)
    if t.dtype not in _DTYPES:
        raise TypeError("unsupported dtype %s (supported: %s)" % (t.dtype, ", ".join(_DTYPES.values())))
    return _DTYPES[t.dtype], list(t.shape)


def _yaml_spec(dtype, shape):
    return "{dtype: %s, shape: [%s]}" % (dtype, ", ".join(str(d) for d in shape))


def export_sequential(layers, example_input, out_dir, name, family="custom"):
    """Trace each module of `layers` in order on the running activation and write a package.

    Returns the list of per-layer outputs of the example (the eager reference).
    """
    if len(layers) == 0:
        raise ValueError("layers must not be empty")
    os.makedirs(out_dir, exist_ok=True)
    entries = []
    x = example_input
    in_dtype, in_shape = _spec(x)
    outputs = []
    with torch.no_grad():
        for i, layer in enumerate(layers):
            layer = layer.eval()
            traced = torch.jit.trace(layer, (x,), check_trace=False)
            y = layer(x)
            dtype, shape = _spec(y)
            buf = io.BytesIO()
            torch.jit.save(traced, buf)
            data = buf.getvalue()
            fname = "layer_%03d.pt" % i
            with open(os.path.join(out_dir, fname), "wb") as f:
                f.write(data)
            param_bytes = sum(p.numel() * p.element_size() for p in layer.parameters())
            param_bytes += sum(b.numel() * b.element_size() for b in layer.buffers())
            lname = getattr(layer, "_edgesplit_name", None) or "%s_%d" % (type(layer).__name__.lower(), i)
            entries.append((lname, fname, hashlib.sha256(data).hexdigest(), param_bytes, dtype, shape))
            outputs.append(y)
            x = y
    lines = [
        "name: %s" % name,
        "format_version: %d" % FORMAT_VERSION,
        "family: %s" % family,
        "input: %s" % _yaml_spec(in_dtype, in_shape),
        "layers:",
    ]
    for lname, fname, digest, pbytes, dtype, shape in entries:
        lines += [
            "  - name: %s" % lname,
            "    file: %s" % fname,
            "    sha256: %s" % digest,
            "    param_bytes: %d" % pbytes,
            "    output: %s" % _yaml_spec(dtype, shape),
        ]
    tmp = os.path.join(out_dir, "model.yaml.tmp")
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(out_dir, "model.yaml"))
    return outputs


def _named(module, name):
    module._edgesplit_name = name
    return module


class _ResNetStem(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.conv1, self.bn1, self.relu, self.maxpool = m.conv1, m.bn1, m.relu, m.maxpool

    def forward(self, x):
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))


class _ResNetHead(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.avgpool, self.fc = m.avgpool, m.fc

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(x), 1))


class _ViTEmbed(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.vit = m  # only conv_proj, class_token and encoder.pos_embedding are used
        self.conv_proj = m.conv_proj
        self.class_token = m.class_token
        self.pos_embedding = m.encoder.pos_embedding
        self.dropout = m.encoder.dropout
        self.patch_size = m.patch_size
        self.hidden_dim = m.hidden_dim

    def forward(self, x):
        n = x.shape[0]
        x = self.conv_proj(x)
        x = x.reshape(n, self.hidden_dim, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.dropout(x + self.pos_embedding)


class _ViTHead(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.ln = m.encoder.ln
        self.heads = m.heads

    def forward(self, x):
        return self.heads(self.ln(x)[:, 0])


def torchvision_layers(model_name, model):
    """Flatten a torchvision model into a list of layer modules (edgesplit's layer granularity)."""
    if model_name.startswith("resnet"):
        layers = [_named(_ResNetStem(model), "stem")]
        for stage in range(1, 5):
            for j, block in enumerate(getattr(model, "layer%d" % stage)):
                layers.append(_named(block, "layer%d_%d" % (stage, j)))
        layers.append(_named(_ResNetHead(model), "head"))
        return layers
    if model_name.startswith("vit"):
        embed = _ViTEmbed(model)
        del embed.vit  # keep only the parts the embedding uses
        layers = [_named(embed, "patch_embed")]
        for j, block in enumerate(model.encoder.layers):
            layers.append(_named(block, "encoder_%d" % j))
        layers.append(_named(_ViTHead(model), "head"))
        return layers
    raise ValueError("unknown model %s" % model_name)


def build_torchvision(model_name, image_size, weights=None, seed=0):
    import torchvision

    torch.manual_seed(seed)
    ctor = {"resnet18": torchvision.models.resnet18, "resnet50": torchvision.models.resnet50,
            "vit_b_16": torchvision.models.vit_b_16}.get(model_name)
    if ctor is None:
        raise ValueError("unknown model %s (choose resnet18, resnet50, vit_b_16)" % model_name)
    kwargs = {"image_size": image_size} if model_name.startswith("vit") else {}
    model = ctor(weights=None, **kwargs).eval()
    if model_name.startswith("vit") and not weights:
        # torchvision zero-initialises the ViT classifier; random weights keep the output informative.
        with torch.no_grad():
            model.heads.head.weight.normal_(0.0, 0.02)
    if weights:
        state = torch.load(weights, map_location="cpu")
        model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
    return model


def _export_llama(args):
    import es_llama

    if not args.checkpoint:
        print("edgesplit_export: --model llama needs --checkpoint DIR", file=sys.stderr)
        return 2
    if args.seq <= 0 or (args.max_context is not None and args.max_context <= 0):
        print("edgesplit_export: --seq and --max-context must be positive", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    try:
        cfg, n, dropped = es_llama.export_llama(args.checkpoint, args.out, args.dtype, name=args.name,
                                                max_context=args.max_context, seq=args.seq,
                                                chat_template=args.chat_template)
    except es_llama.ExportError as e:
        print("edgesplit_export: error: %s" % e, file=sys.stderr)
        return 1
    print("wrote %s: %d layers (llama, %d blocks, %s)" % (args.out, n, cfg.layers, args.dtype))
    for role in dropped:
        print("edgesplit_export: note: the chat template has no per-role form for %s messages; the package's "
              "template leaves that role out (such requests are refused)" % role)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=["resnet18", "resnet50", "vit_b_16", "llama"])
    ap.add_argument("--checkpoint", help="llama: local Hugging Face checkpoint directory")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                    help="llama: weight, activation and KV cache dtype of the package (logits stay float32)")
    ap.add_argument("--max-context", type=int, help="llama: longest session (default max_position_embeddings)")
    ap.add_argument("--seq", type=int, default=128, help="llama: nominal (profiling) prompt length")
    ap.add_argument("--chat-template", default="auto", metavar="auto|none|FILE",
                    help="llama: the package's chat template: auto (the checkpoint's tokenizer_config.json), none "
                         "(the default template), a .json file in the package's form, or a Jinja file")
    ap.add_argument("--out", required=True, help="package directory to write")
    ap.add_argument("--name", help="package name (default: the model name)")
    ap.add_argument("--weights", help="local state_dict file (default: seeded random init)")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write-example", metavar="DIR",
                    help="also write input.npy and PyTorch's eager output expected.npy to DIR")
    args = ap.parse_args(argv)
    if args.model == "llama":
        return _export_llama(args)
    if args.image_size <= 0 or args.batch <= 0:
        ap.error("--image-size and --batch must be positive")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model = build_torchvision(args.model, args.image_size, args.weights, args.seed)
    layers = torchvision_layers(args.model, model)
    gen = torch.Generator().manual_seed(args.seed + 1)
    example = torch.randn(args.batch, 3, args.image_size, args.image_size, generator=gen)
    outputs = export_sequential(layers, example, args.out, args.name or args.model, family=args.model)
    if args.write_example:
        import numpy as np

        os.makedirs(args.write_example, exist_ok=True)
        with torch.no_grad():
            eager = model(example)
        np.save(os.path.join(args.write_example, "input.npy"), example.numpy())
        np.save(os.path.join(args.write_example, "expected.npy"), eager.numpy())
        # The flattened layers must compute what the original model does.
        diff = (outputs[-1] - eager).abs().max().item()
        if diff > 1e-4 * max(1.0, eager.abs().max().item()):
            print("edgesplit_export: flattened model differs from the original by %g" % diff, file=sys.stderr)
            return 1
    print("wrote %s: %d layers" % (args.out, len(layers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
