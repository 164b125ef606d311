// The lifecycle of one segment (deployment, epoch) on an agent, with the legal transitions in
// one place (pure). A segment is published as ready only after it can run.
//
//   loading -> ready | failed | unloaded
//   ready   -> draining | unloaded
//   draining -> ready (re-activation after an aborted switch) | unloaded
//   failed  -> unloaded
#pragma once

#include "common/base/status.h"

namespace edgesplit::agent {

enum class SegmentState { kLoading, kReady, kDraining, kUnloaded, kFailed };

const char* SegmentStateName(SegmentState s);  // "loading", ...
bool IsLegalTransition(SegmentState from, SegmentState to);
// Applies the transition or returns failed_precondition naming both states.
Status Transition(SegmentState* state, SegmentState to);
// Activations (frames already inside the pipeline) are served while ready or draining;
// new client requests only while ready.
inline bool AcceptsActivations(SegmentState s) { return s == SegmentState::kReady || s == SegmentState::kDraining; }

}  // namespace edgesplit::agent
