#!/usr/bin/env bash
# The systemd units and example configurations as an operator installs them:
#  1. `cmake --install` into a staging root puts the programs, both units, the example configs
#     and the docs where the units say they are;
#  2. `systemd-analyze verify` accepts each installed unit (ExecStart pointed into the root), and
#     `systemd-analyze security --offline=yes` rates its exposure at most 2.5 (orchestrator) and
#     4.0 (agent: libtorch needs writable+executable memory, the profile reads /proc); both are
#     Type=notify with a WatchdogSec (their behaviour: notify_test.sh);
#  3. each unit's own ExecStart command line, run with the installed example configuration
#     (only ports, directories and the node name changed), starts: the orchestrator gets ready,
#     the agent registers with it; SIGTERM (the units' KillSignal) makes both exit 0 within the
#     units' TimeoutStopSec, and the orchestrator leaves its state file behind.
# Usage: units_test.sh BUILD_DIR BINDIR UNITDIR DOCDIR (the configured install locations).
set -euo pipefail
BUILD=$1 BINDIR=$2 UNITDIR=$3 DOCDIR=$4
source "$(dirname "$0")/../../scripts/lib/harness.sh"
harness_init units
ROOT=$TMP/root

# 1. install
DESTDIR=$ROOT cmake --install "$BUILD" >/dev/null || fail "cmake --install"
for f in "$BINDIR/edgesplit-agent" "$BINDIR/edgesplit-orchestrator" "$BINDIR/edgesplitctl" "$BINDIR/edgesplitctl-model"; do
  [ -x "$ROOT$f" ] || fail "not installed: $f"
done
# `edgesplitctl model` runs the model tools installed next to it.
out=$("$ROOT$BINDIR/edgesplitctl" model --help 2>&1) || fail "installed edgesplitctl model --help: $out"
grep -q "synth" <<<"$out" || fail "installed edgesplitctl model --help printed: $out"
for f in "$UNITDIR/edgesplit-agent.service" "$UNITDIR/edgesplit-orchestrator.service" \
         "$DOCDIR/examples/agent.example.yaml" "$DOCDIR/examples/orchestrator.example.yaml" \
         "$DOCDIR/agent.md" "$DOCDIR/orchestrator.md"; do
  [ -f "$ROOT$f" ] || fail "not installed: $f"
done

# 2. verify: the units name the installed binary and docs
for u in edgesplit-agent edgesplit-orchestrator; do
  unit=$ROOT$UNITDIR/$u.service
  grep -q "^ExecStart=$BINDIR/$u " "$unit" || fail "$u.service does not start $BINDIR/$u"
  grep -q "^Documentation=file://$DOCDIR/" "$unit" || fail "$u.service does not link $DOCDIR"
  sed "s#^ExecStart=$BINDIR/#ExecStart=$ROOT$BINDIR/#" "$unit" >"$TMP/$u.service"
  out=$(systemd-analyze verify "$TMP/$u.service" 2>&1) || fail "systemd-analyze verify $u.service: $out"
  [ -z "$out" ] || fail "systemd-analyze verify $u.service warns: $out"
  grep -q '^Type=notify$' "$unit" || fail "$u.service is not Type=notify"
  grep -q '^WatchdogSec=[1-9]' "$unit" || fail "$u.service has no WatchdogSec"
done
declare -A MAX_EXPOSURE=([edgesplit-orchestrator]=2.5 [edgesplit-agent]=4.0)
scores=""
for u in edgesplit-orchestrator edgesplit-agent; do
  out=$(systemd-analyze security --offline=yes --no-pager "$TMP/$u.service" 2>&1) ||
    fail "systemd-analyze security $u.service: $out"
  score=$(sed -n "s/.*Overall exposure level for $u.service: \([0-9.]*\) .*/\1/p" <<<"$out")
  [ -n "$score" ] || fail "no exposure score for $u.service: $out"
  awk -v s="$score" -v m="${MAX_EXPOSURE[$u]}" 'BEGIN { exit !(s <= m) }' ||
    fail "$u.service exposure $score > ${MAX_EXPOSURE[$u]}: $(grep '✗' <<<"$out")"
  scores+=" $u=$score"
done
echo "exposure (systemd-analyze security --offline=yes):$scores"

# 3. run each unit's ExecStart with the example config
read -r CP HP DP AP <<<"$(free_ports 4)"
mkdir -p "$TMP/models" "$TMP/state"
set_key() { sed -i "s#^$2:.*#$2: $3#" "$1"; grep -q "^$2: $3\$" "$1" || fail "no key $2 in $1"; }
OCONF=$TMP/orchestrator.yaml ACONF=$TMP/agent.yaml
cp "$ROOT$DOCDIR/examples/orchestrator.example.yaml" "$OCONF"
set_key "$OCONF" control_listen "127.0.0.1:$CP"
set_key "$OCONF" http_listen "127.0.0.1:$HP"
set_key "$OCONF" models_dir "$TMP/models"
set_key "$OCONF" state_dir "$TMP/state"
cp "$ROOT$DOCDIR/examples/agent.example.yaml" "$ACONF"
set_key "$ACONF" node units-test-node
set_key "$ACONF" orchestrator "127.0.0.1:$CP"
set_key "$ACONF" data_listen "127.0.0.1:$DP"
set_key "$ACONF" http_listen "127.0.0.1:$AP"
set_key "$ACONF" models_dir "$TMP/models"

# The units' TLS credentials (LoadCredential= ca.crt, tls.crt, tls.key), made with the installed
# edgesplitctl; outside systemd $CREDENTIALS_DIRECTORY is a directory holding them.
CTL=$ROOT$BINDIR/edgesplitctl
"$CTL" pki init --dir "$TMP/pki" >/dev/null || fail "pki init"
for pair in orchestrator:orchestrator units-test-node:agent; do
  name=${pair%%:*} role=${pair##*:}
  "$CTL" pki issue --dir "$TMP/pki" --name "$name" --role "$role" --out "$TMP/cred-$role" >/dev/null || fail "pki issue $name"
  mv "$TMP/cred-$role/$name.crt" "$TMP/cred-$role/tls.crt"
  mv "$TMP/cred-$role/$name.key" "$TMP/cred-$role/tls.key"
done
exec_start() {  # the unit's ExecStart, binary in the staging root, config and credentials replaced
  sed -n "s#^ExecStart=##p" "$ROOT$UNITDIR/$1.service" |
    sed "s#^$BINDIR/#$ROOT$BINDIR/#; s#/etc/edgesplit/[a-z]*\.yaml#$2#; s#\${CREDENTIALS_DIRECTORY}#$3#g"
}
stop_unit() {  # stop_unit PID UNIT: SIGTERM, exit 0 within the unit's TimeoutStopSec
  local pid=$1 limit rc=0 i
  limit=$(sed -n 's/^TimeoutStopSec=//p' "$ROOT$UNITDIR/$2.service")
  grep -q "^KillSignal=SIGTERM" "$ROOT$UNITDIR/$2.service" || fail "$2.service: KillSignal is not SIGTERM"
  kill -TERM "$pid"
  for ((i = 0; i < limit * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "$2 still running ${limit}s after SIGTERM"
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "$2 exited $rc after SIGTERM"
}

grep -q '^LoadCredential=tls.key:' "$ROOT$UNITDIR/edgesplit-orchestrator.service" || fail "orchestrator unit lacks its TLS key credential"
read -ra OCMD <<<"$(exec_start edgesplit-orchestrator "$OCONF" "$TMP/cred-orchestrator")"
"${OCMD[@]}" >"$TMP/orchestrator.log" 2>&1 &
OPID=$!; PIDS+=("$OPID")
wait_http "http://127.0.0.1:$HP/readyz" 20 || fail "orchestrator not ready"

read -ra ACMD <<<"$(exec_start edgesplit-agent "$ACONF" "$TMP/cred-agent")"
"${ACMD[@]}" >"$TMP/agent.log" 2>&1 &
APID=$!; PIDS+=("$APID")
wait_http "http://127.0.0.1:$AP/livez" 20 || fail "agent not live"
# (Output captured before grep: `grep -q` exiting early would SIGPIPE the producer under pipefail.)
registered() { local out; out=$("$CTL" nodes --json --addr "127.0.0.1:$HP" 2>/dev/null) && grep -q '"name":"units-test-node"' <<<"$out"; }
for ((i = 0; i < 100; i++)); do registered && break; sleep 0.1; done
registered || fail "agent did not register with the orchestrator"
metrics=$(curl -sf "http://127.0.0.1:$AP/metrics") || fail "agent /metrics unreachable"
grep -q '^edgesplit_agent_segments_loaded' <<<"$metrics" || fail "agent /metrics lacks edgesplit_agent_segments_loaded"
metrics=$(curl -sf "http://127.0.0.1:$HP/metrics") || fail "orchestrator /metrics unreachable"
grep -q '^edgesplit_orchestrator_' <<<"$metrics" || fail "orchestrator /metrics lacks edgesplit_orchestrator_*"

stop_unit "$APID" edgesplit-agent
stop_unit "$OPID" edgesplit-orchestrator
[ -f "$TMP/state/state.json" ] || fail "orchestrator left no state.json in its state_dir"
echo "ok: installed, verified (exposure$scores) and ran both units"
