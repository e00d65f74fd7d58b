#!/usr/bin/env bash
# The live page's JSON endpoint (docs/live-page.md): more patients than live_patients keeps that
# many, each with at most live_history readings; recent events at most live_events, newest first;
# /api/ward asks for the bearer token (401 without, or with a wrong one) while the page's own
# files do not; the bounds are validated like every [pipeline] key.
set -u
fail=0
t=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }
code() { curl -s -m 5 -o /dev/null -w '%{http_code}' "$@"; }
ini=$BPPIPE_SOURCE_DIR/tests/live/ward.ini
export LIVE_OUT=$t LIVE_MODEL=$BPPIPE_SOURCE_DIR/models/bp_logreg.json LIVE_TOKEN=api-token-19e
export LIVE_N=40 LIVE_RATE=5 LIVE_PATIENTS=10 LIVE_HISTORY=3

"$BPPIPE" run "$ini" -o pipeline.live_events=7 --duration 60 2>"$t/err" &
pid=$!
for _ in $(seq 1 100); do [ -s "$t/port" ] && break; sleep 0.1; done
addr=$(cat "$t/port" 2>/dev/null)
check "the ward listens" "[ -n '$addr' ]"
A="Authorization: Bearer $LIVE_TOKEN"
j() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$t/w.json')); print(eval(sys.argv[1]))" "$1"; }
# wait until every patient slot was refilled at least history times over
for _ in $(seq 1 100); do
    curl -s -m 5 -H "$A" "http://$addr/api/ward" >"$t/w.json"
    [ "$(j "d['totals']['readings'] > 200" 2>/dev/null)" = True ] && break
    sleep 0.2
done
check "more patients than live_patients (40 > 10): 10 kept" "[ \"\$(j 'len(d[\"patients\"])')\" = 10 ]"
check "the bounds are reported" "[ \"\$(j 'd[\"bounds\"]')\" = \"{'patients': 10, 'history': 3, 'events': 7}\" ]"
check "no patient holds more than live_history (3)" \
      "[ \"\$(j 'max(len(p[\"readings\"]) for p in d[\"patients\"]) <= 3')\" = True ]"
check "latest is the last of the readings" \
      "[ \"\$(j 'all(p[\"latest\"] == p[\"readings\"][-1] for p in d[\"patients\"])')\" = True ]"
check "every patient has a trend" \
      "[ \"\$(j 'all(p[\"trend\"] in (\"rising\",\"falling\",\"steady\",\"unknown\") for p in d[\"patients\"])')\" = True ]"
check "events capped at live_events (7)" "[ \"\$(j 'len(d[\"events\"])')\" = 7 ]"
check "events newest first" \
      "[ \"\$(j '[e[\"reading\"][\"time\"] for e in d[\"events\"]] == sorted([e[\"reading\"][\"time\"] for e in d[\"events\"]], reverse=True)')\" = True ]"
check "the ML risk histogram counts scored readings" "[ \"\$(j 'sum(d[\"ml_risk_histogram\"][\"counts\"]) > 0')\" = True ]"
check "the memory figure is there" "[ \"\$(j 'd[\"memory_bytes\"] > 0')\" = True ]"
check "/api/ward without the token is 401" "[ \$(code http://$addr/api/ward) = 401 ]"
check "/api/ward with a wrong token is 401" \
      "[ \$(code -H 'Authorization: Bearer nope' http://$addr/api/ward) = 401 ]"
check "/api/ward with the token is 200" "[ \$(code -H '$A' http://$addr/api/ward) = 200 ]"
check "the page loads without the token (it holds no data)" "[ \$(code http://$addr/) = 200 ]"
check "its script too" "[ \$(code http://$addr/live.js) = 200 ]"
check "its stylesheet too" "[ \$(code http://$addr/live.css) = 200 ]"
check "the page names its script" "curl -s http://$addr/ | grep -q 'src=\"/live.js\"'"
kill "$pid"
wait "$pid"
ec=$?
pid=
check "the ward stops cleanly" "[ $ec = 0 ]"

# Fewer patients than slots: each comes back, and its history fills up to live_history only.
rm -f "$t/port"
LIVE_N=4 "$BPPIPE" run "$ini" --duration 60 2>"$t/err2" &
pid=$!
for _ in $(seq 1 100); do [ -s "$t/port" ] && break; sleep 0.1; done
addr=$(cat "$t/port" 2>/dev/null)
for _ in $(seq 1 100); do
    curl -s -m 5 -H "$A" "http://$addr/api/ward" >"$t/w.json"
    [ "$(j "d['totals']['readings'] > 40" 2>/dev/null)" = True ] && break
    sleep 0.2
done
check "4 patients, 4 kept" "[ \"\$(j 'len(d[\"patients\"])')\" = 4 ]"
check "history capped at live_history: 3 each after 10+ readings each" \
      "[ \"\$(j '[len(p[\"readings\"]) for p in d[\"patients\"]]')\" = '[3, 3, 3, 3]' ]"
check "the latest reading is the newest of them" \
      "[ \"\$(j 'all(p[\"readings\"][0][\"time\"] < p[\"readings\"][-1][\"time\"] for p in d[\"patients\"])')\" = True ]"
kill "$pid"
wait "$pid"
pid=

# Default bounds at the default keys: the figure docs/live-page.md gives.
unset LIVE_PATIENTS LIVE_HISTORY
for k in live_patients=0 live_history=0 live_events=0 live_patients=x; do
    "$BPPIPE" check "$ini" --offline -o "pipeline.$k" >/dev/null 2>"$t/c.err"
    ec=$?
    check "$k is refused (exit 2, naming the key)" \
          "[ $ec = 2 ] && grep -q '${k%%=*}' '$t/c.err'"
done
exit $fail
