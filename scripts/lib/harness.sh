# Shell helpers shared by scripts/demo.sh and the multi-process shell tests (source it).
PY=/usr/bin/python3

# free_ports N: N free loopback TCP ports, space-separated.
free_ports() { $PY -c "
import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(('127.0.0.1',0))
print(' '.join(str(s.getsockname()[1]) for s in ss))" "$1"; }

# wait_http URL SECONDS: polls every 100 ms until URL answers 2xx.
wait_http() { local i; for ((i = 0; i < $2 * 10; i++)); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }

# harness_init NAME (tests): TMP is a fresh directory, processes added to PIDS are killed and TMP
# removed at exit; fail MESSAGE prints one FAIL line and the tail of every $TMP/*.log, exits 1.
harness_init() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/edgesplit-$1.XXXXXX")
  PIDS=()
  trap harness_cleanup EXIT
}
harness_cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
fail() {
  echo "FAIL: $*" >&2
  for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
  exit 1
}
