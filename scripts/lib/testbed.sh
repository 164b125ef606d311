# The multi-process testbed of scripts/demo.sh and scripts/trace.sh (source it after setting
# NETNS=0|1 and PIDS=(); NAMESPACES=()): where each process runs, how it is spawned, and the
# kernel-shaped links of the network-namespace mode.
#
# Loopback (NETNS=0): every process on 127.0.0.1. Namespaces (NETNS=1, root): each node in its
# own network namespace with one veth into a bridge in a hub namespace; a node's uplink is
# shaped on its own end of the veth, its downlink on the hub's end (traffic towards the node
# leaves the hub there), both with `tc tbf` — real kernel queues that only measurement can see.

declare -A NS HOST VETH

now_ms() { date +%s%3N; }
jq_py() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
wait_for() {  # wait_for SECONDS CMD...: polls every 100 ms
  local until=$(( $(now_ms) + $1 * 1000 )); shift
  while ! "$@" >/dev/null 2>&1; do
    [ "$(now_ms)" -lt "$until" ] || return 1
    sleep 0.1
  done
}

# testbed_nodes NAME...: places every named process (loopback, or a namespace each on one bridge).
testbed_nodes() {
  local n k=10
  for n in "$@"; do HOST[$n]=127.0.0.1; done
  [ "$NETNS" = 1 ] || return 0
  [ "$(id -u)" = 0 ] || { echo "--netns needs root (network namespaces, tc)" >&2; exit 2; }
  TB_ID=$(( $$ % 200 + 20 ))
  local hub=es${TB_ID}hub
  ip netns add "$hub"; NAMESPACES+=("$hub")
  TB_HUB=$hub
  ip netns exec "$hub" ip link add br0 type bridge
  ip netns exec "$hub" ip link set br0 up
  for n in "$@"; do
    NS[$n]=es${TB_ID}$n; HOST[$n]=10.77.$TB_ID.$k; VETH[$n]=es${TB_ID}v$k
    ip netns add "${NS[$n]}"; NAMESPACES+=("${NS[$n]}")
    ip link add "${VETH[$n]}" type veth peer name eth0 netns "${NS[$n]}"
    ip link set "${VETH[$n]}" netns "$hub"
    ip netns exec "$hub" ip link set "${VETH[$n]}" master br0
    ip netns exec "$hub" ip link set "${VETH[$n]}" up
    ip netns exec "${NS[$n]}" ip addr add "${HOST[$n]}/24" dev eth0
    ip netns exec "${NS[$n]}" ip link set eth0 up
    ip netns exec "${NS[$n]}" ip link set lo up
    k=$((k + 1))
  done
}
testbed_cleanup() {  # kills every spawned process, removes the namespaces
  local p ns
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}

# in_ns NAME CMD...: runs CMD where NAME runs.
in_ns() { local n=$1; shift; if [ "$NETNS" = 1 ]; then ip netns exec "${NS[$n]}" "$@"; else "$@"; fi; }
# spawn NAME OUT ERR CMD...: CMD in the background where NAME runs, stdout/stderr appended to
# OUT/ERR. SPAWNED is CMD's own PID (ip netns exec execs it), so signals reach the program;
# it is killed at exit.
spawn() {
  local n=$1 out=$2 err=$3; shift 3
  if [ "$NETNS" = 1 ]; then set -- ip netns exec "${NS[$n]}" "$@"; fi
  "$@" >>"$out" 2>>"$err" &
  SPAWNED=$!
  PIDS+=("$SPAWNED")
}

# tbf on DEV (in namespace NS_CMD...): burst 10 ms at the rate (at least 16 KiB), 100 ms of queue.
_shape() {
  local rate=$1; shift
  if [ "$rate" = off ]; then "$@" tc qdisc del dev "$TB_DEV" root 2>/dev/null || true; return; fi
  local bps
  case "$rate" in *kbit) bps=$(( ${rate%kbit} * 1000 )) ;; *mbit) bps=$(( ${rate%mbit} * 1000000 )) ;; *) return 1 ;; esac
  local burst=$(( bps / 8 / 100 )); [ "$burst" -ge 16384 ] || burst=16384
  "$@" tc qdisc replace dev "$TB_DEV" root tbf rate "$rate" burst "$burst" latency 100ms
}
# uplink NODE RATE|off (3mbit, 500kbit): NODE's outgoing traffic; downlink NODE RATE|off: incoming.
uplink() { TB_DEV=eth0 _shape "$2" in_ns "$1"; }
downlink() {
  [ "$NETNS" = 1 ] || { echo "downlink shaping needs --netns" >&2; return 1; }
  TB_DEV=${VETH[$1]} _shape "$2" ip netns exec "$TB_HUB"
}
