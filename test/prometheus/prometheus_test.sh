#!/usr/bin/env bash
# Observability as an operator gets it, with the real tools:
#  1. an orchestrator and two agents on loopback serve a small synthetic GPT; a few requests go
#     through the gateway so every histogram and counter has samples;
#  2. `promtool check metrics` finds no problem (naming conventions, types, units) on the
#     orchestrator's and each agent's /metrics;
#  3. `promtool check rules` / `check config` accept config/prometheus/ (the shipped rules and the
#     example scrape config, its targets pointed at this test's daemons);
#  4. a real `prometheus` scrapes all three targets (up == 1) and evaluates the recording rules:
#     the per-deployment p50 latency series and the agents' busy ratio exist;
#  5. the Grafana dashboard (config/grafana/edgesplit.json) is importable (datasource variable
#     used everywhere) and every panel's and annotation's query, Grafana's variables substituted,
#     is valid in that Prometheus and returns data, with inference and generation traffic
#     flowing and a second deployment placed while Prometheus watches (a reconfiguration).
# Usage: prometheus_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail
BIN=$1 SRC=$2
source "$SRC/scripts/lib/harness.sh"
for tool in prometheus promtool curl; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed (scripts/setup.sh installs it)" >&2; exit 1; }
done
harness_init prom
CTL=$BIN/edgesplitctl

read -r CP HP D1 H1 D2 H2 PP <<<"$(free_ports 7)"
export EDGESPLIT_ADDR=127.0.0.1:$HP

# 1. a live site
mkdir -p "$TMP/models" "$TMP/state"
"$CTL" model synth --family gpt --layers 2 --d-model 32 --heads 2 --vocab 50 --seq 8 --seed 3 \
  --out "$TMP/models/tiny" >/dev/null || fail "model synth"
$PY -c "
import struct
hdr = \"{'descr': '<i8', 'fortran_order': False, 'shape': (1, 8), }\"
hdr += ' ' * (63 - len(hdr) - 10) + '\n'
with open('$TMP/in.npy', 'wb') as f:
    f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(hdr)) + hdr.encode())
    f.write(struct.pack('<8q', *range(1, 9)))"
# The site runs with mutual TLS, as operators run it.
"$CTL" pki init --dir "$TMP/pki" >/dev/null || fail "pki init"
for n in orchestrator:orchestrator n1:agent n2:agent; do
  "$CTL" pki issue --dir "$TMP/pki" --name "${n%%:*}" --role "${n##*:}" >/dev/null || fail "pki issue $n"
done
tls() { echo --tls-ca "$TMP/pki/ca.crt" --tls-cert "$TMP/pki/$1.crt" --tls-key "$TMP/pki/$1.key"; }
"$BIN/edgesplit-orchestrator" --control-listen "127.0.0.1:$CP" --http-listen "127.0.0.1:$HP" \
  --models-dir "$TMP/models" --state-dir "$TMP/state" --heartbeat-period-ms 250 --set trusted_nodes=n1,n2 \
  --set planner.probe_interval_ms=500 --set planner.probe_bytes=65536 $(tls orchestrator) >"$TMP/orchestrator.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$HP/readyz" 20 || fail "orchestrator not ready"
for n in 1 2; do
  d=D$n h=H$n
  "$BIN/edgesplit-agent" --node "n$n" --orchestrator "127.0.0.1:$CP" --data-listen "127.0.0.1:${!d}" \
    --http-listen "127.0.0.1:${!h}" --models-dir "$TMP/models" --heartbeat-period-ms 250 $(tls "n$n") \
    >"$TMP/agent$n.log" 2>&1 &
  PIDS+=("$!")
done
alive() { local out; out=$("$CTL" nodes --json 2>/dev/null) && [ "$(grep -o '"state":"alive"' <<<"$out" | wc -l)" = 2 ]; }
for ((i = 0; i < 100; i++)); do alive && break; sleep 0.1; done
alive || fail "agents did not register"
"$CTL" deploy --name tiny --model tiny --entry n1 --max-stages 2 --slo-ms 500 --wait-s 30 >/dev/null || fail "deploy"
for i in 1 2 3 4 5 6 7 8; do "$CTL" infer --deployment tiny --input "$TMP/in.npy" --out "$TMP/out.npy" >/dev/null || fail "infer"; done

# 2. promtool lints each /metrics page
for target in "$HP" "$H1" "$H2"; do
  page=$(curl -sf "http://127.0.0.1:$target/metrics") || fail "/metrics on $target"
  grep -q '^edgesplit_' <<<"$page" || fail "no edgesplit_ metrics on $target"
  problems=$(promtool check metrics <<<"$page" 2>&1) || fail "promtool check metrics on $target: $problems"
  [ -z "$problems" ] || fail "promtool check metrics on $target: $problems"
done
page=$(curl -sf "http://127.0.0.1:$HP/metrics")
grep -q '^edgesplit_orchestrator_request_duration_seconds_bucket{deployment="tiny"' <<<"$page" ||
  fail "no gateway latency histogram for the deployment"

# 3. the shipped rules and scrape config, targets pointed here
cp "$SRC/config/prometheus/edgesplit.rules.yml" "$TMP/"
sed -e "s#\"127.0.0.1:8080\"#\"127.0.0.1:$HP\"#" -e "s#\\[\"127.0.0.1:9200\"\\]#[\"127.0.0.1:$H1\", \"127.0.0.1:$H2\"]#" \
  -e "s#scrape_interval: 5s#scrape_interval: 1s#" -e "s#evaluation_interval: 5s#evaluation_interval: 1s#" \
  "$SRC/config/prometheus/prometheus.example.yml" >"$TMP/prometheus.yml"
grep -q "127.0.0.1:$H2" "$TMP/prometheus.yml" || fail "could not point the example config at the test's agents"
out=$(promtool check rules "$TMP/edgesplit.rules.yml" 2>&1) || fail "promtool check rules: $out"
out=$(cd "$TMP" && promtool check config prometheus.yml 2>&1) || fail "promtool check config: $out"

# 4. a real Prometheus scrapes and evaluates
(cd "$TMP" && exec prometheus --config.file=prometheus.yml --storage.tsdb.path="$TMP/tsdb" \
  --web.listen-address="127.0.0.1:$PP" >"$TMP/prometheus.log" 2>&1) &
PIDS+=("$!")
wait_http "http://127.0.0.1:$PP/-/ready" 30 || fail "prometheus not ready"
query() { curl -sf --get "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1"; }
series() { query "$1" | $PY -c "import json,sys; print(len(json.load(sys.stdin)['data']['result']))"; }
ok=0
for ((i = 0; i < 60; i++)); do
  # Keep traffic flowing so rate() windows have two samples with requests between them.
  "$CTL" infer --deployment tiny --input "$TMP/in.npy" --out "$TMP/out.npy" >/dev/null 2>&1 || true
  if [ "$(series 'up == 1')" = 3 ] && [ "$(series 'edgesplit:request_duration_seconds:p50_1m{deployment="tiny"} > 0')" = 1 ] &&
     [ "$(series 'edgesplit:agent_compute:busy_ratio_1m > 0')" -ge 1 ]; then ok=1; break; fi
  sleep 0.5
done
[ "$ok" = 1 ] || fail "prometheus: up=$(query 'up') p50=$(query 'edgesplit:request_duration_seconds:p50_1m')"

# 5. the Grafana dashboard: every query valid and returning data
DASH=$SRC/config/grafana/edgesplit.json
DQ="$PY $SRC/test/prometheus/dashboard_queries.py"
out=$($DQ lint "$DASH" 2>&1) || fail "dashboard lint: $out"
nq=$(sed -n 's/.* panels, \([0-9]*\) queries$/\1/p' <<<"$out")
# A reconfiguration Prometheus sees happen (the annotation query looks for changes).
"$CTL" deploy --name tiny2 --model tiny --entry n2 --max-stages 2 --wait-s 30 >/dev/null || fail "deploy tiny2"
ok=0
for ((i = 0; i < 90; i++)); do
  for d in tiny tiny2; do "$CTL" infer --deployment "$d" --input "$TMP/in.npy" --out "$TMP/out.npy" >/dev/null 2>&1 || true; done
  "$CTL" generate --deployment tiny --prompt-tokens 1,2,3 --max-new-tokens 6 >/dev/null 2>&1 || true
  if $DQ check "$DASH" "http://127.0.0.1:$PP" >"$TMP/dashboard.txt" 2>&1; then ok=1; break; fi
  sleep 0.5
done
[ "$ok" = 1 ] || fail "dashboard queries without data or invalid: $(grep -v '^ok' "$TMP/dashboard.txt")"
echo "ok: promtool clean on 3 /metrics pages, rules and config valid, Prometheus scraped 3 targets and evaluated the rules; all $nq dashboard queries valid and returning data (after $((i + 1)) rounds of traffic)"
