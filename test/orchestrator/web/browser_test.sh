#!/usr/bin/env bash
# The live view in a real browser (Debian's chromium, headless, driven over the DevTools
# protocol by cdp.py) against a live site: an orchestrator with a token and three agents (mutual
# TLS), a synthetic GPT deployed with its entry n1 slowed down so its layers run elsewhere.
#  1. without the token "/" is refused with a Basic challenge; the browser is asked once, gets
#     the token (as a person would type it) and the page's own API calls reuse it;
#  2. the page shows the three nodes (alive, trusted) and the deployment's plan exactly as the
#     API reports it (a bar per stage, coloured by node), and the latency chart draws;
#  3. a stage node is killed: the orchestrator re-plans, and the page, left open, shows the new
#     plan, the dead node and the decision with its reason, by itself (it polls the API).
# Usage: browser_test.sh BIN_DIR SOURCE_DIR   (env EDGESPLIT_WEB_SCREENSHOT=FILE: keep a screenshot)
set -euo pipefail
BIN=$1 SRC=$2
source "$SRC/scripts/lib/harness.sh"
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || { echo "FAIL: chromium not installed (scripts/setup.sh installs it)" >&2; exit 1; }
harness_init web
CTL=$BIN/edgesplitctl
TOKEN=web-test-$RANDOM$RANDOM
read -r CP HP D1 H1 D2 H2 D3 H3 <<<"$(free_ports 8)"
export EDGESPLIT_ADDR=127.0.0.1:$HP EDGESPLIT_TOKEN=$TOKEN
api() { curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HP$1"; }
# plan_of DEPLOYMENT: the API's plan in the page's data-plan form, "n2:0-3,n3:3-6".
plan_of() { api "/v1/deployments/$1" | $PY -c "
import json,sys; d=json.load(sys.stdin)
print(','.join('%s:%d-%d' % (s['node'], s['first_layer'], s['end_layer']) for s in d['stages']) if d['status'] == 'serving' and not d['rollout'] else '')"; }

mkdir -p "$TMP/models" "$TMP/state" "$TMP/profile"
"$CTL" model synth --family gpt --layers 6 --d-model 256 --heads 4 --vocab 500 --seq 32 --seed 5 \
  --out "$TMP/models/gpt" >/dev/null || fail "model synth"
"$CTL" pki init --dir "$TMP/pki" >/dev/null || fail "pki init"
for n in orchestrator:orchestrator n1:agent n2:agent n3:agent; do
  "$CTL" pki issue --dir "$TMP/pki" --name "${n%%:*}" --role "${n##*:}" >/dev/null || fail "pki issue $n"
done
tls() { echo --tls-ca "$TMP/pki/ca.crt" --tls-cert "$TMP/pki/$1.crt" --tls-key "$TMP/pki/$1.key"; }
"$BIN/edgesplit-orchestrator" --control-listen "127.0.0.1:$CP" --http-listen "127.0.0.1:$HP" \
  --models-dir "$TMP/models" --state-dir "$TMP/state" --heartbeat-period-ms 200 --token "$TOKEN" \
  --set trusted_nodes=n1,n2,n3 --set liveness.suspect_after_ms=600 --set liveness.dead_after_ms=1200 \
  --set liveness.disconnect_grace_ms=300 $(tls orchestrator) >"$TMP/orchestrator.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$HP/readyz" 20 || fail "orchestrator not ready"
declare -A APID
start_agent() {  # name data_port http_port extra...
  local n=$1 d=$2 h=$3; shift 3
  "$BIN/edgesplit-agent" --node "$n" --orchestrator "127.0.0.1:$CP" --data-listen "127.0.0.1:$d" \
    --http-listen "127.0.0.1:$h" --models-dir "$TMP/models" --heartbeat-period-ms 200 $(tls "$n") "$@" \
    >"$TMP/agent-$n.log" 2>&1 &
  APID[$n]=$!; PIDS+=("$!")
}
start_agent n1 "$D1" "$H1" --compute-slowdown 8
start_agent n2 "$D2" "$H2"
start_agent n3 "$D3" "$H3"
alive() { local out; out=$(api /v1/nodes) && [ "$(grep -o '"state":"alive"' <<<"$out" | wc -l)" = 3 ]; }
for ((i = 0; i < 100; i++)); do alive && break; sleep 0.1; done
alive || fail "agents did not register"
"$CTL" deploy --name web --model gpt --entry n1 --max-stages 3 --wait-s 60 >/dev/null || fail "deploy"
for ((i = 0; i < 100; i++)); do PLAN=$(plan_of web); [ -n "$PLAN" ] && break; sleep 0.1; done
[ -n "$PLAN" ] || fail "deployment not serving"

# 1. authentication
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/")
[ "$code" = 401 ] || fail "/ without the token answered $code"
curl -s -D - -o /dev/null "http://127.0.0.1:$HP/" | grep -qi '^WWW-Authenticate: Basic' || fail "/ does not ask for Basic credentials"

# 2. the page in the browser
coproc CDP { exec $PY "$SRC/test/orchestrator/web/cdp.py" --chromium "$CHROMIUM" --profile "$TMP/profile" \
  --url "http://127.0.0.1:$HP/" --user operator --password "$TOKEN" 2>"$TMP/cdp.log"; }
PIDS+=("$CDP_PID")
# page CMD: one command to the browser, its answer in REPLY; fails unless it starts with "ok".
page() {
  echo "$1" >&"${CDP[1]}"
  IFS= read -r -t 120 REPLY <&"${CDP[0]}" || fail "browser driver gave no answer to: $1"
  if [[ "$REPLY" != ok* ]]; then
    local said=$REPLY
    echo "eval document.getElementById('conn').textContent" >&"${CDP[1]}"
    IFS= read -r -t 30 REPLY <&"${CDP[0]}" || true
    fail "browser: $said (for: $1); the page says: $REPLY"
  fi
}
page "wait 30 document.querySelectorAll('#nodes tr[data-node]').length === 3"
for n in n1 n2 n3; do
  page "eval (r => r && r.dataset.state + '/' + r.dataset.trusted)(document.querySelector('#nodes tr[data-node=\"$n\"]'))"
  [ "$REPLY" = 'ok "alive/true"' ] || fail "node $n on the page: $REPLY"
done
page "wait 30 (d => d && d.dataset.plan)(document.querySelector('#deployments [data-deployment=\"web\"]')) === '$PLAN'"
page "eval [...document.querySelectorAll('#deployments [data-deployment=\"web\"] svg.bar.current g[data-stage]')].map(g => g.dataset.stage + '=' + g.querySelector('rect').getAttribute('fill')).join(',')"
bars=$REPLY
nstages=$(tr ',' '\n' <<<"$PLAN" | wc -l)
[ "$(grep -o '=#' <<<"$bars" | wc -l)" = "$nstages" ] || fail "plan bar has not one rectangle per stage: $bars for $PLAN"
page auth
[ "$REPLY" = "ok 1" ] || fail "the browser was asked for credentials $REPLY times (the page's requests should reuse them)"
# Requests flow, so the chart has observed latency next to the prediction.
printf -v ids '%s,' $(seq 1 32)
$PY -c "
import struct
hdr = \"{'descr': '<i8', 'fortran_order': False, 'shape': (1, 32), }\"
hdr += ' ' * (127 - len(hdr) - 10) + '\n'
open('$TMP/in.npy', 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(hdr)) + hdr.encode() + struct.pack('<32q', *range(1, 33)))"
for i in 1 2 3 4 5; do "$CTL" infer --deployment web --input "$TMP/in.npy" --out "$TMP/out.npy" >/dev/null || fail "infer"; done
page "wait 30 !!document.querySelector('#deployments [data-deployment=\"web\"] svg.chart polyline[data-series=\"observed\"]') && !!document.querySelector('#deployments [data-deployment=\"web\"] svg.chart polyline[data-series=\"predicted\"]')"
page "eval Math.max(0, ...[...document.querySelectorAll('#timeline li[data-seq]')].map(li => +li.dataset.seq))"
before_seq=${REPLY#ok }

# 3. a stage node dies; the open page follows. The plan may have moved since it was drawn (the
# policy re-plans on measurement noise): the victim is a stage node of the plan serving now, and
# nothing may be in flight when it dies (a re-plan already under way would replace the plan
# without a decision after the kill).
for ((i = 0; i < 300; i++)); do PLAN=$(plan_of web); [ -n "$PLAN" ] && break; sleep 0.1; done
[ -n "$PLAN" ] || fail "the deployment did not settle before the kill"
page "eval Math.max(0, ...[...document.querySelectorAll('#timeline li[data-seq]')].map(li => +li.dataset.seq))"
before_seq=${REPLY#ok }
victim=""
for s in ${PLAN//,/ }; do [ "${s%%:*}" != n1 ] && { victim=${s%%:*}; break; }; done
[ -n "$victim" ] || fail "the plan $PLAN keeps every layer on the entry n1: no stage node to kill"
kill -9 "${APID[$victim]}"
for ((i = 0; i < 300; i++)); do NEW=$(plan_of web); [ -n "$NEW" ] && [ "$NEW" != "$PLAN" ] && [[ "$NEW" != *"$victim:"* ]] && break; sleep 0.1; done
[ -n "$NEW" ] && [ "$NEW" != "$PLAN" ] && [[ "$NEW" != *"$victim:"* ]] || fail "no new plan without $victim (now: '$NEW', was $PLAN)"
page "wait 30 (d => d && d.dataset.plan)(document.querySelector('#deployments [data-deployment=\"web\"]')) === '$NEW'"
page "wait 30 (r => r && r.dataset.state !== 'alive')(document.querySelector('#nodes tr[data-node=\"$victim\"]'))"
# The decision that replaced the plan, newer than anything shown before the kill, with its reason.
page "wait 30 (li => li && li.dataset.kind + ': ' + li.querySelector('.why').textContent)([...document.querySelectorAll('#timeline li.decision[data-deployment=\"web\"]')].find(li => +li.dataset.seq > $before_seq && li.querySelector('.why').textContent.trim().length > 0))"
decision=${REPLY#ok }
if [ -n "${EDGESPLIT_WEB_SCREENSHOT:-}" ]; then page "screenshot $EDGESPLIT_WEB_SCREENSHOT"; fi
echo quit >&"${CDP[1]}"
wait "$CDP_PID" 2>/dev/null || true  # the browser closed before the profile directory goes
echo "ok: live view behind the token (asked once), 3 nodes, plan $PLAN drawn; after killing $victim the open page showed $NEW, $victim not alive, and the decision $decision"
