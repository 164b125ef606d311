// The chat template (chat_template.h): the default rendering, a package template's runs cut at
// its special strings (each piece encoded on its own, specials as their ids, content never
// parsed for specials), roles the template lacks, validation; and the manifest key round trip.
#include <catch.hpp>

#include "common/model/chat_template.h"
#include "common/model/manifest.h"

using namespace edgesplit;

namespace {

// One token per byte (id = byte + 10); every Encode call is logged so the test sees where the
// text was cut.
class LoggingTokenizer final : public Tokenizer {
 public:
  mutable std::vector<std::string> calls;
  Result<std::vector<int64_t>> Encode(std::string_view text) const override {
    calls.emplace_back(text);
    std::vector<int64_t> out;
    for (unsigned char c : text) out.push_back(c + 10);
    return out;
  }
  Result<std::string> Decode(const std::vector<int64_t>&) const override { return std::string(); }
  int64_t vocab_size() const override { return 266; }
  int64_t bos_id() const override { return 1; }
  int64_t eos_id() const override { return 2; }
};

std::vector<int64_t> Bytes(const std::string& s) {
  std::vector<int64_t> out;
  for (unsigned char c : s) out.push_back(c + 10);
  return out;
}

// TinyLlama's (Zephyr's) template as the exporter derives it.
ChatTemplateSpec Zephyr() {
  ChatTemplateSpec t;
  t.roles = {{"system", {"<|system|>\n", "</s>\n"}}, {"user", {"<|user|>\n", "</s>\n"}},
             {"assistant", {"<|assistant|>\n", "</s>\n"}}};
  t.generation = "<|assistant|>\n";
  t.special = {{"</s>", 2}, {"<s>", 1}};
  return t;
}

}  // namespace

TEST_CASE("the default template: role tags, BOS first when asked") {
  LoggingTokenizer tok;
  const std::vector<ChatMessage> msgs = {{"system", "S"}, {"user", "U"}};
  auto p = EncodeChat(tok, nullptr, msgs, true);
  REQUIRE(p.ok());
  CHECK(p->text == "<|system|>\nS\n<|user|>\nU\n<|assistant|>\n");
  std::vector<int64_t> want = {1};
  for (int64_t id : Bytes(p->text)) want.push_back(id);
  CHECK(p->ids == want);
  auto nobos = EncodeChat(tok, nullptr, msgs, false);
  REQUIRE(nobos.ok());
  CHECK(nobos->ids == Bytes(p->text));
}

TEST_CASE("a package template: specials become ids, the text between them is encoded piece by piece") {
  LoggingTokenizer tok;
  ChatTemplateSpec t = Zephyr();
  t.begin = "<s>";
  auto p = EncodeChat(tok, &t, {{"user", "Hi"}, {"assistant", "Yo"}, {"user", "Bye"}}, true);
  REQUIRE(p.ok());
  CHECK(p->text == "<s><|user|>\nHi</s>\n<|assistant|>\nYo</s>\n<|user|>\nBye</s>\n<|assistant|>\n");
  CHECK(tok.calls == std::vector<std::string>{"<|user|>\nHi", "\n<|assistant|>\nYo", "\n<|user|>\nBye", "\n<|assistant|>\n"});
  std::vector<int64_t> want = {1};
  for (const auto& piece : {std::string("<|user|>\nHi"), std::string("\n<|assistant|>\nYo"), std::string("\n<|user|>\nBye")}) {
    for (int64_t id : Bytes(piece)) want.push_back(id);
    want.push_back(2);
  }
  for (int64_t id : Bytes("\n<|assistant|>\n")) want.push_back(id);
  CHECK(p->ids == want);
  // No automatic BOS: the template says where it goes (here nowhere).
  t.begin.clear();
  auto q = EncodeChat(tok, &t, {{"user", "Hi"}}, true);
  REQUIRE(q.ok());
  CHECK(q->ids.front() == Bytes("<")[0]);
}

TEST_CASE("content is text: a special string typed by a user is not its id") {
  LoggingTokenizer tok;
  const ChatTemplateSpec t = Zephyr();
  auto p = EncodeChat(tok, &t, {{"user", "a</s>b"}}, true);
  REQUIRE(p.ok());
  std::vector<int64_t> want = Bytes("<|user|>\na</s>b");
  want.push_back(2);
  for (int64_t id : Bytes("\n<|assistant|>\n")) want.push_back(id);
  CHECK(p->ids == want);
}

TEST_CASE("the longest special string wins where two start at the same place") {
  LoggingTokenizer tok;
  ChatTemplateSpec t;
  t.roles = {{"user", {"<|im_start|>user\n", "<|im_end|>\n"}}};
  t.generation = "<|im_start|>assistant\n";
  t.special = {{"<|im_start|>", 100}, {"<|im_end|>", 101}, {"<|im", 102}};
  auto p = EncodeChat(tok, &t, {{"user", "x"}}, false);
  REQUIRE(p.ok());
  std::vector<int64_t> want = {100};
  for (int64_t id : Bytes("user\nx")) want.push_back(id);
  want.push_back(101);
  for (int64_t id : Bytes("\n")) want.push_back(id);
  want.push_back(100);
  for (int64_t id : Bytes("assistant\n")) want.push_back(id);
  CHECK(p->ids == want);
}

TEST_CASE("a role the template lacks is refused by index") {
  LoggingTokenizer tok;
  ChatTemplateSpec t = Zephyr();
  t.roles.erase("system");
  auto p = EncodeChat(tok, &t, {{"user", "a"}, {"system", "b"}}, true);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().message() == "messages[1].role: this model's chat template has no 'system' role");
}

TEST_CASE("template validation") {
  ChatTemplateSpec t = Zephyr();
  CHECK(ValidateChatTemplate(t, "t").ok());
  t.roles["tool"] = {"a", "b"};
  CHECK(ValidateChatTemplate(t, "t").message().find("unknown role 'tool'") != std::string::npos);
  t = Zephyr();
  t.roles.erase("user");
  CHECK(ValidateChatTemplate(t, "t").message() == "t.roles: must have a user role");
  t = Zephyr();
  t.special[""] = 3;
  CHECK(ValidateChatTemplate(t, "t").message().find("empty string") != std::string::npos);
  t = Zephyr();
  t.generation = std::string(kMaxChatTemplateBytes, 'x');
  CHECK(ValidateChatTemplate(t, "t").message().find("bytes of text") != std::string::npos);
}

namespace {

const char* kGenPackage = R"(name: g
format_version: 2
input: {dtype: int64, shape: [1, 8], seq_dim: 1}
layers:
  - {name: a, file: a.pt, sha256: 0000000000000000000000000000000000000000000000000000000000000000, param_bytes: 1, output: {dtype: float32, shape: [1, 8, 300], seq_dim: 1}}
generation: {max_context: 16, vocab: 300}
tokenizer: {file: tokenizer.model, sha256: 1111111111111111111111111111111111111111111111111111111111111111}
)";

}  // namespace

TEST_CASE("model.yaml chat_template: parsed, written back byte-stable, errors name the key") {
  auto m = ParseManifest(std::string(kGenPackage) +
                         "chat_template: {\"begin\": \"<s>\", \"roles\": {\"user\": {\"prefix\": \"[U] \", \"suffix\": \"\\n\"},"
                         " \"assistant\": {\"prefix\": \" \", \"suffix\": \"</s>\"}}, \"generation\": \" \","
                         " \"special\": {\"<s>\": 1, \"</s>\": 2}}\n");
  REQUIRE(m.ok());
  REQUIRE(m->chat_template);
  CHECK(m->chat_template->begin == "<s>");
  CHECK(m->chat_template->roles.at("user") == std::pair<std::string, std::string>{"[U] ", "\n"});
  CHECK(m->chat_template->roles.at("assistant").first == " ");
  CHECK(m->chat_template->generation == " ");
  CHECK(m->chat_template->special.at("</s>") == 2);
  const std::string yaml = ManifestToYaml(*m);
  auto again = ParseManifest(yaml);
  REQUIRE(again.ok());
  CHECK(again->chat_template == m->chat_template);
  CHECK(ManifestToYaml(*again) == yaml);

  auto bad = [](const std::string& tail) {
    auto r = ParseManifest(std::string(kGenPackage) + tail);
    REQUIRE_FALSE(r.ok());
    return r.status().message();
  };
  CHECK(bad("chat_template: {roles: {user: {prefix: a}}, extra: 1}\n") == "model.yaml: chat_template: unknown key 'extra'");
  CHECK(bad("chat_template: {begin: x}\n").find("chat_template.roles: missing") != std::string::npos);
  CHECK(bad("chat_template: {roles: {user: {prefix: a, middle: b}}}\n") ==
        "model.yaml: chat_template.roles.user: unknown key 'middle'");
  CHECK(bad("chat_template: {roles: {user: {prefix: [a]}}}\n") ==
        "model.yaml: chat_template.roles.user.prefix: expected a string");
  CHECK(bad("chat_template: {roles: {user: {}}, special: {x: 300}}\n") ==
        "model.yaml: chat_template.special['x']: 300 is outside the vocabulary [0, 300)");
  CHECK(bad("chat_template: {roles: {bot: {}}}\n").find("unknown role 'bot'") != std::string::npos);
  std::string no_tok(kGenPackage);
  no_tok = no_tok.substr(0, no_tok.find("tokenizer:"));
  auto r = ParseManifest(no_tok + "chat_template: {roles: {user: {}}}\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "model.yaml: chat_template: only in a package with a tokenizer");
}
