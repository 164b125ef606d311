// `edgesplitctl load --generate-sessions N [--prompt-len P] [--new-tokens M]`: N concurrent
// streamed generation sessions through the REST gateway, each with a P-token prompt (ids
// derived from the session number, below the model's vocabulary) and M new tokens, greedy with
// seed = session number. Reports JSON: sessions ok/failed, aggregate tokens/s (all tokens over
// the wall time), p50 time to first token and p50 inter-token latency as the client saw them.
// Exit 0 when every session succeeded, 1 otherwise, 2 for bad flags.
#pragma once

#include "common/base/flags.h"

namespace edgesplit::ctl {

int LoadGenerate(const Flags& f);

}  // namespace edgesplit::ctl
