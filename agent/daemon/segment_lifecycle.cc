#include "agent/daemon/segment_lifecycle.h"

#include <string>

namespace edgesplit::agent {

const char* SegmentStateName(SegmentState s) {
  switch (s) {
    case SegmentState::kLoading: return "loading";
    case SegmentState::kReady: return "ready";
    case SegmentState::kDraining: return "draining";
    case SegmentState::kUnloaded: return "unloaded";
    case SegmentState::kFailed: return "failed";
  }
  return "unknown";
}

bool IsLegalTransition(SegmentState from, SegmentState to) {
  using S = SegmentState;
  switch (from) {
    case S::kLoading: return to == S::kReady || to == S::kFailed || to == S::kUnloaded;
    case S::kReady: return to == S::kDraining || to == S::kUnloaded;
    case S::kDraining: return to == S::kReady || to == S::kUnloaded;
    case S::kFailed: return to == S::kUnloaded;
    case S::kUnloaded: return false;
  }
  return false;
}

Status Transition(SegmentState* state, SegmentState to) {
  if (!IsLegalTransition(*state, to))
    return FailedPrecondition(std::string("segment cannot go from ") + SegmentStateName(*state) + " to " +
                              SegmentStateName(to));
  *state = to;
  return Status::Ok();
}

}  // namespace edgesplit::agent
