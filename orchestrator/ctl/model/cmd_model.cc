// `edgesplitctl model synth|inspect|verify|run|profile`: model package tools.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "agent/runtime/blas_kernels.h"
#include "agent/runtime/chain_generator.h"
#include "agent/runtime/gpt_synth.h"
#include "agent/runtime/profiler.h"
#include "agent/runtime/segment.h"
#include "agent/runtime/torch_threads.h"
#include "common/base/flags.h"
#include "common/base/json_escape.h"
#include "common/base/subcommand.h"
#include "common/model/manifest.h"
#include "common/model/npy.h"
#include "common/model/sentencepiece_tokenizer.h"
#include "orchestrator/ctl/model/model_text.h"

namespace edgesplit {
namespace {

int Fail(const Status& s, int code = 1) {
  std::fprintf(stderr, "edgesplitctl: error: %s\n", s.ToString().c_str());
  return code;
}

constexpr const char* kUsage =
    "usage: edgesplitctl model <subcommand>\n"
    "  synth --family gpt --layers N --d-model D --heads H --vocab V --seq S [--max-context N] [--dtype float32|bfloat16] --seed K\n"
    "        --out DIR [--name NAME] [--tokenizer FILE.model]\n"
    "  generate --model DIR (--prompt-tokens 5,17,42 | --prompt TEXT | --messages JSON) [--no-bos] --max-new-tokens N\n"
    "           [--cuts 3,7]\n"
    "           [--temperature T] [--top-k K] [--top-p P] [--seed S] [--stop-tokens a,b] [--no-cache] [--json]\n"
    "           [--threads N] [--blas-threads N]\n"
    "  tokenize --model DIR --text TEXT [--no-bos] [--json]\n"
    "  detokenize --model DIR --tokens 1,17,42 [--json]\n"
    "  chat --model DIR --messages '[{\"role\": \"user\", \"content\": \"Hi\"}]' [--no-bos] [--json]   the prompt ids\n"
    "  inspect DIR [--json]\n"
    "  verify DIR\n"
    "  run --model DIR --input in.npy --output out.npy [--cuts 3,7] [--threads N] [--blas-threads N]\n"
    "  profile --model DIR [--runs N] [--json] [--threads N] [--blas-threads N]\n"
    "  kernels [--json]   the OpenBLAS kernels this machine runs layers with (EDGESPLIT_BLAS_CORETYPE)\n";

Result<std::vector<int>> ParseCuts(const std::string& s) {
  std::vector<int> cuts;
  if (s.empty()) return cuts;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0') return InvalidArgument("--cuts: '" + item + "' is not a layer index");
    cuts.push_back(static_cast<int>(v));
  }
  return cuts;
}

void ApplyThreads(const Flags& f) {
  TorchThreadOptions t;
  // Invalid numbers fall back to the defaults of TorchThreadOptions (documented there).
  if (auto v = f.GetInt("threads", 0); v.ok() && *v > 0) t.intra_op_threads = static_cast<int>(*v);
  if (auto v = f.GetInt("blas-threads", 0); v.ok() && *v > 0) t.blas_threads = static_cast<int>(*v);
  ConfigureTorch(t);
}

int Synth(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"family", "layers", "d-model", "heads", "vocab", "seq", "seed", "out", "name", "batch",
                               "max-context", "dtype", "tokenizer"});
  if (!f.ok()) return Fail(f.status(), 2);
  if (f->Get("family", "gpt") != "gpt") return Fail(InvalidArgument("--family: only 'gpt' is supported"), 2);
  auto out = f->Required("out");
  if (!out.ok()) return Fail(out.status(), 2);
  GptSynthOptions o;
  auto geti = [&](const char* name, int def, int* dst) -> Status {
    auto v = f->GetInt(name, def);
    if (!v.ok()) return v.status();
    *dst = static_cast<int>(*v);
    return Status::Ok();
  };
  for (auto [name, dst, def] : {std::tuple{"layers", &o.layers, 4}, {"d-model", &o.d_model, 128}, {"heads", &o.heads, 4},
                                {"vocab", &o.vocab, 1000}, {"seq", &o.seq, 32}, {"batch", &o.batch, 1},
                                {"max-context", &o.max_context, 1024}}) {
    if (auto s = geti(name, def, dst); !s.ok()) return Fail(s, 2);
  }
  auto seed = f->GetInt("seed", 1);
  if (!seed.ok()) return Fail(seed.status(), 2);
  o.seed = static_cast<uint64_t>(*seed);
  auto dtype = ParseDType(f->Get("dtype", "float32"));
  if (!dtype.ok()) return Fail(InvalidArgument("--dtype: " + dtype.status().message()), 2);
  o.dtype = *dtype;
  o.name = f->Get("name", "gpt-l" + std::to_string(o.layers) + "-d" + std::to_string(o.d_model));
  if (auto s = o.Validate(); !s.ok()) return Fail(s, 2);  // bad flags: usage error, as elsewhere
  const std::string tokenizer = f->Get("tokenizer");
  if (f->Has("tokenizer")) {
    // Checked before the (slow) synthesis: an unusable tokenizer or too small a vocabulary.
    auto tok = LoadSentencePiece(tokenizer);
    if (!tok.ok()) return Fail(Status(tok.status().code(), "--tokenizer: " + tok.status().message()), 2);
    if ((*tok)->vocab_size() > o.vocab)
      return Fail(InvalidArgument("--tokenizer: " + tokenizer + " has " + std::to_string((*tok)->vocab_size()) +
                                  " pieces, more than --vocab " + std::to_string(o.vocab)),
                  2);
  }
  ConfigureTorch({});
  if (auto s = SynthesizeGpt(o, *out); !s.ok()) return Fail(s);
  if (f->Has("tokenizer"))
    if (auto s = AttachTokenizer(*out, tokenizer); !s.ok()) return Fail(s);
  std::printf("wrote %s (%d layers: embed, %d blocks, lm_head)%s\n", out->c_str(), o.layers + 2, o.layers,
              f->Has("tokenizer") ? " with tokenizer.model" : "");
  return 0;
}

int Inspect(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {}, {"json"});
  if (!f.ok()) return Fail(f.status(), 2);
  if (f->positional().size() != 1) return Fail(InvalidArgument("inspect takes one package directory"), 2);
  const std::string dir = f->positional()[0];
  auto m = LoadManifest(dir);
  if (!m.ok()) return Fail(m.status());
  if (f->GetBool("json")) {
    std::printf("{\"name\": %s, \"format_version\": %d, \"family\": %s, \"dtype\": \"%s\", \"input\": {\"dtype\": "
                "\"%s\", \"shape\": %s}, \"param_bytes\": %llu, \"layers\": [",
                JsonQuote(m->name).c_str(), m->format_version, JsonQuote(m->family).c_str(),
                DTypeName(m->dtype.value_or(DType::kFloat32)), DTypeName(m->input.dtype),
                ShapeToString(m->input.shape).c_str(), static_cast<unsigned long long>(m->TotalParamBytes()));
    for (int i = 0; i < m->num_layers(); ++i) {
      const auto& l = m->layers[i];
      std::printf("%s{\"index\": %d, \"name\": %s, \"file\": %s, \"param_bytes\": %llu, \"output\": {\"dtype\": "
                  "\"%s\", \"shape\": %s}, \"output_bytes\": %zu%s}",
                  i ? ", " : "", i, JsonQuote(l.name).c_str(), JsonQuote(l.file).c_str(), static_cast<unsigned long long>(l.param_bytes),
                  DTypeName(l.output.dtype), ShapeToString(l.output.shape).c_str(), l.output.Bytes(),
                  l.flops ? (", \"flops\": " + std::to_string(static_cast<uint64_t>(*l.flops))).c_str() : "");
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("model   %s (family %s, format %d)\ninput   %s %s (%zu bytes)\nparams  %.2f MiB in %d layers (%s)\n\n",
              m->name.c_str(), m->family.empty() ? "-" : m->family.c_str(), m->format_version, DTypeName(m->input.dtype),
              ShapeToString(m->input.shape).c_str(), m->input.Bytes(), m->TotalParamBytes() / 1048576.0, m->num_layers(),
              DTypeName(m->dtype.value_or(DType::kFloat32)));
  std::printf("%5s  %-16s %-14s %12s  %-8s %-18s %12s\n", "index", "name", "file", "param_bytes", "dtype", "output shape",
              "output_bytes");
  for (int i = 0; i < m->num_layers(); ++i) {
    const auto& l = m->layers[i];
    std::printf("%5d  %-16s %-14s %12llu  %-8s %-18s %12zu\n", i, l.name.c_str(), l.file.c_str(),
                static_cast<unsigned long long>(l.param_bytes), DTypeName(l.output.dtype),
                ShapeToString(l.output.shape).c_str(), l.output.Bytes());
  }
  return 0;
}

int Verify(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {});
  if (!f.ok()) return Fail(f.status(), 2);
  if (f->positional().size() != 1) return Fail(InvalidArgument("verify takes one package directory"), 2);
  const std::string dir = f->positional()[0];
  auto m = LoadManifest(dir);
  if (!m.ok()) return Fail(m.status());
  if (auto s = VerifyPackage(*m, dir); !s.ok()) return Fail(s);
  std::printf("ok: %d layer files match their sha256\n", m->num_layers());
  return 0;
}

int Run(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"model", "input", "output", "cuts", "threads", "blas-threads"});
  if (!f.ok()) return Fail(f.status(), 2);
  auto dir = f->Required("model");
  auto in = f->Required("input");
  auto out = f->Required("output");
  for (auto* r : {&dir, &in, &out})
    if (!r->ok()) return Fail(r->status(), 2);
  auto cuts = ParseCuts(f->Get("cuts"));
  if (!cuts.ok()) return Fail(cuts.status(), 2);
  auto m = LoadManifest(*dir);
  if (!m.ok()) return Fail(m.status());
  auto input = ReadNpyFile(*in);
  if (!input.ok()) return Fail(input.status());
  ApplyThreads(*f);
  auto result = RunChain(*dir, *m, *cuts, *input);
  if (!result.ok()) return Fail(result.status());
  if (auto s = WriteNpyFile(*result, *out); !s.ok()) return Fail(s);
  std::printf("wrote %s: %s %s (%zu segments)\n", out->c_str(), DTypeName(result->dtype),
              ShapeToString(result->shape).c_str(), cuts->size() + 1);
  return 0;
}

Result<double> ParseNumber(const Flags& f, const std::string& name, double def) {
  const std::string v = f.Get(name);
  if (v.empty()) return def;
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (*end != '\0') return InvalidArgument(name + ": '" + v + "' is not a number");
  return d;
}

int Generate(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args,
                        {"model", "prompt-tokens", "prompt", "messages", "max-new-tokens", "cuts", "temperature", "top-k",
                         "top-p", "seed", "stop-tokens", "threads", "blas-threads"},
                        {"no-cache", "json", "no-bos"});
  if (!f.ok()) return Fail(f.status(), 2);
  auto dir = f->Required("model");
  if (!dir.ok()) return Fail(dir.status(), 2);
  const bool chat_mode = f->Has("messages");
  const bool text_mode = f->Has("prompt") || chat_mode;
  if (int(f->Has("prompt")) + int(chat_mode) + int(f->Has("prompt-tokens")) != 1)
    return Fail(InvalidArgument("give exactly one of --prompt TEXT, --messages JSON and --prompt-tokens 5,17,42"), 2);
  GenerationRequest req;
  auto stops = ParseTokenList(f->Get("stop-tokens"), "--stop-tokens");
  if (!stops.ok()) return Fail(stops.status(), 2);
  req.stop_tokens = *stops;
  std::unique_ptr<Tokenizer> tok;
  if (text_mode) {
    auto pm = LoadManifest(*dir);
    if (!pm.ok()) return Fail(pm.status());
    auto t = LoadPackageTokenizer(*dir, *pm);
    if (!t.ok()) return Fail(t.status());
    tok = std::move(*t);
    const Status s = chat_mode ? ctl::PrepareChatPrompt(*tok, *pm, f->Get("messages"), f->GetBool("no-bos"), &req)
                               : ctl::PrepareTextPrompt(*tok, f->Get("prompt"), f->GetBool("no-bos"), &req);
    if (!s.ok()) return Fail(s, 2);
  } else {
    auto prompt = ParseTokenList(f->Get("prompt-tokens"), "--prompt-tokens");
    if (!prompt.ok()) return Fail(prompt.status(), 2);
    req.prompt = *prompt;
  }
  auto n = f->GetInt("max-new-tokens", 16);
  auto k = f->GetInt("top-k", 0);
  auto seed = f->GetInt("seed", 0);
  auto temp = ParseNumber(*f, "temperature", 0);
  auto top_p = ParseNumber(*f, "top-p", 1);
  for (const Status& s : {n.status(), k.status(), seed.status(), temp.status(), top_p.status()})
    if (!s.ok()) return Fail(s, 2);
  req.max_new_tokens = *n;
  req.sampling = {*temp, *k, *top_p, static_cast<uint64_t>(*seed)};
  auto cuts = ParseCuts(f->Get("cuts"));
  if (!cuts.ok()) return Fail(cuts.status(), 2);
  auto m = LoadManifest(*dir);
  if (!m.ok()) return Fail(m.status());
  if (!m->generation) return Fail(FailedPrecondition("model '" + m->name + "' cannot generate (no generation section)"));
  if (auto s = req.Validate(m->generation->vocab, m->generation->max_context); !s.ok()) return Fail(s, 2);
  ApplyThreads(*f);
  auto gen = ChainGenerator::Load(*dir, *m, *cuts);
  if (!gen.ok()) return Fail(gen.status());
  const bool json = f->GetBool("json");
  std::optional<StreamDecoder> decoder;
  if (tok) decoder.emplace(tok.get(), req.prompt);
  std::string text;
  Status decode_error;
  auto r = (*gen)->Generate(req, !f->GetBool("no-cache"), [&](int64_t i, int64_t id) {
    if (decoder) {
      auto delta = decoder->Push(id);
      if (!delta.ok()) {
        decode_error = delta.status();
        return;
      }
      text += *delta;
      if (!json) std::fputs(delta->c_str(), stdout);
    } else if (!json) {
      std::printf("%s%lld", i ? " " : "", static_cast<long long>(id));
    }
    std::fflush(stdout);
  });
  if (!r.ok()) return Fail(r.status());
  if (!decode_error.ok()) return Fail(decode_error);
  if (decoder) {
    auto tail = decoder->Flush();
    if (!tail.ok()) return Fail(tail.status());
    text += *tail;
    if (!json) std::fputs(tail->c_str(), stdout);
  }
  if (json) {
    std::string toks;
    for (size_t i = 0; i < r->tokens.size(); ++i) toks += (i ? ", " : "") + std::to_string(r->tokens[i]);
    std::printf("{\"tokens\": [%s], \"finish_reason\": \"%s\", \"prompt_tokens\": %zu, \"ttft_ms\": %.3f, "
                "\"ms_per_token_p50\": %.3f%s}\n",
                toks.c_str(), FinishReasonName(r->finish), req.prompt.size(), r->ttft_ms, r->MsPerTokenP50(),
                tok ? (", \"text\": " + JsonQuote(text)).c_str() : "");
  } else {
    std::printf("\n%zu tokens, finish %s, ttft %.1f ms, %.2f ms/token (p50)\n", r->tokens.size(),
                FinishReasonName(r->finish), r->ttft_ms, r->MsPerTokenP50());
  }
  return 0;
}

int Profile(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"model", "runs", "threads", "blas-threads"}, {"json"});
  if (!f.ok()) return Fail(f.status(), 2);
  auto dir = f->Required("model");
  if (!dir.ok()) return Fail(dir.status(), 2);
  auto runs = f->GetInt("runs", 10);
  if (!runs.ok() || *runs <= 0 || *runs > 100000) return Fail(InvalidArgument("--runs must be in [1, 100000]"), 2);
  ApplyThreads(*f);
  auto p = ProfileModel(*dir, static_cast<int>(*runs));
  if (!p.ok()) return Fail(p.status());
  if (f->GetBool("json")) {
    std::printf("%s\n", ModelProfileToJson(*p).c_str());
    return 0;
  }
  std::printf("model %s, %d runs, input %llu bytes\n\n%5s  %-16s %10s %14s %14s\n", p->model.c_str(), p->runs,
              static_cast<unsigned long long>(p->input_bytes), "index", "name", "median_ms", "param_bytes",
              "output_bytes");
  for (size_t i = 0; i < p->layers.size(); ++i) {
    const auto& l = p->layers[i];
    std::printf("%5zu  %-16s %10.3f %14llu %14llu\n", i, l.name.c_str(), l.median_ms,
                static_cast<unsigned long long>(l.param_bytes), static_cast<unsigned long long>(l.output_bytes));
  }
  std::printf("%5s  %-16s %10.3f\n", "", "total", p->total_median_ms);
  return 0;
}

// The kernel set main() chose (agent/runtime/blas_kernels.h): the agents on this machine
// choose the same way.
int Kernels(const std::vector<std::string>& args) {
  const bool json = std::find(args.begin(), args.end(), "--json") != args.end();
  for (const auto& a : args)
    if (a != "--json") {
      std::fprintf(stderr, "edgesplitctl: error: model kernels: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  const BlasChoice& b = CurrentBlasChoice();
  const CpuFeatures f = DetectCpuFeatures();
  if (json) {
    std::printf("{\"core\": \"%s\", \"detected\": \"%s\", \"source\": \"%s\", \"best_for_cpu\": \"%s\"}\n",
                b.core.c_str(), b.detected.c_str(), b.source.c_str(), BestBlasCore(f).c_str());
    return 0;
  }
  std::printf("OpenBLAS kernels: %s (source %s; OpenBLAS picked %s; best for this CPU %s)\n", b.core.c_str(),
              b.source.c_str(), b.detected.empty() ? "?" : b.detected.c_str(), BestBlasCore(f).c_str());
  return 0;
}

int ModelMain(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string sub = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (sub == "synth") return Synth(rest);
  if (sub == "inspect") return Inspect(rest);
  if (sub == "verify") return Verify(rest);
  if (sub == "run") return Run(rest);
  if (sub == "profile") return Profile(rest);
  if (sub == "kernels") return Kernels(rest);
  if (sub == "generate") return Generate(rest);
  if (sub == "tokenize") return ctl::ModelTokenize(rest);
  if (sub == "detokenize") return ctl::ModelDetokenize(rest);
  if (sub == "chat") return ctl::ModelChat(rest);
  if (sub == "-h" || sub == "--help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "edgesplitctl: error: unknown model subcommand '%s'\n%s", sub.c_str(), kUsage);
  return 2;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(model, "model", "model packages: synth, inspect, verify, run, profile, generate, tokenize, detokenize, kernels", ModelMain);

}  // namespace edgesplit
