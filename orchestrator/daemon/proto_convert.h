// Conversion between the control-channel wire messages (common/proto/control.proto) and the
// orchestrator's domain structs. The only file of the orchestrator that knows both.
#pragma once

#include "common/proto/control.pb.h"
#include "orchestrator/cluster/node.h"
#include "orchestrator/controller/controller.h"
#include "orchestrator/rollout/rollout.h"

namespace edgesplit::orch {

CapacityReport FromProto(const edgesplit::v1::CapacityProfile& p);
void ToProto(const CapacityReport& c, edgesplit::v1::CapacityProfile* p);

RegisterInfo FromProto(const edgesplit::v1::Register& r);
void ToProto(const RegisterInfo& r, edgesplit::v1::Register* p);

AckInfo FromProto(const edgesplit::v1::CommandAck& a);
void ToProto(const AckInfo& a, edgesplit::v1::CommandAck* p);

void ToProto(const AgentCommand& c, edgesplit::v1::Command* p);
// Inverse of ToProto(AgentCommand); `node` is not on the wire (the connection names it).
AgentCommand FromProto(const edgesplit::v1::Command& c);

}  // namespace edgesplit::orch
