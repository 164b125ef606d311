// edgesplit-orchestrator configuration: YAML parsed once into a validated struct, flags override
// the file, unknown keys are errors. Every key, its unit and default: docs/orchestrator.md and
// config/orchestrator.example.yaml.
#pragma once

#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/security/tls_context.h"
#include "common/net/connection_limiter.h"
#include "orchestrator/api/rest_api.h"
#include "orchestrator/controller/controller.h"

namespace edgesplit::orch {

struct GatewayOptions {
  int threads = 8;                  // concurrent gateway requests (blocking data clients)
  int max_queue = 256;              // waiting gateway requests before 429
  Duration attempt_timeout = std::chrono::seconds(5);  // one try through the pipeline
  Duration retry_backoff = std::chrono::milliseconds(20);
  int max_generate_sessions = 4;    // generation streams admitted at once (each holds a thread)
  // A generation is retried (before its first token only) until this long after submission.
  Duration generate_start_timeout = std::chrono::seconds(10);
  security::TlsPtr tls;  // the orchestrator's identity towards entries (set by the app, not a config key)
};

struct OrchestratorConfig {
  std::string control_listen = "127.0.0.1:7100";  // agents dial here
  std::string http_listen = "127.0.0.1:8080";     // REST API, /metrics, probes
  std::string models_dir = "/var/lib/edgesplit/models";
  std::string state_dir = "/var/lib/edgesplit-orchestrator";  // empty: no persistence
  std::string token;                               // bearer token; empty: none
  std::string log_level = "info";
  int heartbeat_period_ms = 250;                   // told to agents at registration
  int tick_ms = 50;                                // controller tick
  size_t max_control_message_bytes = 4 << 20;
  size_t max_body_bytes = 64 << 20;
  // Resource limits of the ports (docs/orchestrator.md, "Limits"); per peer = per peer IP.
  net::ConnectionLimits control_limits{4096, 64};
  net::ConnectionLimits http_limits{512, 128};
  int http_header_timeout_ms = 5000;  // a request's header must be in within this (also keep-alive idle)
  // Test hook (0 = off): the control io thread blocks for good this long after start, so tests
  // can check that the systemd watchdog restarts a wedged daemon. Never set in production.
  int debug_wedge_io_after_ms = 0;
  ControllerOptions controller;
  RestApiOptions api;
  GatewayOptions gateway;
  // tls: {ca, cert, key, revoked} (certificate of role orchestrator) or tls: {mode: off}.
  security::TlsConfig tls;
  Status Validate() const;
};

Result<OrchestratorConfig> ParseOrchestratorConfig(const std::string& yaml_text);
// --config FILE first, then flags over it.
Result<OrchestratorConfig> OrchestratorConfigFromArgs(const std::vector<std::string>& args);
std::string OrchestratorUsage();

}  // namespace edgesplit::orch
