// `edgesplitctl load --generate-sessions N [--prompt-len P] [--new-tokens M]`: N concurrent
// streamed generation sessions, each with a P-token prompt (ids derived from the worker number,
// below the model's vocabulary) and M new tokens, seed = worker number (greedy unless
// --temperature/--top-k/--top-p are given). Through the REST gateway, or with --via entry
// straight at the entry agent's data port (TLS identity as for inference load), so an
// orchestrator restart does not touch the streams. With --stop-file each worker keeps starting
// sessions until FILE exists; --streams-log FILE writes one JSON line per session (worker,
// prompt, seed, start/end wall ms, ok, error, tokens and their arrival wall ms, indices_ok,
// moves, stall_ms_max, epoch). Reports JSON: sessions ok/failed, aggregate tokens/s (all tokens
// over the wall time), p50 time to first token and p50 inter-token latency as the client saw them.
// Exit 0 when every session succeeded, 1 otherwise, 2 for bad flags.
#pragma once

#include <string>

#include "common/base/flags.h"
#include "orchestrator/api/rest_client.h"

namespace edgesplit::ctl {

int LoadGenerate(const Flags& f);
// The data address of the deployment's entry (its first stage) from the REST API; "" if unknown.
std::string ResolveEntry(orch::RestClient& rest, const std::string& deployment);

}  // namespace edgesplit::ctl
