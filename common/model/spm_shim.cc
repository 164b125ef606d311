// libes_spm_shim.so: Debian's libsentencepiece behind a C interface, loaded with dlopen by
// sentencepiece_tokenizer.cc. Why: libsentencepiece carries (and exports) its own copy of
// protobuf-lite. Linked into a program that also links libprotobuf (ours: every daemon and
// edgesplitctl), the two copies interpose each other's symbols and the program crashes while
// libprotobuf initialises. Loaded RTLD_LOCAL | RTLD_DEEPBIND, its protobuf stays private.
// The C interface: every call returns 0 on success, else writes a message to `err`.
#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

void SetError(char* err, size_t cap, const std::string& msg) {
  if (!err || cap == 0) return;
  const size_t n = std::min(cap - 1, msg.size());
  std::memcpy(err, msg.data(), n);
  err[n] = '\0';
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* es_spm_load(const char* bytes, size_t len, char* err, size_t cap) {
  auto* sp = new sentencepiece::SentencePieceProcessor();
  auto s = sp->LoadFromSerializedProto(std::string_view(bytes, len));
  if (!s.ok()) {
    SetError(err, cap, s.ToString());
    delete sp;
    return nullptr;
  }
  return sp;
}

__attribute__((visibility("default"))) void es_spm_free(void* h) { delete static_cast<sentencepiece::SentencePieceProcessor*>(h); }

__attribute__((visibility("default"))) int es_spm_info(void* h, int* pieces, int* bos, int* eos) {
  auto* sp = static_cast<sentencepiece::SentencePieceProcessor*>(h);
  *pieces = sp->GetPieceSize();
  *bos = sp->bos_id();
  *eos = sp->eos_id();
  return 0;
}

// *ids: malloc'd, released with es_spm_release.
__attribute__((visibility("default"))) int es_spm_encode(void* h, const char* text, size_t len, int** ids, size_t* n,
                                                        char* err, size_t cap) {
  std::vector<int> out;
  auto s = static_cast<sentencepiece::SentencePieceProcessor*>(h)->Encode(std::string_view(text, len), &out);
  if (!s.ok()) {
    SetError(err, cap, s.ToString());
    return 1;
  }
  *n = out.size();
  *ids = static_cast<int*>(std::malloc(sizeof(int) * (out.empty() ? 1 : out.size())));
  if (!*ids) {
    SetError(err, cap, "out of memory");
    return 1;
  }
  std::memcpy(*ids, out.data(), sizeof(int) * out.size());
  return 0;
}

// *text: malloc'd, released with es_spm_release.
__attribute__((visibility("default"))) int es_spm_decode(void* h, const int* ids, size_t n, char** text, size_t* len,
                                                        char* err, size_t cap) {
  std::string out;
  auto s = static_cast<sentencepiece::SentencePieceProcessor*>(h)->Decode(std::vector<int>(ids, ids + n), &out);
  if (!s.ok()) {
    SetError(err, cap, s.ToString());
    return 1;
  }
  *len = out.size();
  *text = static_cast<char*>(std::malloc(out.empty() ? 1 : out.size()));
  if (!*text) {
    SetError(err, cap, "out of memory");
    return 1;
  }
  std::memcpy(*text, out.data(), out.size());
  return 0;
}

__attribute__((visibility("default"))) void es_spm_release(void* p) { std::free(p); }

}  // extern "C"
