#!/usr/bin/env bash
# The adaptation trace benchmark (issue 12, docs/trace.md): replays a trace (a testbed cluster,
# a load and timed faults) against the same cluster once per policy and reports, per policy,
# SLO compliance, latency percentiles, failed requests, reconfigurations and bytes moved:
#   adaptive  edgesplit as configured (policy.mode adaptive)
#   static    the initial optimal plan, never changed (policy.mode static: a classic static split)
#   periodic  re-planned every periodic_s regardless of triggers (policy.mode periodic)
# Usage: scripts/trace.sh --trace FILE [--policies adaptive,static,periodic] [--json] [--models-dir DIR]
# Root: every node runs in its own network namespace (scripts/lib/testbed.sh) with its links
# shaped by `tc tbf` in the kernel, so link faults are real and found only by measurement; slow
# faults use the agents' compute emulation (PUT /v1/emulation), kill is SIGKILL, start restarts
# the agent. The orchestrator learns all of it from the agents' measurements (no oracle).
# --json prints {"trace", "duration_s", "slo_ms", "policies": [{"policy", "requests",
#   "slo_compliance", "p50_ms", "p95_ms", "p99_ms", "failed_requests", "reconfigurations",
#   "bytes_moved", "weight_bytes_moved", "kv_bytes_moved", "streams", "streams_refused",
#   "streams_broken", "ttft_p50_ms", "inter_token_p95_ms", "phases": [{"from_s", "event",
#   "requests", "slo_compliance"}]}]} (a phase runs from one applied event to the next). Latencies are of answered requests, measured by the
# client from the request's start; a failed request and one slower than slo_ms both miss the SLO.
# Env: BUILD_DIR (default build); KEEP_WORK=1 keeps the work directory (logs, timelines, events).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
TRACE="" POLICIES=adaptive,static,periodic JSON=0 MODELS_DIR=""
usage() { echo "usage: scripts/trace.sh --trace FILE [--policies adaptive,static,periodic] [--json] [--models-dir DIR]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --trace) TRACE=$2; shift ;;
    --policies) POLICIES=$2; shift ;;
    --json) JSON=1 ;;
    --models-dir) MODELS_DIR=$2; shift ;;
    *) usage ;;
  esac
  shift
done
[ -n "$TRACE" ] || usage
[ -f "$TRACE" ] || { echo "trace.sh: no such trace file: $TRACE" >&2; exit 2; }
IFS=, read -ra POLICY_LIST <<<"$POLICIES"
for p in "${POLICY_LIST[@]}"; do
  case "$p" in adaptive|static|periodic) ;; *) echo "trace.sh: unknown policy $p (adaptive, static, periodic)" >&2; exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || { echo "trace.sh needs root (network namespaces, tc)" >&2; exit 2; }
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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgesplit-trace.XXXXXX")
NETNS=1 PIDS=() NAMESPACES=()
source "$ROOT/scripts/lib/testbed.sh"
trap 'testbed_cleanup; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

# ---- the trace, validated and normalised by edgesplitctl (errors name the key)
"$BIN/edgesplitctl" trace check --trace "$TRACE" --json >"$WORK/trace.json"
eval "$($PY - "$WORK/trace.json" <<'PYEOF'
import json, shlex, sys
t = json.load(open(sys.argv[1]))
d = t["deployment"]
out = {"DURATION": t["duration_s"], "SLO_MS": t["slo_ms"], "RPS": t["load"]["rps"],
       "STREAMS": t["load"].get("streams", 0), "PERIOD": t["periodic_s"], "MODEL": d["model"],
       "OBJECTIVE": d["objective"], "ENTRY": d.get("entry") or "", "MAX_STAGES": d.get("max_stages") or 0,
       "TRUSTED_PREFIX": d.get("trusted_prefix_layers") or 0,
       "NODES": " ".join(n["name"] for n in t["nodes"]),
       "TRUSTED": ",".join(n["name"] for n in t["nodes"] if n.get("trusted"))}
for k, v in out.items():
    print("%s=%s" % (k, shlex.quote(str(v))))
kbit = lambda mbps: "%dkbit" % max(1, round(mbps * 1000)) if mbps else "off"
print("declare -gA SLOWDOWN UP DOWN")
for n in t["nodes"]:
    print("SLOWDOWN[%s]=%s UP[%s]=%s DOWN[%s]=%s" % (n["name"], n["slowdown"], n["name"], kbit(n.get("uplink_mbps")),
                                                     n["name"], kbit(n.get("downlink_mbps"))))
with open(sys.argv[1] + ".events", "w") as f:  # at_ms kind node arg, in time order
    for e in t["events"]:
        arg = {"slow": e.get("factor"), "link": "%s:%s" % (e.get("direction"), kbit(e.get("mbps"))),
               "link_restore": e.get("direction", "both"), "rps": e.get("value")}.get(e["kind"], "-")
        f.write("%d %s %s %s\n" % (round(e["at_s"] * 1000), e["kind"], e.get("node") or "-", arg))
PYEOF
)"
read -ra NODE_LIST <<<"$NODES"
log "== trace $TRACE: ${DURATION} s, ${#NODE_LIST[@]} nodes, $(wc -l <"$WORK/trace.json.events") events, SLO ${SLO_MS} ms, ${RPS} requests/s, $STREAMS streams"

testbed_nodes orch "${NODE_LIST[@]}"
ctl() { in_ns orch "$BIN/edgesplitctl" "$@"; }
log "== network namespaces on one bridge (10.77.$TB_ID.0/24); links shaped with tc in the kernel"

# ---- the model (gpt-demo is synthesised when missing, as in the demo) and one input
[ -n "$MODELS_DIR" ] || MODELS_DIR=$WORK/models
mkdir -p "$MODELS_DIR"
if [ ! -f "$MODELS_DIR/$MODEL/model.yaml" ]; then
  [ "$MODEL" = gpt-demo ] || { echo "trace.sh: model $MODEL is not in $MODELS_DIR (only gpt-demo is synthesised)" >&2; exit 2; }
  log "== synthesising gpt-demo and profiling it on this machine"
  ctl model synth --layers 12 --d-model 192 --heads 4 --vocab 2000 --seq 64 --seed 11 --out "$MODELS_DIR/gpt-demo" >/dev/null
  ctl model profile --model "$MODELS_DIR/gpt-demo" --json --runs 5 >"$MODELS_DIR/gpt-demo/profile.json"
fi
read -r SEQ VOCAB <<<"$($PY - "$MODELS_DIR/$MODEL/model.yaml" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
shape = re.search(r"input:\s*\{[^}]*shape:\s*\[\s*1\s*,\s*(\d+)\s*\]", text) or re.search(r"shape:\s*\[\s*1\s*,\s*(\d+)\s*\]", text)
vocab = re.search(r"vocab(?:_size)?:\s*(\d+)", text)
print(shape.group(1) if shape else 64, vocab.group(1) if vocab else 100)
PYEOF
)"
$PY - "$WORK/in.npy" "$SEQ" "$VOCAB" <<'PYEOF'
import random, struct, sys
random.seed(1); seq, vocab = int(sys.argv[2]), int(sys.argv[3])
hdr = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, %d), }" % seq
hdr += ' ' * (64 - (10 + len(hdr) + 1) % 64) + '\n'
with open(sys.argv[1], 'wb') as f:
    f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(hdr)) + hdr.encode())
    f.write(struct.pack('<%dq' % seq, *[random.randrange(vocab) for _ in range(seq)]))
PYEOF

# ---- certificates: mutual TLS everywhere, as deployed
ctl pki init --dir "$WORK/pki" >/dev/null
ctl pki issue --dir "$WORK/pki" --name orchestrator --role orchestrator >/dev/null
for n in "${NODE_LIST[@]}"; do ctl pki issue --dir "$WORK/pki" --name "$n" --role agent >/dev/null; done
ctl pki issue --dir "$WORK/pki" --name trace-client --role client >/dev/null
tls_flags() { echo --tls-ca "$WORK/pki/ca.crt" --tls-cert "$WORK/pki/$1.crt" --tls-key "$WORK/pki/$1.key"; }
export EDGESPLIT_TLS_CA=$WORK/pki/ca.crt EDGESPLIT_TLS_CERT=$WORK/pki/trace-client.crt EDGESPLIT_TLS_KEY=$WORK/pki/trace-client.key
CPORT=7100 HPORT=7180 DPORT=7200 APORT=7280  # every process has its own address
export EDGESPLIT_ADDR=${HOST[orch]}:$HPORT

declare -A AGENT_PID
start_agent() {  # NAME RUN_DIR
  spawn "$1" "$2/$1.log" "$2/$1.log" "$BIN/edgesplit-agent" --node "$1" \
    --orchestrator "${HOST[orch]}:$CPORT" --data-listen "${HOST[$1]}:$DPORT" --http-listen "${HOST[$1]}:$APORT" \
    --models-dir "$MODELS_DIR" --heartbeat-period-ms 250 --frame-deadline-ms 3000 --runtime-api true \
    --compute-slowdown "${SLOWDOWN[$1]}" $(tls_flags "$1")
  AGENT_PID[$1]=$SPAWNED
  disown "$SPAWNED"
}
emulation() { in_ns orch curl -sf -m 2 -X PUT -H 'Content-Type: application/json' --data "$2" "http://${HOST[$1]}:$APORT/v1/emulation" >/dev/null; }
agent_sum() {  # the sum of a counter over every live agent's /metrics
  local n total=0 v
  for n in "${NODE_LIST[@]}"; do
    v=$(in_ns orch curl -sf -m 2 "http://${HOST[$n]}:$APORT/metrics" 2>/dev/null | awk -v re="$1" '$0 ~ re {s += $2} END {printf "%.0f", s}')
    total=$(( total + ${v:-0} ))
  done
  echo "$total"
}
shape_node() {  # NODE up|down|both: the node's links as the trace configures them
  case "$2" in up|both) uplink "$1" "${UP[$1]}" ;; esac
  case "$2" in down|both) downlink "$1" "${DOWN[$1]}" ;; esac
}
stage_node() {  # K: the node of stage K of the plan (its last stage when it has fewer; none on the entry alone)
  ctl deployments trace --json 2>/dev/null | $PY -c "
import json, sys
st = json.load(sys.stdin).get('stages') or []
print(st[min($1, len(st) - 1)]['node'] if len(st) > 1 else '')"
}
entry_node() { ctl deployments trace --json 2>/dev/null | $PY -c "import json, sys; st = json.load(sys.stdin).get('stages') or []; print(st[0]['node'] if st else '')"; }
nodes_alive() { [ "$(ctl nodes --json | jq_py "sum(1 for n in d['nodes'] if n['state']=='alive')")" = "$1" ]; }

start_load() {  # RUN_DIR INDEX RPS SECONDS: an open-loop request stream straight at the entry
  echo "$(( $(now_ms) - T0 ))" >"$1/load.$2.offset"
  spawn orch "$1/load.$2.json" "$1/load.$2.err" "$BIN/edgesplitctl" load --deployment trace --input "$WORK/in.npy" \
    --rps "$3" --concurrency 64 --duration-s "$4" --via entry --deadline-ms 10000 --timeline "$1/load.$2.timeline" \
    --stop-file "$1/load.$2.stop" --json
  LOAD_PIDS+=("$SPAWNED")
}

run_policy() {  # POLICY -> $WORK/POLICY/{summary.json,...}
  local policy=$1 run=$WORK/$1 n
  mkdir -p "$run" "$run/state"
  log ""
  log "== [$policy] starting the orchestrator (policy.mode $policy) and ${#NODE_LIST[@]} agents"
  for n in "${NODE_LIST[@]}"; do shape_node "$n" both; done
  spawn orch "$run/orchestrator.out" "$run/orchestrator.log" "$BIN/edgesplit-orchestrator" \
    --control-listen "${HOST[orch]}:$CPORT" --http-listen "${HOST[orch]}:$HPORT" --models-dir "$MODELS_DIR" \
    --state-dir "$run/state" --heartbeat-period-ms 250 $(tls_flags orchestrator) \
    --set policy.mode="$policy" --set policy.period_s="$PERIOD" \
    --set planner.probe_interval_ms=1000 --set planner.probe_bytes=65536 --set trusted_nodes="$TRUSTED"
  local orch_pid=$SPAWNED
  disown "$orch_pid"
  wait_for 20 in_ns orch curl -sf "http://${HOST[orch]}:$HPORT/readyz" || { echo "orchestrator did not start" >&2; exit 1; }
  for n in "${NODE_LIST[@]}"; do start_agent "$n" "$run"; done
  wait_for 30 nodes_alive "${#NODE_LIST[@]}" || { echo "agents did not register" >&2; exit 1; }
  sleep 3  # a few heartbeats and link probes: the placement sees measured speeds and links
  local deploy=(--name trace --model "$MODEL" --objective "$OBJECTIVE" --wait-s 60)
  [ -z "$ENTRY" ] || deploy+=(--entry "$ENTRY")
  [ "$MAX_STAGES" = 0 ] || deploy+=(--max-stages "$MAX_STAGES")
  [ "$TRUSTED_PREFIX" = 0 ] || deploy+=(--trusted-prefix "$TRUSTED_PREFIX")
  ctl deploy "${deploy[@]}" >"$run/deploy.txt"
  log "   $(tail -1 "$run/deploy.txt")"

  T0=$(now_ms)
  LOAD_PIDS=()
  local idx=0 rps=$RPS at kind node arg dir rate t
  start_load "$run" $idx "$rps" "$DURATION"
  if [ "$STREAMS" -gt 0 ]; then
    spawn orch "$run/streams.json" "$run/streams.err" "$BIN/edgesplitctl" load --deployment trace \
      --generate-sessions "$STREAMS" --prompt-len 8 --new-tokens 64 --temperature 0.8 --top-k 40 --top-p 0.95 \
      --via entry --stop-file "$run/streams.stop" --streams-log "$run/streams.jsonl" --json
    LOAD_PIDS+=("$SPAWNED")
  fi
  : >"$run/applied.txt"
  local target
  declare -A RESOLVED=()
  while read -r at kind node arg; do
    t=$(( T0 + at - $(now_ms) ))
    [ "$t" -le 0 ] || sleep "$(printf '%d.%03d' $((t / 1000)) $((t % 1000)))"
    target=$node
    if [[ $node == stage:* ]]; then
      # A stage target: the fault hits the node of that stage of this policy's plan now; its undo
      # hits the node the fault hit (docs/trace.md).
      case "$kind" in
        slow|link|kill) node=$(stage_node "${node#stage:}"); RESOLVED[$target]=$node ;;
        *) node=${RESOLVED[$target]:-} ;;
      esac
      if [ -z "$node" ] || { [ "$kind" = kill ] && [ "$node" = "$(entry_node)" ]; }; then
        echo "$(( $(now_ms) - T0 )) $kind $target(skipped) $arg" >>"$run/applied.txt"
        log "   t=$(( ($(now_ms) - T0) / 1000 )) s: $kind $target skipped (the plan has no stage node there to hit)"
        RESOLVED[$target]=""
        continue
      fi
    fi
    case "$kind" in
      slow) emulation "$node" "{\"compute_slowdown\": $($PY -c "print(${SLOWDOWN[$node]} * $arg)")}" || true ;;
      restore) emulation "$node" "{\"compute_slowdown\": ${SLOWDOWN[$node]}}" || true ;;
      link) dir=${arg%%:*} rate=${arg#*:}; if [ "$dir" = up ]; then uplink "$node" "$rate"; else downlink "$node" "$rate"; fi ;;
      link_restore) shape_node "$node" "$arg" ;;
      kill) kill -9 "${AGENT_PID[$node]}" 2>/dev/null || true ;;
      start) start_agent "$node" "$run" ;;
      rps) touch "$run/load.$idx.stop"; idx=$((idx + 1)); rps=$arg
           start_load "$run" $idx "$rps" $(( DURATION - at / 1000 + 1 )) ;;
    esac
    echo "$(( $(now_ms) - T0 )) $kind $node $arg" >>"$run/applied.txt"
    log "   t=$(( ($(now_ms) - T0) / 1000 )) s: $kind $node $( [ "$arg" = - ] || echo "$arg")"
  done <"$WORK/trace.json.events"
  t=$(( T0 + DURATION * 1000 - $(now_ms) ))
  [ "$t" -le 0 ] || sleep "$(printf '%d.%03d' $((t / 1000)) $((t % 1000)))"
  touch "$run"/load.*.stop "$run/streams.stop" 2>/dev/null || true
  # What the policy did is read as the window closes: while the last requests and streams drain
  # the policy keeps running (periodic may re-plan once more), and that is outside the trace.
  ctl deployments trace --json >"$run/deployment.json"
  agent_sum '^edgesplit_agent_kv_moved_bytes_total' >"$run/kv_bytes"
  for p in "${LOAD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  ctl events --deployment trace >"$run/events.txt" 2>/dev/null || true
  ctl events --deployment trace --json >"$run/events.json" 2>/dev/null || true
  $PY - "$run" "$SLO_MS" "$policy" >"$run/summary.json" <<'PYEOF'
import glob, json, os, sys
run, slo, policy = sys.argv[1], float(sys.argv[2]), sys.argv[3]
reqs = []
for tl in sorted(glob.glob(os.path.join(run, "load.*.timeline"))):
    off = float(open(tl.replace(".timeline", ".offset")).read())
    for line in open(tl):
        s, lat, ok, err = line.split()
        reqs.append((float(s) + off, float(lat), ok == "1"))
lat = sorted(l for _, l, ok in reqs if ok)
pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else None
dep = json.load(open(os.path.join(run, "deployment.json")))
kv = int(open(os.path.join(run, "kv_bytes")).read().strip() or 0)
streams = []
p = os.path.join(run, "streams.jsonl")
if os.path.exists(p):
    streams = [json.loads(l) for l in open(p) if l.strip()]
ttft = sorted(s["arrival_unix_ms"][0] - s["start_unix_ms"] for s in streams if s["arrival_unix_ms"])
# A session refused before its first token (the entry's admission control under overload) is
# not a broken stream; one that errs or skips an index after streaming tokens is.
refused = [s for s in streams if not s["ok"] and not s["tokens"]]
gaps = sorted(y - x for s in streams for x, y in zip(s["arrival_unix_ms"], s["arrival_unix_ms"][1:]))
q = lambda v, p: round(v[min(len(v) - 1, int(p * len(v)))], 2) if v else None
# Per phase (from one applied event to the next): where a policy met or missed the SLO.
marks = [(0.0, "start")]
for line in open(os.path.join(run, "applied.txt")):
    at, kind, node, arg = line.split()
    marks.append((float(at), kind + ("" if node == "-" else " " + node) + ("" if arg in ("-", "both") else " " + arg)))
phases = []
for i, (a, what) in enumerate(marks):
    b = marks[i + 1][0] if i + 1 < len(marks) else float("inf")
    ph = [r for r in reqs if a <= r[0] < b]
    phases.append({"from_s": round(a / 1000, 1), "event": what, "requests": len(ph),
                   "slo_compliance": round(sum(1 for _, l, ok in ph if ok and l <= slo) / len(ph), 3) if ph else None})
print(json.dumps({"policy": policy, "requests": len(reqs),
                  "slo_compliance": round(sum(1 for _, l, ok in reqs if ok and l <= slo) / len(reqs), 4) if reqs else 0,
                  "p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
                  "failed_requests": sum(1 for r in reqs if not r[2]),
                  "reconfigurations": dep.get("reconfigurations", 0),
                  "bytes_moved": int(dep.get("weight_bytes_moved", 0)) + kv,
                  "weight_bytes_moved": int(dep.get("weight_bytes_moved", 0)), "kv_bytes_moved": kv,
                  "streams": len(streams) - len(refused), "streams_refused": len(refused),
                  "streams_broken": sum(1 for s in streams if s["tokens"] and (not s["ok"] or not s["indices_ok"])),
                  "ttft_p50_ms": q(ttft, 0.5), "inter_token_p95_ms": q(gaps, 0.95), "phases": phases}))
PYEOF
  log "   $(jq_py "'%d requests, SLO compliance %.1f %%, p50 %s / p95 %s / p99 %s ms, %d failed, %d reconfigurations, %.1f MB moved' % (d['requests'], 100 * d['slo_compliance'], d['p50_ms'], d['p95_ms'], d['p99_ms'], d['failed_requests'], d['reconfigurations'], d['bytes_moved'] / 1e6)" <"$run/summary.json")"
  # Tear the run down (the namespaces stay for the next policy).
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
  for n in "${NODE_LIST[@]}"; do uplink "$n" off; downlink "$n" off; done
}

for p in "${POLICY_LIST[@]}"; do run_policy "$p"; done

$PY - "$TRACE" "$DURATION" "$SLO_MS" "$JSON" "${POLICY_LIST[@]/#/$WORK/}" <<'PYEOF'
import json, sys
trace, duration, slo, as_json = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
rows = [json.load(open(d + "/summary.json")) for d in sys.argv[5:]]
if as_json:
    print(json.dumps({"trace": trace, "duration_s": duration, "slo_ms": slo, "policies": rows}))
else:
    print("\n== summary (%s, SLO %g ms)" % (trace, slo))
    print("%-9s %8s %8s %9s %9s %9s %7s %9s %10s %8s %8s %10s" % ("policy", "requests", "slo_%", "p50_ms", "p95_ms",
          "p99_ms", "failed", "reconfigs", "moved_MB", "streams", "broken", "itl_p95_ms"))
    for r in rows:
        print("%-9s %8d %8.1f %9s %9s %9s %7d %9d %10.1f %8d %8d %10s" % (r["policy"], r["requests"],
              100 * r["slo_compliance"], r["p50_ms"], r["p95_ms"], r["p99_ms"], r["failed_requests"],
              r["reconfigurations"], r["bytes_moved"] / 1e6, r["streams"], r["streams_broken"], r["inter_token_p95_ms"]))
    print("\nSLO compliance per phase (%), from each applied event to the next:")
    print("%-30s" % "phase (start s)" + "".join("%10s" % r["policy"] for r in rows))
    for i, ph in enumerate(rows[0]["phases"]):
        cells = [r["phases"][i]["slo_compliance"] if i < len(r["phases"]) else None for r in rows]
        print("%-30s" % ("%s (%g)" % (ph["event"], ph["from_s"]))[:30] +
              "".join("%10s" % ("-" if c is None else "%.0f" % (100 * c)) for c in cells))
PYEOF
