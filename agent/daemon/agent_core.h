// The agent's data plane and command handling, on one io thread (Asio) with libtorch work on a
// bounded compute pool. Routing and lifecycle decisions are delegated to the pure SegmentTable.
//
// Data port: every connection may carry any frame kind. Clients send REQUEST to the entry and get
// RESULT/ERROR back on the same connection; stages forward ACTIVATION to their downstream; the
// last stage sends RESULT (or any stage ERROR) to the entry, which answers its client.
// A bad frame closes its connection (counted by reason); the agent and other connections go on.
//
// Thread-safety: all methods except the constructor must run on the io thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "agent/daemon/agent_metrics.h"
#include "agent/daemon/config.h"
#include "agent/daemon/level_shift.h"
#include "agent/daemon/peer_link.h"
#include "agent/daemon/segment_table.h"
#include "agent/daemon/session_table.h"
#include "agent/runtime/compute_probe.h"
#include "agent/daemon/worker_pool.h"
#include "agent/transport/frame_io.h"
#include "agent/transport/frame_queue.h"
#include "common/net/accept_gate.h"
#include "common/proto/control.pb.h"

namespace edgesplit::agent {

// Loads a segment (runs on the loader thread). Tests inject fakes; the default reads
// <models_dir>/<model>/ with agent/runtime.
using SegmentLoader = std::function<Result<std::shared_ptr<SegmentExecutor>>(const LoadSpec&)>;
SegmentLoader MakePackageLoader(std::string models_dir, bool verify_sha256);

class AgentCore {
 public:
  // `tls`: this node's TLS context (plaintext when config.tls is off); shared with the control client.
  AgentCore(net::asio::io_context& io, AgentConfig config, SegmentLoader loader, AgentMetrics* metrics,
            WorkerPool* compute, WorkerPool* loader_pool, security::TlsPtr tls);
  ~AgentCore();

  // Binds the data port and starts accepting. The bound address is data_address().
  Status Start();
  const std::string& data_address() const { return data_address_; }

  // Control commands. `done` runs on the io thread with the acknowledgement.
  void HandleCommand(const v1::Command& cmd, std::function<void(v1::CommandAck)> done);
  // Segments, queue depths, request rates and the last link measurements.
  void FillProfile(v1::CapacityProfile* p, double period_s);

  // Runtime emulation (test feature, `PUT /v1/emulation`): subsequent compute jobs use the new
  // slowdown, subsequent sends the new egress cap; the per-layer time windows restart so the
  // profile measures the new reality. `e` must be valid (ParseEmulationUpdate).
  void SetEmulation(const EmulationConfig& e);
  // After the revocation list changed: closes data connections (in and out) whose peer is now
  // revoked. Returns how many.
  int CloseRevokedConnections();
  const EmulationConfig& emulation() const { return config_.emulation; }

  // SIGTERM: refuse new client requests; `drained` runs once in-flight work is finished
  // (or drain_timeout_ms passed).
  void BeginShutdown(std::function<void()> drained);
  bool ready() const { return started_ && !shutting_down_; }
  // Closes the listener and all connections.
  void Stop();

 private:
  struct InConn;
  struct Pending;
  struct EntryGen;
  struct StepBatcher;
  // A carried step waiting at a stage for its KV to arrive.
  struct CarryWait {
    transport::Frame step;
    TimePoint since;
  };
  net::Awaitable<void> AcceptLoop();
  net::Awaitable<void> ServeConnection(std::shared_ptr<InConn> conn);
  net::Awaitable<void> WriteLoop(std::shared_ptr<InConn> conn);
  net::Awaitable<void> SweepLoop();
  // Times the compute probe on the compute pool once a second (agent_core_control.cc): the
  // measured speed factor of the heartbeat.
  net::Awaitable<void> ProbeComputeLoop();
  // The traffic to a peer measured its link (PeerLink::Options::on_rate): the newest figure for
  // that peer in the heartbeat's links (agent_core_control.cc).
  void OnTrafficRate(const std::string& node, const std::string& address, double mbps);
  transport::FrameVerdict CheckFrame(const transport::Frame& meta, const InConn& conn);
  // A compute frame whose tensor was dropped (its segment could not take it): refused here
  // (true), or left to Dispatch, whose handlers refuse it on the same route failure.
  bool RefuseDiscarded(const transport::Frame& f, const std::shared_ptr<InConn>& conn);
  void Dispatch(transport::Frame f, const std::shared_ptr<InConn>& conn);
  void AcceptRequest(transport::Frame f, const std::shared_ptr<InConn>& conn);
  void AcceptActivation(transport::Frame f);
  Status SubmitCompute(SegmentSlot* slot, transport::Frame f);
  // The compute pool's admission: resource_exhausted ("overloaded") past max_queue jobs.
  Status CheckComputeRoom();
  // Queues `job` on the compute pool and counts it against `slot` until its result is posted.
  Status RunOnCompute(SegmentSlot* slot, std::function<void()> job);
  void OnComputed(LoadSpec spec, transport::Frame in, Result<HostTensor> out, std::vector<double> layer_ms, double seconds);
  void DeliverToEntry(transport::Frame f, const std::string& entry);
  void SendError(const transport::Frame& req, const std::string& entry, const Status& s);
  void CompletePending(transport::Frame f);
  // Request carry-over (agent_core_carry.cc). Entry: resubmits a request that failed with
  // `unavailable` on the newly active epoch (once).
  bool RetryOnActiveEpoch(const transport::Frame& err, Pending* p);
  // Entry: runs pending request `id` again on `epoch` (once per request); false if it cannot.
  bool Resubmit(uint64_t id, Pending* p, uint64_t epoch, const std::string& why);
  // Entry, on Activate with retry_in_flight: resubmits every request of `deployment` still in
  // flight on an older epoch to `epoch` (a stage of the old plan was lost). Returns the count.
  int ResubmitInFlight(const std::string& deployment, uint64_t epoch);
  // From the sweep: a request still in flight on a replaced epoch long after it was sent is
  // resubmitted to the active one (its old path hung without the orchestrator calling it lost,
  // e.g. the node stopped while a planned rollout was already under way).
  void RescueRequests(TimePoint now);
  void ReplyToClient(const std::shared_ptr<InConn>& conn, transport::Frame f);
  // Generation sessions (agent_core_gen.cc). Entry side: the session's stream and history;
  // stage side: the KV state in sessions_.
  void AcceptGenerate(transport::Frame f, const std::shared_ptr<InConn>& conn);
  void AcceptStep(transport::Frame f);
  Status SubmitStep(SegmentSlot* slot, transport::Frame f, std::shared_ptr<SessionHolder> holder);
  // Micro-batching (decode_batch_max > 1): queues a one-position step of a live session; one
  // compute job runs every queued step of the segment in one pass.
  Status SubmitBatchedStep(SegmentSlot* slot, transport::Frame f, std::shared_ptr<SessionHolder> holder);
  void OnStepComputed(LoadSpec spec, transport::Frame in, Result<HostTensor> out, int64_t token,
                      std::vector<double> layer_ms, double seconds);
  void HandleAtEntry(transport::Frame f);
  void OnEntryToken(const transport::Frame& f);
  void OnEntrySessionError(const transport::Frame& f);
  void StartStep(EntryGen* g);
  // Session carry-over (agent_core_carry.cc): a live session follows its deployment to the
  // epoch active at this entry. Frees its state on the old chain; the next step rebuilds it.
  void MoveSession(EntryGen* g, uint64_t epoch, const char* reason);
  // Frees the session on its old chain and makes `epoch` its epoch (both kinds of move).
  void LeaveEpoch(EntryGen* g, uint64_t epoch);
  // Entry: SESSION_END for `session` down the chain of (deployment, epoch), from this node.
  void EndSessionOnChain(const std::string& deployment, uint64_t epoch, uint64_t session);
  // Entry: the session will not switch to the epoch it pre-copied to: frees what that got.
  void DropPreCopy(EntryGen* g);
  // Stage: sessions ended here lately (bounded), so a KV_DATA that arrives after the end does
  // not make them again.
  void NoteEnded(const StageSessionKey& key);
  bool RecentlyEnded(const StageSessionKey& key) const { return ended_set_.count(key) > 0; }
  // KV copy (agent_core_kv.cc). Entry: the new epoch's slot if `g` can copy its KV there (a
  // planned move to an epoch that replaces g's), else null.
  SegmentSlot* CopyTarget(EntryGen* g, uint64_t epoch);
  // Entry: asks g's old chain to send KV positions [from, end) to `to`'s holders.
  void PushKv(EntryGen* g, const SegmentSlot& to, int64_t from, int64_t end);
  // Entry, on Activate: sends what g's stages hold so far while it keeps decoding.
  void PreCopySession(EntryGen* g, uint64_t epoch);
  // Entry, at a token boundary: sends the rest and moves g to `epoch`; false: rebuild instead.
  bool CopySession(EntryGen* g, uint64_t epoch);
  // Entry, at a token boundary after `epoch` became active: where g's pre-copy to it stands.
  enum class PreCopy { kNone, kInFlight, kDelivered, kFailed };
  PreCopy PreCopyState(EntryGen* g, uint64_t epoch);
  // Entry: a new stage reports the positions it holds of a session's KV.
  void OnKvReady(const transport::Frame& f);
  // New stage: tells the entry what it holds of a carried session (after each import that
  // completes a round).
  void ReportKvReady(const SegmentSlot& slot, uint64_t session, int64_t held, const std::string& entry);
  // Entry: the first step after a copy failed; rebuilds the session on the same epoch.
  bool FallBackToRebuild(EntryGen* g, const transport::Frame& err);
  // Old stage: exports the pushed positions of its stateful layers to their new holders.
  void HandleKvPush(transport::Frame f);
  // Before a KV_DATA frame's payload is read: a clear error for a tensor that does not fit the
  // layer's state; `discard` when no segment here takes it.
  Status CheckKvData(const transport::Frame& m, bool* discard);
  // New stage: imports KV_DATA into the session it creates or extends; runs a waiting step once
  // every layer holds the positions before it.
  void ReceiveKv(transport::Frame d);
  // New stage: true if carried step `f` was parked to wait for its KV (or refused).
  bool AwaitCarriedKv(SegmentSlot* slot, transport::Frame& f);
  // Carried steps that waited kv_copy_timeout_ms fail with unavailable.
  void SweepCarries(TimePoint now);
  // On Activate of `epoch`: with `lost` (a stage of the old plan was lost) or for parked
  // sessions, moves them now and restarts their step; others move at their next token boundary.
  int CarrySessions(const std::string& deployment, uint64_t epoch, bool lost);
  // A session step failed; true if the session moved on or waits for a newer epoch.
  bool SurviveStepError(EntryGen* g, const transport::Frame& err);
  // From the sweep: sessions whose step on a replaced epoch is overdue move now; parked
  // sessions retry on the active epoch after a while (a transient loss, or no new plan coming).
  void RescueSessions(TimePoint now);
  void FinishEntrySession(uint64_t session, const char* reason, const Status* error);
  void ForwardSessionEnd(const transport::Frame& end, const SegmentSlot* slot);
  void HandleSessionEnd(transport::Frame f, const std::shared_ptr<InConn>& conn);
  void CancelSessionsOf(uint64_t conn_id);
  void SweepSessions(TimePoint now);
  void UpdateSessionGauges();
  // The link to `address`, whose certificate must name `node` (empty: any agent).
  std::shared_ptr<PeerLink> Peer(const std::string& address, const std::string& node);
  net::Awaitable<void> RunProbe(v1::ProbeLinks probe, std::function<void(v1::CommandAck)> done, v1::CommandAck ack);
  void WaitDrained(SegmentKey key, TimePoint deadline, std::function<void(Status)> done);
  void FillSegment(const SegmentSlot& s, v1::SegmentStats* out, double period_s);
  void UpdateGauges();

  net::asio::io_context& io_;
  AgentConfig config_;
  SegmentLoader loader_;
  security::TlsPtr tls_;
  AgentMetrics* metrics_;
  WorkerPool* compute_;
  WorkerPool* loader_pool_;
  transport::FrameLimits limits_;
  transport::TokenBucket egress_;
  SegmentTable table_;
  std::optional<net::tcp::acceptor> acceptor_;
  std::optional<net::AcceptGate> gate_;
  std::string data_address_;
  std::map<std::string, std::shared_ptr<PeerLink>> peers_;
  std::map<uint64_t, std::weak_ptr<InConn>> conns_;
  std::map<uint64_t, std::unique_ptr<Pending>> pending_;  // entry: internal request id -> client
  std::map<uint64_t, std::unique_ptr<EntryGen>> gens_;    // entry: session id -> stream
  SessionTable sessions_;                                 // KV state of sessions on this agent's segments
  std::map<SegmentKey, std::shared_ptr<StepBatcher>> batchers_;
  std::map<StageSessionKey, CarryWait> carry_waiting_;   // carried steps waiting for their KV
  std::deque<StageSessionKey> ended_;                    // NoteEnded, oldest first
  std::set<StageSessionKey> ended_set_;
  std::vector<v1::LinkMeasurement> links_;
  SpeedEstimate speed_{kComputeProbeNominalMs};
  uint64_t next_conn_id_ = 1;
  size_t in_compute_ = 0;
  bool started_ = false;
  bool shutting_down_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // guards callbacks posted from pools
};

}  // namespace edgesplit::agent
