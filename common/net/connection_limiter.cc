#include "common/net/connection_limiter.h"

namespace edgesplit::net {

struct ConnectionLimiter::State {
  std::mutex mu;
  size_t open = 0;
  std::map<std::string, size_t> per_peer;  // only peers with open connections: bounded by `open`
};

Status ConnectionLimits::Validate(const std::string& what) const {
  std::string e;
  if (max_connections == 0) e += what + ".max_connections must be positive; ";
  if (max_per_peer == 0) e += what + ".max_connections_per_peer must be positive; ";
  if (!e.empty()) return InvalidArgument(e.substr(0, e.size() - 2));
  return Status::Ok();
}

const char* AdmissionName(Admission a) {
  switch (a) {
    case Admission::kAdmitted: return "admitted";
    case Admission::kRefusedTotal: return "max_connections";
    case Admission::kRefusedPerPeer: return "max_per_peer";
  }
  return "unknown";
}

ConnectionLimiter::ConnectionLimiter(ConnectionLimits limits)
    : limits_(limits), state_(std::make_shared<State>()) {}

Admission ConnectionLimiter::TryAdmit(const std::string& peer, Slot* slot) {
  std::lock_guard lock(state_->mu);
  if (state_->open >= limits_.max_connections) return Admission::kRefusedTotal;
  auto it = state_->per_peer.find(peer);
  if (it != state_->per_peer.end() && it->second >= limits_.max_per_peer) return Admission::kRefusedPerPeer;
  ++state_->open;
  ++state_->per_peer[peer];
  *slot = Slot(state_, peer);
  return Admission::kAdmitted;
}

size_t ConnectionLimiter::open() const {
  std::lock_guard lock(state_->mu);
  return state_->open;
}

size_t ConnectionLimiter::open_from(const std::string& peer) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->per_peer.find(peer);
  return it == state_->per_peer.end() ? 0 : it->second;
}

ConnectionLimiter::Slot::Slot(Slot&& o) noexcept : state_(std::move(o.state_)), peer_(std::move(o.peer_)) {
  o.state_.reset();
}

ConnectionLimiter::Slot& ConnectionLimiter::Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    Release();
    state_ = std::move(o.state_);
    peer_ = std::move(o.peer_);
    o.state_.reset();
  }
  return *this;
}

ConnectionLimiter::Slot::~Slot() { Release(); }

void ConnectionLimiter::Slot::Release() {
  if (!state_) return;
  {
    std::lock_guard lock(state_->mu);
    --state_->open;
    auto it = state_->per_peer.find(peer_);
    if (it != state_->per_peer.end() && --it->second == 0) state_->per_peer.erase(it);
  }
  state_.reset();
}

}  // namespace edgesplit::net
