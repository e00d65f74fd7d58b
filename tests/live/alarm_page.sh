#!/usr/bin/env bash
# The live page's Ack button in a real browser (docs/live-page.md, docs/alarms.md): a ward
# (source-file on a FIFO, so it keeps running) raises a stage 2 alarm (medium) and then a crisis
# alarm (high); headless Chromium opens the page, tests/live/alarm_page.py acknowledges the
# crisis with the button (the token typed into the prompt) and sees it acknowledged; then the
# audit file has the line (anna, the alarm, acknowledged) and the alarm sink the event.
set -u
. "$BPPIPE_SOURCE_DIR/tests/wait.sh"
. "$BPPIPE_SOURCE_DIR/tests/fhir_reading.sh"
t=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    exec 7>&- 2>/dev/null
    wait 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT
rc=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; rc=1; fi; }
TOKEN=anna-page-3b9e71c2d05f
printf 'anna %s\n' "$TOKEN" >"$t/users"
chmod 600 "$t/users"
cat >"$t/p.ini" <<INI
[pipeline]
http_listen = 127.0.0.1:0
http_port_file = $t/port
stats_interval = 0
poll_timeout_ms = 50
[source.in]
plugin = source-file
path = -
[detector.rules]
plugin = detector-rules
[alarms]
crisis.match = category=hypertensive_crisis
crisis.priority = high
stage2.match = category=hypertension_stage_2
stage2.priority = medium
users_file = $t/users
audit_file = $t/audit.jsonl
[sink.alarms]
plugin = sink-file
route = alarm
path = $t/alarms
layout = ndjson
INI
reading() { fhir_bp "$1" "$2" "$3" "$4" 2026-03-01T08:00:00Z; } # ID PATIENT SYS DIA
mkfifo "$t/in"
"$BPPIPE" run "$t/p.ini" <"$t/in" 2>"$t/err" &
pid=$!
exec 7>"$t/in"
wait_until 60 test -s "$t/port" || { echo "FAIL the ward did not listen"; cat "$t/err"; exit 1; }
addr=$(cat "$t/port")
reading s1 p-stage2 150 95 >&7
raised() { [ "$(cat "$t"/alarms/* 2>/dev/null | grep -c '"event":"raised"')" -ge "$1" ]; }
wait_until 60 raised 1
# a later raise, so the medium alarm is the older one: priority, not age, puts the crisis first
reading c1 p-crisis 196 124 >&7
wait_until 60 raised 2
echo "page: http://$addr/"
/usr/bin/python3 "$BPPIPE_SOURCE_DIR/tests/live/alarm_page.py" "http://$addr/" "$TOKEN" anna \
    "$LIVE_SHOT" || rc=1
check "the audit file has anna's acknowledgement line" \
    "grep -q '\"user\":\"anna\",\"alarm_id\":\"[0-9a-f]*\",\"remote\":\"127.0.0.1:[0-9]*\",\"outcome\":\"acknowledged\"' '$t/audit.jsonl'"
check "two lines, one per Ack" "[ \$(wc -l <'$t/audit.jsonl') = 2 ]"
check "the alarm sink holds the acknowledged event of the crisis" \
    "grep '\"event\":\"acknowledged\"' $t/alarms/* | grep -q '\"patient_id\":\"p-crisis\".*\"by\":\"anna\"'"
exec 7>&-
wait_gone 60 "$pid"
wait "$pid"
ec=$?
pid=
check "the ward exits 0 when its input ends" "[ $ec = 0 ]"
exit $rc
