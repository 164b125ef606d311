#!/usr/bin/env bash
# The main job: an orchestrator and 4 agents on loopback (different emulated speeds and links),
# a synthetic GPT deployed on them, steady load, and three faults the system adapts to:
#   slow  - a stage node is slowed 4x (its compute_slowdown, PUT /v1/emulation)  -> migration: same cuts,
#           the spare node (as fast as the victim was) takes the stage
#   link  - the entry's uplink is capped at 2 Mbps (its egress_mbps, same endpoint) -> re-split: every
#           multi-stage plan sends an activation over that uplink, so the layers come back to the entry
#           (the orchestrator learns of the cap only from the entry's measured traffic and probes)
#   link_restore - the cap set and adapted to as in link, then lifted -> the layers leave the entry
#           again (a multi-stage plan), found by the link probes of the now unused uplink
#   kill  - a stage node is killed (SIGKILL)                                         -> recovery
#   hang  - a stage node is stopped (SIGSTOP: connections open, no answers), later resumed -> recovery;
#           the entry resubmits the requests stuck in the old epoch
#   restart - the orchestrator is killed and restarted under load (data plane keeps serving)
# Prints a readable timeline; with --json one summary object:
#   {"scenarios": [{"name","action","adaptation_s","failed_requests","p50_before_ms","p50_after_ms",
#                   "decision","stages_before","stages_after",
#                   "streams","streams_broken","tokens_mismatched","stall_ms_max","stall_ms_median","kv_bytes_moved",
#                   "rebuilt_sessions","copied_sessions"}],
#    "total_requests", "failed_requests", "streams_total", "streams_broken", "tokens_mismatched",
#    "generation": {"tokens","finish_reason","epoch","ttft_ms","ms_per_token","tokens_per_s","equal_to_whole_model"}}
# (a streamed REST generation runs alongside the load before the faults; it must equal the whole model.
# Three live generation streams run straight at the entry through every fault, restarted as they
# end; per scenario: "streams" alive at the fault, of those "streams_broken" (an error or an index
# gap/repeat) and "tokens_mismatched" (tokens differing from the whole model's run of the same
# request), "stall_ms_max" (the longest gap between their tokens after the fault beyond their
# median gap, as the client saw it; "stall_ms_median": the median over those streams),
# "kv_bytes_moved", "rebuilt_sessions" and "copied_sessions" (agents' counters: KV bytes sent
# between agents, sessions moved by a prefill of their history or with their KV copied).)
# ("decision" is the orchestrator's decision kind that made the adapting epoch: migrate | resplit.)
# Usage: scripts/demo.sh [--json] [--scenarios slow,link,link_restore,kill,hang,restart] [--via gateway|entry] [--netns]
# --netns (root): every process in its own network namespace on one bridge, links shaped by the
#   kernel (`tc tbf` on each node's uplink) instead of the agents' egress emulation: n4's uplink
#   is a real 200 Mbit/s link and the link fault is a real 3 Mbit/s cap. With or without it, a
#   cap is seen only as the agents measure it (their traffic and link probes).
# Env: BUILD_DIR (default build). Exits non-zero if a scenario did not adapt, adapted by another
# kind of decision than expected (slow: migrate or resplit, link: resplit), requests failed, a
# live stream broke or its tokens differ from the whole model.
# Cleans up every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
JSON=0
SCENARIOS=slow,link,link_restore,kill
VIA=""
NETNS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --json) JSON=1 ;;
    --scenarios) SCENARIOS=$2; shift ;;
    --scenarios=*) SCENARIOS=${1#*=} ;;
    --via) VIA=$2; shift ;;
    --netns) NETNS=1 ;;
    *) echo "usage: scripts/demo.sh [--json] [--scenarios slow,link,link_restore,kill,hang,restart] [--via gateway|entry] [--netns]" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$VIA" ]; then
  case ",$SCENARIOS," in *,restart,*) VIA=entry ;; *) VIA=gateway ;; esac
fi

log() { if [ "$JSON" = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }

BIN="$BUILD_DIR/bin"
if [ ! -x "$BIN/edgesplit-orchestrator" ] || [ ! -x "$BIN/edgesplit-agent" ] || [ ! -x "$BIN/edgesplitctl" ]; then
  log "== building (first run only)"
  ./scripts/setup.sh
  [ -f "$BUILD_DIR/build.ninja" ] || cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" --target edgesplit-orchestrator edgesplit-agent edgesplitctl -j "$(nproc)" >&2
fi
BIN=$(cd "$BIN" && pwd)
PY=/usr/bin/python3

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgesplit-demo.XXXXXX")
PIDS=()
NAMESPACES=()
source "$ROOT/scripts/lib/testbed.sh"  # NS/HOST, in_ns, spawn, uplink, wait_for, jq_py
source "$ROOT/scripts/lib/harness.sh"  # free_ports
cleanup() {
  testbed_cleanup
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
# Where each process runs: loopback, or (--netns) a namespace each on a bridge in a hub
# namespace (scripts/lib/testbed.sh); the ctl and curl run beside the orchestrator.
testbed_nodes orch n1 n2 n3 n4
ctl() { in_ns orch "$BIN/edgesplitctl" "$@"; }

# ---- model: a synthetic GPT (12 blocks, d_model 192, seq 64) and its reference profile
log "== synthesising a GPT and profiling it on this machine"
mkdir -p "$WORK/models" "$WORK/state"
ctl model synth --layers 12 --d-model 192 --heads 4 --vocab 2000 --seq 64 --seed 11 --out "$WORK/models/gpt-demo" >/dev/null
ctl model profile --model "$WORK/models/gpt-demo" --json --runs 5 > "$WORK/models/gpt-demo/profile.json"
$PY - "$WORK/in.npy" <<'PYEOF'
import random, struct, sys
random.seed(1); seq = 64
hdr = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, %d), }" % seq
hdr += ' ' * (64 - (10 + len(hdr) + 1) % 64) + '\n'
with open(sys.argv[1], 'wb') as f:
    f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(hdr)) + hdr.encode())
    f.write(struct.pack('<%dq' % seq, *[random.randrange(2000) for _ in range(seq)]))
PYEOF

# ---- processes
log "== an operator CA and certificates: mutual TLS on the control channel and the data plane"
ctl pki init --dir "$WORK/pki" >/dev/null
ctl pki issue --dir "$WORK/pki" --name orchestrator --role orchestrator >/dev/null
for n in n1 n2 n3 n4; do ctl pki issue --dir "$WORK/pki" --name "$n" --role agent >/dev/null; done
ctl pki issue --dir "$WORK/pki" --name demo-client --role client >/dev/null
tls_flags() { echo --tls-ca "$WORK/pki/ca.crt" --tls-cert "$WORK/pki/$1.crt" --tls-key "$WORK/pki/$1.key"; }
# edgesplitctl talking straight to an entry (load --via entry) presents the client certificate.
export EDGESPLIT_TLS_CA=$WORK/pki/ca.crt EDGESPLIT_TLS_CERT=$WORK/pki/demo-client.crt EDGESPLIT_TLS_KEY=$WORK/pki/demo-client.key

read -r CPORT HPORT D1 D2 D3 D4 H1 H2 H3 H4 <<<"$(free_ports 10)"
export EDGESPLIT_ADDR=${HOST[orch]}:$HPORT
ORCH_ARGS=(--control-listen ${HOST[orch]}:$CPORT --http-listen ${HOST[orch]}:$HPORT --models-dir "$WORK/models"
  --state-dir "$WORK/state" --heartbeat-period-ms 250 $(tls_flags orchestrator)
  --set policy.cooldown_s=5 --set policy.evaluate_interval_ms=250 --set policy.hysteresis_fraction=0.5
  --set policy.min_gain_ms=1 --set policy.resplit_margin_fraction=0.25 --set planner.probe_interval_ms=1000 --set planner.probe_bytes=65536 --set rollout.drain_grace_ms=100
  --set gateway.threads=8 --set gateway.attempt_timeout_ms=3000
  --set trusted_nodes=n1,n2,n3,n4)  # trust is the operator's: agents' own claims grant nothing
start_orchestrator() {
  spawn orch "$WORK/orchestrator.out" "$WORK/orchestrator.log" "$BIN/edgesplit-orchestrator" "${ORCH_ARGS[@]}"
  ORCH_PID=$SPAWNED
  disown "$ORCH_PID"  # killed on purpose in some scenarios: no job-control notice
  wait_for 20 in_ns orch curl -sf "http://${HOST[orch]}:$HPORT/readyz"
}
if [ "$NETNS" = 1 ]; then
  log "== network namespaces on one bridge (10.77.$TB_ID.0/24); links shaped with tc in the kernel"
fi
log "== starting the orchestrator and 4 agents (entry n1 is 1.5x slower, n4 sends at most 200 Mbps)"
start_orchestrator
log "   live view: http://${HOST[orch]}:$HPORT/ (a browser on this machine; REST API and /metrics on the same port)"
declare -A AGENT_PID
declare -A AGENT_HTTP
start_agent() {  # name data_port http_port extra...
  local name=$1 port=$2 http=$3; shift 3
  AGENT_HTTP[$name]=${HOST[$name]}:$http
  spawn "$name" "$WORK/$name.log" "$WORK/$name.log" "$BIN/edgesplit-agent" --node "$name" \
    --orchestrator "${HOST[orch]}:$CPORT" --data-listen "${HOST[$name]}:$port" --http-listen "${HOST[$name]}:$http" \
    --models-dir "$WORK/models" --heartbeat-period-ms 250 --frame-deadline-ms 3000 --runtime-api true \
    $(tls_flags "$name") "$@"
  AGENT_PID[$name]=$SPAWNED
  disown "$SPAWNED"
}
start_agent n1 "$D1" "$H1" --compute-slowdown 1.5
start_agent n2 "$D2" "$H2"
start_agent n3 "$D3" "$H3"
if [ "$NETNS" = 1 ]; then
  uplink n4 200mbit
  start_agent n4 "$D4" "$H4"
else
  start_agent n4 "$D4" "$H4" --egress-mbps 200
fi
# Runtime emulation (agent test feature, docs/agent.md): emulation NODE -> current JSON;
# emulation NODE JSON -> sets it.
emulation() {
  if [ $# -eq 1 ]; then in_ns orch curl -sf "http://${AGENT_HTTP[$1]}/v1/emulation"; return; fi
  in_ns orch curl -sf -X PUT -H 'Content-Type: application/json' --data "$2" "http://${AGENT_HTTP[$1]}/v1/emulation" >/dev/null
}
nodes_alive() { [ "$(ctl nodes --json | jq_py "sum(1 for n in d['nodes'] if n['state']=='alive')")" = "$1" ]; }
wait_for 30 nodes_alive 4 || { echo "agents did not register" >&2; exit 1; }

log "== deploying gpt-demo (objective: period, at most 3 stages, entry n1)"
ctl deploy --name demo --model gpt-demo --entry n1 --objective period --max-stages 3 --wait-s 60 >"$WORK/deploy.txt"
log "$(cat "$WORK/deploy.txt")"

dep_json() { ctl deployments demo --json; }
epoch() { dep_json | jq_py "d['epoch']"; }
stages() { dep_json | jq_py "' -> '.join('%s[%d,%d)' % (s['node'], s['first_layer'], s['end_layer']) for s in d['stages'])"; }
stages_of() {  # the stages of EPOCH (from the rollout events; the current ones if it is current)
  local cur; cur=$(epoch)
  if [ "$cur" = "$1" ]; then stages; return; fi
  ctl events --deployment demo --json | jq_py "(lambda ev: [e['stages'] for e in ev if e['type']=='decision' and e['seq'] < min(x['seq'] for x in ev if x['type']=='rollout' and x['kind']=='preparing' and x['epoch']==$1)][-1])(d['events'])" 2>/dev/null || stages
}

# ---- load
LOAD_SECONDS=600
T0=$(now_ms)
spawn orch "$WORK/load.json" "$WORK/load.err" "$BIN/edgesplitctl" load --deployment demo --input "$WORK/in.npy" \
  --rps 10 --concurrency 8 --duration-s $LOAD_SECONDS --via "$VIA" --deadline-ms 15000 --timeline "$WORK/timeline.txt" \
  --stop-file "$WORK/stop" --json
LOAD_PID=$SPAWNED
log "== steady load: 10 requests/s via $VIA"
sleep 6

# ---- a streamed generation through the deployment, alongside the load: the REST gateway's
# server-sent events, checked token for token against the whole model in one process.
GEN_PROMPT=5,17,42,7,99,123,8,64
GEN_FLAGS=(--prompt-tokens "$GEN_PROMPT" --max-new-tokens 48 --temperature 0.8 --top-k 40 --top-p 0.95 --seed 7)
log "== streaming a generation through the deployment (48 tokens, seeded sampling) alongside the load"
GEN_T0=$(now_ms)
if ctl generate --deployment demo "${GEN_FLAGS[@]}" --json >"$WORK/generate.json" 2>"$WORK/generate.err"; then
  GEN_MS=$(( $(now_ms) - GEN_T0 ))
  ctl model generate --model "$WORK/models/gpt-demo" "${GEN_FLAGS[@]}" --json >"$WORK/generate_whole.json"
  $PY - "$WORK/generate.json" "$WORK/generate_whole.json" "$GEN_MS" >"$WORK/generation.json" <<'PYEOF'
import json, sys
split, whole, ms = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
n = len(split["tokens"])
print(json.dumps({"tokens": n, "finish_reason": split["finish_reason"], "epoch": split["epoch"],
                  "ttft_ms": round(split["ttft_ms"], 2), "ms_per_token": round(split["ms_per_token"], 2),
                  "tokens_per_s": round(n / (ms / 1000.0), 1), "equal_to_whole_model": split["tokens"] == whole["tokens"]}))
PYEOF
  log "   $(jq_py "'%d tokens, time to first token %.1f ms, %.1f ms/token, %.1f tokens/s end to end, same tokens as the whole model: %s' % (d['tokens'], d['ttft_ms'], d['ms_per_token'], d['tokens_per_s'], d['equal_to_whole_model'])" <"$WORK/generation.json")"
else
  log "   generation FAILED: $(cat "$WORK/generate.err")"
  echo '{"failed": true}' >"$WORK/generation.json"
fi

# ---- live generation streams through every fault: STREAMS concurrent sessions straight at the
# entry (so an orchestrator restart does not touch them), each restarted as it ends, logged per
# session and checked token for token against the whole model at the end.
STREAMS=3 STREAM_TOKENS=256
STREAM_FLAGS=(--prompt-len 8 --new-tokens $STREAM_TOKENS --temperature 0.8 --top-k 40 --top-p 0.95)
spawn orch "$WORK/streams.json" "$WORK/streams.err" "$BIN/edgesplitctl" load --deployment demo --generate-sessions $STREAMS \
  "${STREAM_FLAGS[@]}" --via entry --stop-file "$WORK/stop" --streams-log "$WORK/streams.jsonl" --json
STREAMS_PID=$SPAWNED
log "== $STREAMS live generation streams ($STREAM_TOKENS tokens each, seeded sampling) straight at the entry, through every fault"

# Counters from every agent's /metrics: KV bytes sent for moving sessions, sessions the entry
# moved by rebuilding or copying their KV. Snapshotted before each fault, reported per scenario.
agent_value() {  # agent_value NODE REGEX -> that agent's sum of the matching samples (empty if unreachable)
  local body
  body=$(in_ns orch curl -sf -m 2 "http://${AGENT_HTTP[$1]}/metrics" 2>/dev/null) || return 0
  awk -v re="$2" '$0 ~ re {s += $2} END {printf "%.0f", s}' <<<"$body"
}
KV_RE='^edgesplit_agent_kv_moved_bytes_total'
REBUILT_RE='^edgesplit_agent_sessions_moved_total[{].*how="rebuilt"'
COPIED_RE='^edgesplit_agent_sessions_moved_total[{].*how="copied"'
declare -A SNAP=()
snapshot() {  # every agent's counters now
  local n re
  SNAP=()
  for n in "${!AGENT_HTTP[@]}"; do
    for re in KV REBUILT COPIED; do
      local pat="${re}_RE"
      SNAP[$n.$re]=$(agent_value "$n" "${!pat}")
    done
  done
}
since_snapshot() {  # since_snapshot KV|REBUILT|COPIED -> growth summed over agents that answered both times
  # (a killed agent's counters vanish with it: its share is unknown, not negative)
  local n total=0 v pat="${1}_RE"
  for n in "${!AGENT_HTTP[@]}"; do
    [ -n "${SNAP[$n.$1]:-}" ] || continue
    v=$(agent_value "$n" "${!pat}")
    [ -n "$v" ] && total=$(( total + v - SNAP[$n.$1] ))
  done
  echo "$total"
}
sessions_note() {  # what happened to the live sessions since the snapshot
  log "   live sessions: $(since_snapshot COPIED) moved with their KV copied between agents ($(since_snapshot KV) bytes), $(since_snapshot REBUILT) rebuilt on the new stages (prefill of their history)"
}

RESULTS="$WORK/results.txt"
: >"$RESULTS"
commit_ms() {  # commit_ms EPOCH -> wall ms at which the orchestrator committed that epoch
  ctl events --deployment demo --json | jq_py "[e['unix_ms'] for e in d['events'] if e['type']=='rollout' and e['kind']=='draining' and e['epoch']==$1][0]"
}
record() {  # name action t_action t_done stages_before [adapted_epoch]
  local e=${6:-0} kind="" after=""
  if [ "$4" != 0 ]; then
    [ "$e" != 0 ] || e=$(epoch)
    kind=$(decision_kind "$e" 2>/dev/null || true); after=$(stages_of "$e")
  fi
  echo "$1|$2|$(( $3 - T0 ))|$(( $4 - T0 ))|$kind|$5|$after|$(since_snapshot KV)|$(since_snapshot REBUILT)|$(since_snapshot COPIED)" >>"$RESULTS"
}
decision_kind() {  # the kind (migrate|resplit|...) of the decision that started the rollout to EPOCH
  ctl events --deployment demo --json | jq_py "(lambda ev: [e['kind'] for e in ev if e['type']=='decision' and e['seq'] < min(x['seq'] for x in ev if x['type']=='rollout' and x['kind']=='preparing' and x['epoch']==$1)][-1])(d['events'])"
}

moved_before() {  # moved_before EPOCH T -> True if a rollout past EPOCH was prepared before wall ms T
  ctl events --deployment demo --json | jq_py "any(e['type']=='rollout' and e['kind']=='preparing' and e['epoch']>$1 and e['unix_ms']<$2 for e in d['events'])"
}
victim_layers() {  # layers the node holds in the committed plan (0 if none)
  dep_json | jq_py "next((str(s['end_layer']-s['first_layer']) for s in d['stages'] if s['node']=='$1'), '0')"
}
settle() {  # before a fault: no rollout in flight and the epoch unchanged for 7 s (at most 30 s)
  # 7 s outlasts the 5 s cool-down: a plan that will move back after the previous fault's undo
  # has done so before the next fault is armed.
  local until=$(( $(now_ms) + 30000 )) last="" since cur
  since=$(now_ms)
  while [ "$(now_ms)" -lt "$until" ]; do
    cur=$(dep_json 2>/dev/null | jq_py "'%d %s' % (d['epoch'], d['rollout'] is None)" 2>/dev/null || echo "?")
    if [ "$cur" != "$last" ]; then last=$cur; since=$(now_ms); fi
    case "$cur" in *True) [ $(( $(now_ms) - since )) -ge 7000 ] && return 0 ;; esac
    sleep 0.1
  done
  log "   (the plan did not settle within 30 s)"
}
wait_adapted() {  # wait_adapted VICTIM KIND OLD_LAYERS SECONDS -> "COMMIT_WALL_MS EPOCH" of the epoch that relieved it
  # Only epochs after FAULT_EPOCH (the committed epoch just before the fault) count. slow: the
  # victim holds fewer layers or none; kill: none; link (the victim's uplink is capped): no
  # activation leaves it (it holds no stage, or it is the entry and holds the whole model).
  local v=$1 kind=$2 old=$3 until=$(( $(now_ms) + $4 * 1000 )) e0=$FAULT_EPOCH e ok held
  held="next((s['end_layer']-s['first_layer'] for s in d['stages'] if s['node']=='$v'), 0)"
  case "$kind" in
    slow) ok="$held < $old" ;;
    link) ok="$held == 0 or len(d['stages']) == 1" ;;
    link_restore) ok="len(d['stages']) > 1" ;;
    *) ok="$held == 0" ;;
  esac
  while [ "$(now_ms)" -lt "$until" ]; do
    read -r e cur <<<"$(dep_json 2>/dev/null | jq_py "'%d %d' % (d['epoch'], $ok)" 2>/dev/null || echo "$e0 0")"
    if [ "$e" != "$e0" ] && [ "$cur" = 1 ]; then
      echo "$(commit_ms "$e" 2>/dev/null || now_ms) $e"
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# Runs one fault scenario: settles, picks the victim (a stage node other than the entry unless
# given), arms the fault (a reversible step), and checks that the plan did not move between the
# snapshot and the fault (the policy may re-plan on noise at any time); if it did, disarms and
# tries again, so the recorded "before" plan is the one the fault hit. Then fires the rest of the
# fault, waits until the plan relieves the victim, records the adaptation time, and runs `undo`.
#   $1 scenario  $2 victim ('' = a stage node)  $3 headline  $4 action  $5 relieved text  $6 still text
#   $7 arm  $8 disarm  $9 fire (after the check)  $10 undo   (commands; $v is the victim, $ORIG its emulation)
run_fault() {
  local name=$1 want=$2 headline=$3 action=$4 relieved=$5 still=$6 arm=$7 disarm=$8 fire=$9 undo=${10}
  local v old t1 t2 e adapted before tries=0 snap
  while :; do
    settle
    snap=$(dep_json | jq_py "(lambda st: '%d|%s|%s' % (d['epoch'], ' -> '.join('%s[%d,%d)' % (s['node'], s['first_layer'], s['end_layer']) for s in st), ' '.join(s['node'] for s in st)))(d['stages'])")
    IFS='|' read -r FAULT_EPOCH before nodes <<<"$snap"
    v=$want
    if [ -z "$v" ]; then v=$(for n in $nodes; do [ "$n" != n1 ] && echo "$n"; done | tail -1); fi
    if [ -z "$v" ]; then
      # The plan runs on the entry alone (e.g. after a kill): no stage node to hit yet.
      tries=$((tries + 1))
      if [ "$tries" -ge 8 ]; then
        # Nothing to hit: the scenario is skipped (and says so), not failed.
        log ""; log "== [$name] skipped: the plan stays on the entry alone ($before), no stage node to hit"
        return 0
      fi
      log "   (the plan runs on the entry alone: waiting for a stage node to hit)"
      sleep 5
      continue
    fi
    old=$(victim_layers "$v")
    ORIG=$(emulation "$v" 2>/dev/null || echo '{}')
    snapshot
    t1=$(now_ms)
    eval "$arm"
    # The fault itself may move the plan at once (that is the adaptation); only a rollout
    # prepared before the fault was armed means the snapshot is stale.
    [ "$(moved_before "$FAULT_EPOCH" "$t1")" = False ] && break
    eval "$disarm"
    tries=$((tries + 1))
    log "   (the plan moved just before the fault; again)"
    [ "$tries" -lt 5 ] || break
  done
  log ""
  log "== [$name] $v ${headline} (stages: $before)"
  eval "$fire"
  if adapted=$(wait_adapted "$v" "$name" "$old" 60); then
    read -r t2 e <<<"$adapted"
    log "   ${relieved/\$v/$v} after $(( t2 - t1 )) ms by a $(decision_kind "$e" 2>/dev/null || echo '?') (epoch $e): $(stages)"
    sessions_note
    record "$name" "${action/\$v/$v}" "$t1" "$t2" "$before" "$e"
  else
    log "   ${still/\$v/$v} after 60 s: $(stages)"; record "$name" "${action/\$v/$v}" "$t1" 0 "$before"
  fi
  eval "$undo"
}

run_slow() {
  run_fault slow "" "computes 4x slower (compute_slowdown 4 via PUT /v1/emulation)" \
    'slowed $v (compute_slowdown 4)' 'relieved $v' '$v still carries its stage' \
    'emulation "$v" "{\"compute_slowdown\": 4}"' 'emulation "$v" "$ORIG"' ':' 'sleep 6; emulation "$v" "$ORIG" || true'
}

run_link() {
  # Either cap is found only by measurement (the entry's traffic rate, link probes); the real
  # link's 3 Mbit/s (10 requests/s offer 3.9) keeps the backlog built up meanwhile within deadlines.
  if [ "$NETNS" = 1 ]; then
    run_fault link n1 "uplink drops to 3 Mbit/s (tc tbf in the kernel)" \
      'uplink of $v capped to 3 Mbit/s (tc)' 'no activations leave $v' 'activations still leave $v' \
      'uplink "$v" 3mbit' 'uplink "$v" off' ':' 'sleep 6; uplink "$v" off'
    return
  fi
  run_fault link n1 "uplink drops to 2 Mbps (egress_mbps 2 via PUT /v1/emulation)" \
    'uplink of $v capped to 2 Mbps' 'no activations leave $v' 'activations still leave $v' \
    'emulation "$v" "{\"egress_mbps\": 2}"' 'emulation "$v" "$ORIG"' ':' 'sleep 6; emulation "$v" "$ORIG" || true'
}

run_link_restore() {
  # The entry's uplink capped until the layers are back on it, then the cap lifted: the plan
  # must move layers off the entry again. No traffic crosses the unused uplink, so only the
  # agents' link probes (every planner.probe_interval_ms) can show that it recovered.
  local cap=('emulation n1 "{\"egress_mbps\": 2}"') lift=('emulation n1 "$ORIG"') t1 t2 e adapted before
  if [ "$NETNS" = 1 ]; then cap=('uplink n1 3mbit'); lift=('uplink n1 off'); fi
  settle
  ORIG=$(emulation n1 2>/dev/null || echo '{}')
  FAULT_EPOCH=$(epoch)
  eval "${cap[0]}"
  if ! wait_adapted n1 link 0 60 >/dev/null; then
    eval "${lift[0]}"
    log "   (the cap did not bring the layers back to n1: link_restore not run)"
    record link_restore "uplink of n1 restored" "$(now_ms)" 0 "$(stages)"
    return
  fi
  sleep 3  # the capped plan serves a moment
  FAULT_EPOCH=$(epoch); before=$(stages)
  snapshot
  log ""
  log "== [link_restore] n1's uplink cap is lifted (stages: $before)"
  t1=$(now_ms)
  eval "${lift[0]}"
  if adapted=$(wait_adapted n1 link_restore 0 30); then
    read -r t2 e <<<"$adapted"
    log "   layers left n1 again after $(( t2 - t1 )) ms by a $(decision_kind "$e" 2>/dev/null || echo '?') (epoch $e): $(stages)"
    sessions_note
    record link_restore "uplink of n1 restored" "$t1" "$t2" "$before" "$e"
  else
    log "   the plan still holds every layer on n1 after 30 s: $(stages)"
    record link_restore "uplink of n1 restored" "$t1" 0 "$before"
  fi
  sleep 6
}

run_kill() {  # SIGSTOP first (reversible while the plan is checked), then SIGKILL
  run_fault kill "" "gets SIGKILL" 'killed $v' 'recovered' 'no recovery' \
    'kill -STOP "${AGENT_PID[$v]}"' 'kill -CONT "${AGENT_PID[$v]}"' 'kill -9 "${AGENT_PID[$v]}"' 'sleep 6'
}

run_hang() {  # SIGSTOP: the node keeps its connections open but answers nothing; SIGCONT later
  run_fault hang "" "hangs (SIGSTOP: connections stay open, nothing answers)" 'hung $v (SIGSTOP)' 'recovered' \
    'no recovery' 'kill -STOP "${AGENT_PID[$v]}"' 'kill -CONT "${AGENT_PID[$v]}"' ':' \
    'log "   the entry resubmitted $(retried_at_entry) requests stuck in the old epoch so far";
     sleep 3; kill -CONT "${AGENT_PID[$v]}"; log "   SIGCONT to $v: it rejoins; its stale epoch is fenced"; sleep 6'
}
retried_at_entry() { in_ns orch curl -sf "http://${AGENT_HTTP[n1]}/metrics" | awk '/^edgesplit_agent_requests_retried_total/ {print $2}'; }

run_restart() {
  local t1 t2 e0 before
  e0=$(epoch); before=$(stages)
  snapshot
  log ""
  log "== [restart] SIGKILL to the orchestrator, restart on the same state (stages: $(stages))"
  t1=$(now_ms)
  kill -9 "$ORCH_PID"
  sleep 2
  start_orchestrator
  wait_for 30 in_ns orch sh -c "'$BIN/edgesplitctl' deployments demo --json | grep -q '\"status\":\"serving\"'" || true
  t2=$(now_ms)
  log "   re-adopted in $(( t2 - t1 )) ms (epoch $e0 -> $(epoch)): $(stages)"
  sessions_note
  record restart "orchestrator killed and restarted" "$t1" "$t2" "$before"
  sleep 6
}

IFS=, read -ra LIST <<<"$SCENARIOS"
for s in "${LIST[@]}"; do
  case "$s" in
    slow) run_slow ;; link) run_link ;; link_restore) run_link_restore ;; kill) run_kill ;; hang) run_hang ;; restart) run_restart ;;
    *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done

# ---- stop the load and summarise
touch "$WORK/stop"
wait "$LOAD_PID" 2>/dev/null || true
T_END=$(( $(now_ms) - T0 ))
wait "$STREAMS_PID" 2>/dev/null || true
# The whole model in one process, for each stream's request (worker w: its prompt, seed w).
: >"$WORK/streams_whole.jsonl"
for w in $(seq 0 $((STREAMS - 1))); do
  prompt=$(grep -m1 "\"worker\":$w," "$WORK/streams.jsonl" | jq_py "','.join(str(t) for t in d['prompt'])" 2>/dev/null || true)
  [ -n "$prompt" ] || continue
  ctl model generate --model "$WORK/models/gpt-demo" --prompt-tokens "$prompt" --max-new-tokens $STREAM_TOKENS \
    --temperature 0.8 --top-k 40 --top-p 0.95 --seed "$w" --json | jq_py "__import__('json').dumps({'worker': $w, 'tokens': d['tokens']})" >>"$WORK/streams_whole.jsonl"
done
ctl events --deployment demo >"$WORK/events.txt" 2>/dev/null || true
if [ "$JSON" != 1 ]; then
  echo
  echo "== decisions and rollouts (orchestrator events)"
  grep -E " (decision|rollout) " "$WORK/events.txt" | grep -vE "rollout .*(committing|releasing) " || true
fi
$PY - "$RESULTS" "$WORK/timeline.txt" "$T_END" "$JSON" "$WORK/generation.json" "$T0" "$WORK/streams.jsonl" \
  "$WORK/streams_whole.jsonl" <<'PYEOF'
import json, sys
results, timeline, t_end, as_json = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
generation = json.load(open(sys.argv[5]))
t0 = int(sys.argv[6])
def jsonl(path):
    try:
        return [json.loads(l) for l in open(path) if l.strip()]
    except FileNotFoundError:
        return []
streams = jsonl(sys.argv[7])
whole = {w["worker"]: w["tokens"] for w in jsonl(sys.argv[8])}
def mismatched(st):  # tokens differing from the whole model's run of the same request
    want = whole.get(st["worker"])
    if want is None:
        return len(st["tokens"])
    got = st["tokens"]
    return sum(1 for a, b in zip(got, want) if a != b) + max(0, len(got) - len(want))
def broken(st):
    return not st["ok"] or not st["indices_ok"]
def stall(st, a, b):  # the largest gap between tokens arriving in [a, b) beyond the stream's median gap
    at = st["arrival_unix_ms"]
    gaps = [y - x for x, y in zip(at, at[1:])]
    if not gaps:
        return None
    med = sorted(gaps)[len(gaps) // 2]
    near = [y - x for x, y in zip(at, at[1:]) if a <= y < b]
    return max(0, max(near) - med) if near else None
reqs = []
try:
    for line in open(timeline):
        s, lat, ok, err = line.split()
        reqs.append((float(s), float(lat), ok == "1", err))
except FileNotFoundError:
    pass
rows = [l.strip().split("|") for l in open(results) if l.strip()]
def p50(a, b):
    v = sorted(l for s, l, ok, _ in reqs if a <= s < b and ok)
    return round(v[len(v) // 2], 2) if v else None
out = []
ok_all = True
for i, (name, action, t1, t2, kind, before, after, kv, rebuilt, copied) in enumerate(rows):
    t1, t2 = int(t1), int(t2)
    nxt = int(rows[i + 1][2]) if i + 1 < len(rows) else t_end
    failed = sum(1 for s, _, ok, _ in reqs if t1 - 5000 <= s < nxt and not ok) if i == 0 else \
             sum(1 for s, _, ok, _ in reqs if t1 <= s < nxt and not ok)
    adapted = t2 > 0
    # The service each fault calls for: a slowed node is relieved by moving its stage (migrate) or
    # by new cuts that leave it fewer layers (resplit: which one wins depends on the measured
    # speeds, both are right); a capped entry uplink needs new cuts. Anything else fails the run.
    expected = {"slow": ("migrate", "resplit"), "link": ("resplit",)}.get(name)
    if adapted and expected and kind not in expected:
        print("%s: expected a %s, the orchestrator decided %r" % (name, " or ".join(expected), kind), file=sys.stderr)
        ok_all = False
    ok_all = ok_all and adapted and failed == 0
    out.append({"name": name, "action": action, "adaptation_s": round((t2 - t1) / 1000.0, 3) if adapted else None,
                "failed_requests": failed, "p50_before_ms": p50(t1 - 5000, t1),
                "p50_after_ms": p50(t2 + 1000, nxt) if adapted else None,
                "decision": kind or None, "stages_before": before, "stages_after": after or None})
    # The live sessions this fault hit: streaming at the fault (absolute wall ms t0 + t1).
    a, b = t0 + t1, t0 + nxt
    hit = [st for st in streams if st["start_unix_ms"] <= a < st["end_unix_ms"]]
    stalls = [x for x in (stall(st, a, b) for st in hit) if x is not None]
    out[-1].update({"streams": len(hit), "streams_broken": sum(1 for st in hit if broken(st)),
                    "tokens_mismatched": sum(mismatched(st) for st in hit),
                    "stall_ms_max": max(stalls) if stalls else None,
                    "stall_ms_median": sorted(stalls)[len(stalls) // 2] if stalls else None,
                    "kv_bytes_moved": int(kv), "rebuilt_sessions": int(rebuilt), "copied_sessions": int(copied)})
summary = {"scenarios": out, "total_requests": len(reqs), "failed_requests": sum(1 for r in reqs if not r[2]),
           "generation": generation, "streams_total": len(streams),
           "streams_broken": sum(1 for st in streams if broken(st)),
           "tokens_mismatched": sum(mismatched(st) for st in streams)}
for st in streams:
    if broken(st):
        print("stream of worker %d (%d tokens) broke: %s" % (st["worker"], len(st["tokens"]), st["error"] or "indices"),
              file=sys.stderr)
ok_all = ok_all and summary["failed_requests"] == 0 and generation.get("equal_to_whole_model") is True
ok_all = ok_all and len(streams) > 0 and summary["streams_broken"] == 0 and summary["tokens_mismatched"] == 0
if as_json:
    print(json.dumps(summary))
else:
    print("\n== summary")
    print("%-8s %-36s %-9s %12s %8s %14s %13s %8s %7s %7s %8s %10s" % (
        "scenario", "action", "decision", "adaptation_s", "failed", "p50_before_ms", "p50_after_ms", "streams",
        "broken", "copied", "rebuilt", "stall_ms"))
    for r in out:
        print("%-8s %-36s %-9s %12s %8d %14s %13s %8d %7d %7d %8d %10s" % (
            r["name"], r["action"], r["decision"], r["adaptation_s"], r["failed_requests"], r["p50_before_ms"],
            r["p50_after_ms"], r["streams"], r["streams_broken"], r["copied_sessions"], r["rebuilt_sessions"],
            r["stall_ms_max"]))
    print("total requests %d, failed %d" % (summary["total_requests"], summary["failed_requests"]))
    print("live streams %d, broken %d, tokens differing from the whole model %d" % (
        summary["streams_total"], summary["streams_broken"], summary["tokens_mismatched"]))
    g = generation
    if g.get("failed"):
        print("generation: FAILED")
    else:
        print("generation: %d tokens (%s), ttft %.1f ms, %.1f ms/token, %.1f tokens/s, same as the whole model: %s"
              % (g["tokens"], g["finish_reason"], g["ttft_ms"], g["ms_per_token"], g["tokens_per_s"],
                 g["equal_to_whole_model"]))
sys.exit(0 if ok_all else 1)
PYEOF
