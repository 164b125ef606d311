// Who may send which frame to an agent's data port (pure logic; in es_agent for the frame
// codec's names). With TLS every connection carries the name and role of its certificate; the rules follow the data flow of an epoch:
//   REQUEST, GENERATE, a client's SESSION_END  <- a client or the orchestrator's gateway
//   ACTIVATION, STEP, a stage's SESSION_END,
//   KV_PUSH                                     <- the stage before this one in that epoch
//   KV_DATA                                     <- the previous epoch's holder of that layer
//   RESULT, TOKEN (at the entry)                <- that epoch's last stage
//   ERROR (at the entry)                        <- a stage of that epoch (the one that failed)
//   KV_READY (at the entry)                     <- a stage of that epoch, naming itself
//   PROBE                                       <- anyone authenticated
// so a node that is not part of an epoch can neither feed its stages nor answer its clients.
// Plaintext connections (tls: {mode: off}) carry no identity and are not checked.
#pragma once

#include <string>

#include "agent/daemon/segment_table.h"
#include "agent/transport/frame.h"
#include "common/security/identity.h"

namespace edgesplit::agent {

struct Sender {
  bool authenticated = false;
  security::Role role = security::Role::kClient;
  std::string name;
};

// Before the payload is read. `target` is the segment the frame is for: the stage's slot for
// ACTIVATION/STEP/SESSION_END, the entry's slot of the frame's epoch for RESULT/TOKEN/ERROR;
// null when this agent holds none (the caller drops such frames as late). permission_denied
// names the rule that failed.
Status AuthorizeFrame(const Sender& sender, const transport::Frame& meta, const LoadSpec* target);

}  // namespace edgesplit::agent
