#!/usr/bin/env bash
# Both units as installed, run by a real systemd (not the notify harness), even where systemd is
# not this machine's PID 1: systemd (Debian's, 252) boots as PID 1 of its own PID, mount and
# network namespaces, the way systemd-nspawn runs a container, but on this machine's own root.
# /etc, /usr/local and /var are overlays whose writes vanish with the namespace, /run is a fresh
# tmpfs and the network is the namespace's own loopback, so the host is left as it was.
#  1. `cmake --install` puts programs, units and example configs at their real paths; the
#     operator's steps follow the docs: configs copied to /etc/edgesplit unchanged, certificates
#     from `edgesplitctl pki` where the units' LoadCredential= expects them, a model package in
#     models_dir;
#  2. `systemctl start edgesplit-orchestrator` returns only once the daemon sent READY=1 (Type=
#     notify) and then it serves; the agent likewise, and it registers; both show a STATUS line;
#  3. the hardened agent (DynamicUser, seccomp filter, no capabilities...) runs libtorch: a
#     deployment generates the same tokens as the whole model in one process outside systemd;
#  4. `systemctl stop` ends both with exit status 0 (result success), the orchestrator's state
#     file left in its StateDirectory;
#  5. the orchestrator with its io thread wedged (test hook, drop-in) is killed by systemd's
#     watchdog (result watchdog) and restarted by Restart=on-failure.
# Needs root (exit 77: skipped otherwise). Usage: pid1_test.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
[ "$(id -u)" = 0 ] || { echo "skipped: booting systemd in namespaces needs root"; exit 77; }
SYSTEMD=/lib/systemd/systemd
[ -x "$SYSTEMD" ] || { echo "FAIL: $SYSTEMD missing (Debian package systemd)" >&2; exit 1; }
source "$(dirname "$0")/../../scripts/lib/harness.sh"
harness_init pid1

# ---- the namespace's root: prepared before systemd starts there, then systemd as its PID 1
cat >"$TMP/boot.sh" <<'EOF'
set -euo pipefail
T=$1 BUILD=$2 SYSTEMD=$3
trap 'echo "boot.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
mount --make-rprivate /
# The cgroup file systems mounted afresh in this cgroup namespace: their root is then the
# cgroup made for this test (below), so systemd builds its tree there, not at the host's root.
cgmounts=$(findmnt -rn -o TARGET,FSTYPE,OPTIONS | awk '$2 == "cgroup" || $2 == "cgroup2"')
[ "$(findmnt -rn -o FSTYPE /sys/fs/cgroup)" = tmpfs ] && mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
while read -r target fstype options; do
  opts=$(tr , '\n' <<<"$options" | { grep -vxE 'rw|ro|relatime|noatime|nosuid|nodev|noexec' || true; } | paste -sd, -)
  mkdir -p "$target"
  mount -t "$fstype" ${opts:+-o "$opts"} "$fstype" "$target"
done <<<"$cgmounts"
for d in etc usr/local var; do
  n=${d//\//_}; mkdir -p "$T/ov/$n.up" "$T/ov/$n.work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/ov/$n.up,workdir=$T/ov/$n.work" "/$d"
done
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/systemd/system /run/lock
ip link set lo up
cmake --install "$BUILD" >"$T/install.log"
CTL=/usr/local/bin/edgesplitctl DOC=/usr/local/share/doc/edgesplit
mkdir -p /etc/edgesplit/tls /var/lib/edgesplit/models
cp "$DOC/examples/orchestrator.example.yaml" /etc/edgesplit/orchestrator.yaml
cp "$DOC/examples/agent.example.yaml" /etc/edgesplit/agent.yaml
"$CTL" pki init --dir "$T/pki" >/dev/null
"$CTL" pki issue --dir "$T/pki" --name orchestrator --role orchestrator >/dev/null
"$CTL" pki issue --dir "$T/pki" --name edge-1 --role agent >/dev/null   # agent.yaml's node
install -m 0644 "$T/pki/ca.crt" /etc/edgesplit/tls/ca.crt
install -m 0644 "$T/pki/orchestrator.crt" /etc/edgesplit/tls/orchestrator.crt
install -m 0600 "$T/pki/orchestrator.key" /etc/edgesplit/tls/orchestrator.key
install -m 0644 "$T/pki/edge-1.crt" /etc/edgesplit/tls/agent.crt
install -m 0600 "$T/pki/edge-1.key" /etc/edgesplit/tls/agent.key
umask 022
"$CTL" model synth --layers 4 --d-model 64 --heads 4 --vocab 500 --seq 32 --seed 3 \
  --out /var/lib/edgesplit/models/tiny >/dev/null
# A boot of nothing but journald and the units started below. The units keep every setting as
# installed; only their default dependencies are dropped here (ordering after sysinit.target and
# basic.target), so this boot does not run the host's early-boot services (tmpfiles would empty
# the host's /tmp, sysctl would write its kernel settings, timers would start apt).
cat >/run/systemd/system/edgesplit-test.target <<'T'
[Unit]
Description=edgesplit test boot
Wants=systemd-journald.service
T
for u in edgesplit-orchestrator edgesplit-agent; do
  mkdir -p "/run/systemd/system/$u.service.d"
  printf '[Unit]\nDefaultDependencies=no\n' >"/run/systemd/system/$u.service.d/10-test-boot.conf"
done
echo prepared >"$T/prepared"
# Defence in depth: everything but the overlays, /run, /tmp and the kernel's file systems is
# read-only in here, /proc/sys too, and /tmp is the namespace's own (this hides $T: done above).
findmnt -rn -o TARGET | sort -u | while read -r m; do
  case "$m" in /proc*|/sys*|/dev*|/run*|/etc|/usr/local|/var) continue ;; esac
  mount -o remount,bind,ro "$m"
done
mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
mount -t tmpfs -o mode=1777 tmpfs /tmp
# Shared, as at a real boot: systemd sets up each service's credentials in a child mount
# namespace and relies on the mount propagating back (peer groups new to this namespace: the
# host sees none of it). Its own log goes to the journal (the console is the host's).
mount --make-rshared /
exec env container=edgesplit-test "$SYSTEMD" --system --unit=edgesplit-test.target --log-target=journal
EOF
# A cgroup of its own in every hierarchy, entered before the namespaces are made: systemd as PID 1
# moves "everything in its root cgroup" into init.scope, which must not be the host's processes.
CG=edgesplit-pid1-test.$$ CGROUPS=()
for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
  [ -f "$h/cgroup.procs" ] || continue
  mkdir "$h/$CG" && CGROUPS+=("$h/$CG")
  if [ -f "$h/cpuset.cpus" ] && [ ! -f "$h/cpuset.cpus.effective" ]; then  # v1 cpuset: empty until set
    cat "$h/cpuset.cpus" >"$h/$CG/cpuset.cpus"; cat "$h/cpuset.mems" >"$h/$CG/cpuset.mems"
  fi
done
[ ${#CGROUPS[@]} -gt 0 ] || fail "no cgroup hierarchy under /sys/fs/cgroup"
pid1_cleanup() {  # the namespace's PID 1 killed ends all in it; then its cgroups go
  local c i
  set +e
  [ -n "${PID1:-}" ] && kill -9 "$PID1" 2>/dev/null
  [ -n "${UNSHARE:-}" ] && kill -9 "$UNSHARE" 2>/dev/null
  for c in "${CGROUPS[@]}"; do
    for ((i = 0; i < 50; i++)); do
      [ -z "$(find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && break
      sleep 0.1
    done
    find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || echo "left behind: cgroup $c" >&2
  done
  harness_cleanup
}
trap pid1_cleanup EXIT
(
  for c in "${CGROUPS[@]}"; do echo "$BASHPID" >"$c/cgroup.procs"; done
  exec unshare --cgroup --mount --pid --fork --net --mount-proc --propagation private \
    bash "$TMP/boot.sh" "$TMP" "$BUILD" "$SYSTEMD"
) >"$TMP/systemd.log" 2>&1 &
UNSHARE=$!
disown "$UNSHARE"
PID1=""
for ((i = 0; i < 600; i++)); do
  [ -f "$TMP/prepared" ] && PID1=$(pgrep -P "$UNSHARE" -x systemd || true) && [ -n "$PID1" ] && break
  kill -0 "$UNSHARE" 2>/dev/null || fail "the namespace's boot script failed: $(tail -5 "$TMP/systemd.log")"
  sleep 0.1
done
[ -n "$PID1" ] || fail "systemd did not start as the namespace's PID 1"
in_ns() { nsenter -t "$PID1" -m -p -n "$@"; }
sysctl_() { in_ns systemctl "$@"; }
state=""
for ((i = 0; i < 300; i++)); do
  state=$(sysctl_ is-system-running 2>/dev/null || true)
  [ "$state" = running ] || [ "$state" = degraded ] && break
  sleep 0.1
done
[ "$state" = running ] || fail "systemd in the namespace is '$state', not running: $(sysctl_ --failed --no-pager 2>&1)"
prop() { sysctl_ show -P "$2" "$1.service"; }
journal() { in_ns journalctl -u "$1" --no-pager -o cat 2>&1 | tail -40; }  # the daemon's and systemd's lines

# ---- 2. start: systemctl returns once READY=1 came, and then the daemon serves
in_ns timeout 60 systemctl start edgesplit-orchestrator ||
  fail "systemctl start edgesplit-orchestrator: $(journal edgesplit-orchestrator)"
in_ns curl -sf http://127.0.0.1:8080/readyz >/dev/null ||
  fail "orchestrator active (READY=1) but /readyz does not answer"
uid_of() { in_ns awk '/^Uid:/ { print $2 }' "/proc/$(prop "$1" MainPID)/status"; }
[ "$(prop edgesplit-orchestrator DynamicUser)" = yes ] && [ "$(uid_of edgesplit-orchestrator)" -gt 0 ] ||
  fail "the orchestrator does not run as a dynamic user (uid $(uid_of edgesplit-orchestrator))"
in_ns timeout 60 systemctl start edgesplit-agent || fail "systemctl start edgesplit-agent: $(journal edgesplit-agent)"
in_ns curl -sf http://127.0.0.1:9200/livez >/dev/null || fail "agent active (READY=1) but /livez does not answer"
[ "$(uid_of edgesplit-agent)" -gt 0 ] || fail "the agent runs as root"
CTL=(in_ns env EDGESPLIT_ADDR=127.0.0.1:8080 /usr/local/bin/edgesplitctl)
registered() { local out; out=$("${CTL[@]}" nodes --json 2>/dev/null) && grep -q '"name":"edge-1"' <<<"$out"; }
for ((i = 0; i < 100; i++)); do registered && break; sleep 0.1; done
registered || fail "agent did not register: $(journal edgesplit-agent)"
for u in edgesplit-orchestrator edgesplit-agent; do
  [ "$(prop $u ActiveState)/$(prop $u SubState)" = active/running ] || fail "$u is $(prop $u ActiveState)"
done
ostatus=$(prop edgesplit-orchestrator StatusText) astatus=$(prop edgesplit-agent StatusText)
for ((i = 0; i < 50; i++)); do
  grep -q 'alive=1' <<<"$ostatus" && grep -q registered <<<"$astatus" && break
  sleep 0.1; ostatus=$(prop edgesplit-orchestrator StatusText) astatus=$(prop edgesplit-agent StatusText)
done
grep -q 'nodes alive=1' <<<"$ostatus" || fail "orchestrator StatusText: '$ostatus'"
grep -q 'registered' <<<"$astatus" || fail "agent StatusText: '$astatus'"

# ---- 3. the hardened agent runs the model: same tokens as the whole model outside systemd
in_ns curl -sf -X PUT -H 'Content-Type: application/json' --data '{"trusted": true}' \
  http://127.0.0.1:8080/v1/nodes/edge-1/trust >/dev/null || fail "PUT trust edge-1"
"${CTL[@]}" deploy --name tiny --model tiny --entry edge-1 --max-stages 1 --wait-s 60 >"$TMP/deploy.log" 2>&1 ||
  fail "deploy under systemd: $(cat "$TMP/deploy.log"); $(journal edgesplit-agent)"
GEN=(--prompt-tokens 5,17,42,7 --max-new-tokens 8 --seed 7 --json)
split=$("${CTL[@]}" generate --deployment tiny "${GEN[@]}" 2>"$TMP/generate.log") ||
  fail "generate under systemd: $(cat "$TMP/generate.log"); $(journal edgesplit-agent)"
whole=$(in_ns /usr/local/bin/edgesplitctl model generate --model /var/lib/edgesplit/models/tiny "${GEN[@]}")
tokens() { $PY -c 'import json,sys; print(json.load(sys.stdin)["tokens"])'; }
[ "$(tokens <<<"$split")" = "$(tokens <<<"$whole")" ] ||
  fail "tokens under systemd $(tokens <<<"$split") != whole model $(tokens <<<"$whole")"

# ---- 4. stop: exit status 0, result success, state kept
in_ns timeout 60 systemctl stop edgesplit-agent edgesplit-orchestrator || fail "systemctl stop"
for u in edgesplit-agent edgesplit-orchestrator; do
  [ "$(prop $u Result)" = success ] && [ "$(prop $u ExecMainStatus)" = 0 ] ||
    fail "$u stopped with result $(prop $u Result), status $(prop $u ExecMainStatus): $(journal $u)"
done
in_ns test -f /var/lib/private/edgesplit-orchestrator/state.json ||
  fail "no state.json in the orchestrator's StateDirectory"

# ---- 5. the watchdog: a wedged io thread is killed (result watchdog) and restarted
exec_start=$(in_ns sed -n 's/^ExecStart=//p' /usr/local/lib/systemd/system/edgesplit-orchestrator.service)
in_ns mkdir -p /run/systemd/system/edgesplit-orchestrator.service.d
in_ns sh -c "cat >/run/systemd/system/edgesplit-orchestrator.service.d/wedge.conf" <<EOF
[Service]
WatchdogSec=2
ExecStart=
ExecStart=$exec_start --set debug.wedge_io_after_ms=2000
EOF
sysctl_ daemon-reload
in_ns timeout 60 systemctl start edgesplit-orchestrator || fail "start (wedge): $(journal edgesplit-orchestrator)"
for ((i = 0; i < 300; i++)); do
  [ "$(prop edgesplit-orchestrator NRestarts)" -ge 1 ] && break
  sleep 0.1
done
[ "$(prop edgesplit-orchestrator NRestarts)" -ge 1 ] ||
  fail "the wedged orchestrator was not restarted: $(journal edgesplit-orchestrator)"
log=$(journal edgesplit-orchestrator)
grep -q "edgesplit-orchestrator.service: Watchdog timeout" <<<"$log" || fail "systemd logged no watchdog timeout: $log"
grep -q "edgesplit-orchestrator.service: Failed with result 'watchdog'" <<<"$log" ||
  fail "systemd logged no result 'watchdog': $log"
echo "ok: systemd $(in_ns systemctl --version | sed -n '1s/systemd \([0-9]*\).*/\1/p') as PID 1: units as installed;" \
  "start returned at READY=1 and both served (status: '$ostatus' / '$astatus'); the hardened agent generated" \
  "$(tokens <<<"$split") as the whole model does; stop: status 0; wedged orchestrator: result watchdog," \
  "restarted $(prop edgesplit-orchestrator NRestarts)x"
