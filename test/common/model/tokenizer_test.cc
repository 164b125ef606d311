// Pure text helpers (UTF-8 validation, the streaming decoder, stop strings) over a fake
// tokenizer, and the SentencePiece adapter on a model trained here from the repository's docs
// (never a downloaded one): round trips, BOS/EOS, the package's tokenizer key and its sha256.
#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <catch.hpp>

#include "common/base/sha256.h"
#include "common/model/manifest.h"
#include "common/model/sentencepiece_tokenizer.h"
#include "common/model/tokenizer.h"

using namespace edgesplit;

namespace {

// One byte per token (id = byte + 3; 1 BOS, 2 EOS) and, like SentencePiece, a decode drops one
// leading space: decoding ids one by one loses spaces, which StreamDecoder must not.
class ByteTokenizer final : public Tokenizer {
 public:
  Result<std::vector<int64_t>> Encode(std::string_view text) const override {
    std::vector<int64_t> out;
    for (unsigned char c : text) out.push_back(c + 3);
    return out;
  }
  Result<std::string> Decode(const std::vector<int64_t>& ids) const override {
    std::string out;
    for (int64_t id : ids) {
      if (id < 0 || id >= vocab_size()) return InvalidArgument("bad id");
      if (id >= 3) out.push_back(static_cast<char>(id - 3));
    }
    if (!out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
  }
  int64_t vocab_size() const override { return 259; }
  int64_t bos_id() const override { return 1; }
  int64_t eos_id() const override { return 2; }
};

std::string Streamed(const Tokenizer& tok, const std::vector<int64_t>& context, const std::vector<int64_t>& ids) {
  StreamDecoder d(&tok, context);
  std::string out;
  for (int64_t id : ids) {
    auto delta = d.Push(id);
    REQUIRE(delta.ok());
    out += *delta;
  }
  auto tail = d.Flush();
  REQUIRE(tail.ok());
  return out + *tail;
}

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("ES_TEST_TMP");
  auto p = std::filesystem::path(base ? base : "/tmp") / (name + "-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(p);
  return p.string();
}

// A small unigram model trained on the repository's docs, with byte fallback (so any text encodes).
std::string TrainModel(const std::string& dir) {
  const char* src = std::getenv("ES_SOURCE_DIR");
  REQUIRE(src);
  const std::string corpus = dir + "/corpus.txt";
  {
    std::ofstream out(corpus);
    for (const char* f : {"/README.md", "/docs/model-package.md", "/docs/orchestrator.md"}) {
      std::ifstream in(std::string(src) + f);
      REQUIRE(in);
      out << in.rdbuf() << "\n";
    }
  }
  auto s = sentencepiece::SentencePieceTrainer::Train("--input=" + corpus + " --model_prefix=" + dir +
                                                      "/sp --vocab_size=500 --byte_fallback=true");
  INFO(s.ToString());
  REQUIRE(s.ok());
  return dir + "/sp.model";
}

}  // namespace

TEST_CASE("valid UTF-8 passes; malformed sequences are refused with their offset") {
  CHECK(ValidateUtf8("", "t").ok());
  CHECK(ValidateUtf8("plain ascii", "t").ok());
  CHECK(ValidateUtf8("gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80", "t").ok());  // ü ß € 😀
  for (std::string bad : {std::string("\xFF"), std::string("ab\xC3"), std::string("\xC0\xAF"),  // lone, cut, overlong
                          std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"),          // surrogate, > U+10FFFF
                          std::string("\xE2\x82"), std::string("\x80")}) {
    Status s = ValidateUtf8(bad, "prompt");
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().rfind("prompt: not valid UTF-8", 0) == 0);
  }
  CHECK(ValidateUtf8("ab\xC3", "p").message().find("offset 2") != std::string::npos);
}

TEST_CASE("a prompt gets BOS first unless asked not to") {
  ByteTokenizer t;
  CHECK(*EncodePrompt(t, "hi", true) == std::vector<int64_t>{1, 'h' + 3, 'i' + 3});
  CHECK(*EncodePrompt(t, "hi", false) == std::vector<int64_t>{'h' + 3, 'i' + 3});
}

TEST_CASE("streamed text keeps the spaces a decode of each token alone would drop") {
  ByteTokenizer t;
  const auto prompt = *EncodePrompt(t, "Hello", true);
  const auto gen = *t.Encode(" big world");
  CHECK(Streamed(t, prompt, gen) == " big world");
  // Equals the text of prompt + generated minus the text of the prompt.
  std::vector<int64_t> all = prompt;
  all.insert(all.end(), gen.begin(), gen.end());
  CHECK(*t.Decode(all) == "Hello big world");
}

TEST_CASE("a character split over tokens is held back until it is complete") {
  ByteTokenizer t;
  StreamDecoder d(&t, {1});
  const std::string euro = "\xE2\x82\xAC";
  CHECK(*d.Push(static_cast<unsigned char>(euro[0]) + 3) == "");
  CHECK(*d.Push(static_cast<unsigned char>(euro[1]) + 3) == "");
  CHECK(*d.Push(static_cast<unsigned char>(euro[2]) + 3) == euro);
  CHECK(*d.Push('x' + 3) == "x");
  CHECK(*d.Flush() == "");
}

TEST_CASE("control tokens, and ids beyond the tokenizer's pieces, stream as no text") {
  ByteTokenizer t;
  CHECK(Streamed(t, {1}, {'a' + 3, 2, 'b' + 3}) == "ab");
  CHECK(Streamed(t, {1}, {'a' + 3, 259, 300, 'b' + 3}) == "ab");  // a padded model vocabulary
  CHECK(Streamed(t, {1, 'x' + 3, 400}, {' ' + 3, 'b' + 3}) == " b");  // in the prompt too
}

TEST_CASE("a stop string ends the stream and is not emitted, even split over deltas") {
  StopMatcher m({"###", "END"});
  std::string out;
  for (std::string d : {"abc", " E", "N", "x #", "#", "#tail"}) out += m.Push(d);
  // "EN" followed by "x" is no stop: released; "###" is.
  CHECK(out == "abc ENx ");
  CHECK(m.stopped());
  CHECK(m.Push("more").empty());
  CHECK(m.Flush().empty());
}

TEST_CASE("text that could start a stop string is held back until it cannot") {
  StopMatcher m({"\n\n"});
  CHECK(m.Push("line\n") == "line");
  CHECK(m.Push("next") == "\nnext");
  CHECK(m.Push("\n") == "");
  CHECK(m.Flush() == "\n");
  CHECK_FALSE(m.stopped());
  StopMatcher none({});
  CHECK(none.Push("anything") == "anything");
}

TEST_CASE("SentencePiece: a model trained on the docs round-trips text, with its BOS/EOS ids") {
  const std::string dir = TempDir("sp-roundtrip");
  const std::string model = TrainModel(dir);
  auto tok = LoadSentencePiece(model);
  REQUIRE(tok.ok());
  CHECK((*tok)->vocab_size() == 500);
  CHECK((*tok)->bos_id() == 1);  // spm_train's defaults: unk 0, bos 1, eos 2
  CHECK((*tok)->eos_id() == 2);
  for (std::string text : {"The orchestrator plans the deployment.", "edge nodes run segments", "grüße, 😀 ok"}) {
    auto ids = (*tok)->Encode(text);
    REQUIRE(ids.ok());
    CHECK_FALSE(ids->empty());
    for (int64_t id : *ids) CHECK((id >= 0 && id < 500));
    CHECK(*(*tok)->Decode(*ids) == text);
    // Streamed one id at a time after a BOS prompt: the same text.
    CHECK(Streamed(**tok, {1}, *ids) == text);
  }
  auto bad = (*tok)->Decode({5, 500});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("tokens[1]") != std::string::npos);
  // Overrides of the ids are range-checked.
  CHECK((*LoadSentencePiece(model, 7, 8))->bos_id() == 7);
  CHECK(LoadSentencePiece(model, 500, std::nullopt).status().code() == StatusCode::kInvalidArgument);
  // Not a model: one clear error.
  std::ofstream(dir + "/junk.model") << "not a model";
  auto junk = LoadSentencePiece(dir + "/junk.model");
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.status().message().find("not a SentencePiece model") != std::string::npos);
  CHECK(LoadSentencePiece(dir + "/missing.model").status().code() == StatusCode::kNotFound);
}

namespace {

Manifest GenerationManifest(int64_t vocab) {
  Manifest m;
  m.name = "tiny";
  m.input = {DType::kInt64, {1, 4}, 1};
  LayerSpec l;
  l.name = "all";
  l.file = "layer_0.pt";
  l.sha256 = std::string(64, '0');
  l.output = {DType::kFloat32, {1, 4, vocab}, 1};
  m.layers.push_back(l);
  m.generation = GenerationSpec{64, vocab, "step", ""};
  return m;
}

}  // namespace

TEST_CASE("a package tokenizer is attached, listed in model.yaml and checked against its sha256") {
  const std::string dir = TempDir("sp-package");
  const std::string model = TrainModel(dir);
  const std::string pkg = dir + "/pkg";
  std::filesystem::create_directories(pkg);
  REQUIRE(WriteManifest(GenerationManifest(400), pkg).ok());
  // The model's vocabulary must hold every piece.
  Status small = AttachTokenizer(pkg, model);
  CHECK(small.code() == StatusCode::kInvalidArgument);
  CHECK(small.message().find("more than the model's vocab of 400") != std::string::npos);
  REQUIRE(WriteManifest(GenerationManifest(512), pkg).ok());
  REQUIRE(AttachTokenizer(pkg, model).ok());
  auto m = LoadManifest(pkg);
  REQUIRE(m.ok());
  REQUIRE(m->tokenizer);
  CHECK(m->tokenizer->file == "tokenizer.model");
  CHECK(m->tokenizer->sha256 == *Sha256File(model));
  CHECK(m->tokenizer->bos_id == 1);
  CHECK(m->tokenizer->eos_id == 2);
  CHECK(ParseManifest(ManifestToYaml(*m))->tokenizer->sha256 == m->tokenizer->sha256);  // round trip
  auto tok = LoadPackageTokenizer(pkg, *m);
  REQUIRE(tok.ok());
  CHECK((*tok)->vocab_size() == 500);
  // A changed file is refused.
  std::ofstream(pkg + "/tokenizer.model", std::ios::app) << "x";
  auto changed = LoadPackageTokenizer(pkg, *m);
  CHECK(changed.status().code() == StatusCode::kDataLoss);
  CHECK(VerifyPackage(*m, pkg).code() != StatusCode::kOk);
}

TEST_CASE("the manifest's tokenizer key: bad values are refused naming the key") {
  Manifest m = GenerationManifest(100);
  m.tokenizer = TokenizerSpec{"tokenizer.model", std::string(64, 'a'), std::nullopt, std::nullopt};
  const std::string good = ManifestToYaml(m);
  REQUIRE(ParseManifest(good).ok());
  CHECK_FALSE(ParseManifest(good).value().tokenizer->bos_id);  // optional: the model's own
  auto with = [&](const std::string& from, const std::string& to) {
    std::string y = good;
    const auto at = y.find(from);
    REQUIRE(at != std::string::npos);
    y.replace(at, from.size(), to);
    return ParseManifest(y);
  };
  const std::string key = "tokenizer: {file: tokenizer.model, sha256: " + std::string(64, 'a') + "}";
  REQUIRE(good.find(key) != std::string::npos);
  auto expect = [&](const std::string& replacement, const std::string& fragment) {
    auto r = with(key, replacement);
    REQUIRE_FALSE(r.ok());
    INFO(r.status().message());
    CHECK(r.status().message().find(fragment) != std::string::npos);
  };
  expect("tokenizer: {file: ../x, sha256: " + std::string(64, 'a') + "}", "tokenizer.file");
  expect("tokenizer: {file: layer_0.pt, sha256: " + std::string(64, 'a') + "}", "tokenizer.file");
  expect("tokenizer: {file: t.model, sha256: abc}", "tokenizer.sha256");
  expect("tokenizer: {file: t.model}", "tokenizer.sha256: missing");
  expect("tokenizer: {file: t.model, sha256: " + std::string(64, 'a') + ", bos_id: 100}", "tokenizer.bos_id");
  expect("tokenizer: {file: t.model, sha256: " + std::string(64, 'a') + ", eos_id: -1}", "tokenizer.eos_id");
  expect("tokenizer: {file: t.model, sha256: " + std::string(64, 'a') + ", chat: x}", "unknown key 'chat'");
  auto ids = with(key, "tokenizer: {file: t.model, sha256: " + std::string(64, 'a') + ", bos_id: 5, eos_id: 6}");
  REQUIRE(ids.ok());
  CHECK(ids->tokenizer->bos_id == 5);
  CHECK(ids->tokenizer->eos_id == 6);
}
