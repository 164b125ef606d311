// Shared helpers for runtime tests: a fresh temp directory and a small synthetic GPT.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "agent/runtime/gpt_synth.h"

namespace edgesplit::testing {

inline std::string TempDir(const std::string& name) {
  const char* base = std::getenv("ES_TEST_TMP");
  std::filesystem::path p = std::filesystem::path(base ? base : "/tmp") /
                            (name + "-" + std::to_string(std::random_device{}()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

inline std::string SmallGpt(const std::string& name, int layers = 6, uint64_t seed = 3, DType dtype = DType::kFloat32) {
  GptSynthOptions o;
  o.dtype = dtype;
  o.name = name;
  o.layers = layers;
  o.d_model = 64;
  o.heads = 4;
  o.vocab = 200;
  o.seq = 16;
  o.seed = seed;
  std::string dir = TempDir(name);
  Status s = SynthesizeGpt(o, dir);
  if (!s.ok()) throw std::runtime_error(s.ToString());
  return dir;
}

}  // namespace edgesplit::testing
