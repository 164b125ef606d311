// edgesplit-agent configuration: YAML file parsed once into a validated struct; flags override
// the file; unknown keys are errors. Every key is documented in docs/agent.md with its unit and
// default.
#pragma once

#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/security/tls_context.h"

namespace edgesplit::agent {

struct EmulationConfig {
  double compute_slowdown = 1.0;  // >= 1: compute time is stretched by waiting (test feature)
  double egress_mbps = 0;         // > 0: token-bucket cap on data sent to peers (test feature)
  // PUT /v1/emulation accepted (testbeds only: the HTTP port has no authentication, and anyone
  // reaching it could otherwise slow this node down). GET always answers.
  bool runtime_api = false;
};

struct AgentConfig {
  std::string node = "agent";
  std::string orchestrator;                      // host:port; empty = run without a control channel
  std::string data_listen = "127.0.0.1:7200";    // port 0 picks a free port
  std::string advertise_address;                 // data address told to peers; empty = bound address
  std::string http_listen = "127.0.0.1:9200";    // /metrics /livez /readyz; empty = disabled
  std::string models_dir = "/var/lib/edgesplit/models";
  bool trusted = false;
  int heartbeat_period_ms = 1000;
  int compute_threads = 1;        // segment runs in parallel
  int intra_op_threads = 1;       // libtorch threads per run (1: several agents share small boxes)
  // OpenBLAS kernels: auto (the best set the CPU supports) | detected (OpenBLAS's own) | a core
  // name (Haswell, SkylakeX, ...); EDGESPLIT_BLAS_CORETYPE overrides (runtime/blas_kernels.h).
  std::string blas_kernels = "auto";
  int max_queue = 64;             // requests waiting for compute before "overloaded"
  long long max_frame_bytes = 256LL << 20;
  int frame_deadline_ms = 30000;  // to receive or send one frame
  int idle_timeout_ms = 600000;   // a data connection with no frame for this long is closed
  int request_timeout_ms = 30000; // entry: default deadline of a request
  int drain_timeout_ms = 30000;   // SIGTERM / Drain: wait at most this long for in-flight work
  int reconnect_min_ms = 200;
  int reconnect_max_ms = 10000;
  int max_peer_queue = 256;       // frames waiting to be sent to one peer
  // Resource limits of the ports (docs/agent.md, "Limits"); per peer = per peer IP address.
  int data_max_connections = 1024;
  int data_max_connections_per_peer = 256;
  int http_max_connections = 512;
  int http_max_connections_per_peer = 128;
  int http_header_timeout_ms = 5000;  // a request's header must be in within this (also keep-alive idle)
  // Generation sessions (docs/agent.md, "Generation sessions").
  int max_sessions = 64;                    // sessions holding KV state on this agent
  long long max_context = 0;                // tokens per session; 0 = the model's max_context
  long long kv_budget_bytes = 1LL << 30;    // KV memory all sessions together may reserve
  int session_idle_timeout_ms = 60000;      // state of a session with no step for this long is freed
  // KV copy (docs/agent.md): a session moving to a new epoch on a planned change copies its KV
  // from the old holders instead of rebuilding it; a holder that does not deliver within
  // kv_copy_timeout_ms makes the session rebuild instead.
  bool kv_copy = true;
  int kv_copy_timeout_ms = 3000;
  int decode_batch_max = 1;                 // >1: decode steps of up to this many sessions share one pass
  std::string log_level = "info";
  bool verify_sha256 = true;
  // Test hook (0 = off): the io thread blocks for good this long after start, so tests can check
  // that the systemd watchdog restarts a wedged agent. Never set in production.
  int debug_wedge_io_after_ms = 0;
  // Test fault: as an old stage, ignore every KV_PUSH that does not start at position 0 (the
  // tail of a move), so the new stage never gets it and the entry's fallback runs.
  bool debug_drop_kv_tail = false;
  EmulationConfig emulation;
  // tls: {ca, cert, key, revoked} (the node name must be the certificate's) or tls: {mode: off}.
  // Required: plaintext only when asked for. Flags: --tls-ca, --tls-cert, --tls-key, --tls-mode,
  // --tls-revoked a,b.
  security::TlsConfig tls;

  // Every problem at once, "; "-separated.
  Status Validate() const;
};

// Parses YAML text; unknown keys and wrong types are invalid_argument.
Result<AgentConfig> ParseAgentConfig(const std::string& yaml_text);
// --config FILE first, then every other flag (--data-listen, --compute-slowdown, ...) over it.
Result<AgentConfig> AgentConfigFromArgs(const std::vector<std::string>& args);
std::string AgentUsage();

}  // namespace edgesplit::agent
