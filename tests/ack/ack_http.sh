#!/usr/bin/env bash
# Acknowledging an alarm over the listener with a source without partitions (docs/alarms.md,
# "The API"): GET /api/alarms lists the raised alarm; POST .../ack answers 401 without a token
# and with a wrong one, 404 for an id this process does not have, 200 "acknowledged" once the
# batch the acknowledgement rode in is committed (the alarm sink then holds the acknowledged
# event, by the token's user), and 200 "already_acknowledged" after; every request has its
# audit line, and no token is in the audit or the log. `check` and `run` refuse a users file
# others can read, saying chmod 600.
set -u
. "$BPPIPE_SOURCE_DIR/tests/wait.sh"
. "$BPPIPE_SOURCE_DIR/tests/fhir_reading.sh"
fail=0
t=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    exec 7>&- 2>/dev/null
    wait 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
TOKEN=anna-5f0c2a9d41e7b3c8
printf '# who may acknowledge\nanna %s\nben ben-77e1c0aa9f3d2b64\n' "$TOKEN" >"$t/users"
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
users_file = $t/users
audit_file = $t/audit.jsonl
[sink.alarms]
plugin = sink-file
route = alarm
path = $t/alarms
layout = ndjson
INI
reading() { fhir_bp "$1" "$2" "$3" "$4" 2026-03-01T08:00:00Z; } # ID PATIENT SYS DIA

# check and run refuse a users file that others can read
chmod 644 "$t/users"
"$BPPIPE" check --offline "$t/p.ini" >"$t/check.out" 2>&1
check "check refuses a users file others can read" "[ $? != 0 ]"
check "saying chmod 600 FILE" "grep -q 'chmod 600 $t/users' '$t/check.out'"
chmod 600 "$t/users"
"$BPPIPE" check --offline "$t/p.ini" >"$t/check.out" 2>&1
check "check takes it at mode 0600" "[ $? = 0 ]"

mkfifo "$t/in"
"$BPPIPE" run "$t/p.ini" <"$t/in" 2>"$t/err" &
pid=$!
exec 7>"$t/in" # held open: the source waits for more lines
wait_until 60 test -s "$t/port"
addr=$(cat "$t/port")
reading r1 p-crisis 195 125 >&7
reading r2 p-fine 118 76 >&7
list() { curl -s -m 5 "http://$addr/api/alarms"; }
has_alarm() { list | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if any(a["state"]==sys.argv[1] for a in d["alarms"]) else 1)' "$1"; }
wait_until 60 has_alarm raised
check "GET /api/alarms lists the raised alarm" "has_alarm raised"
id=$(list | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["alarms"][0]["alarm_id"])')
check "of patient p-crisis, priority high" \
      "list | /usr/bin/python3 -c 'import json,sys; a=json.load(sys.stdin)[\"alarms\"][0]; sys.exit(0 if (a[\"patient_id\"],a[\"priority\"])==(\"p-crisis\",\"high\") else 1)'"
post() { curl -s -m 30 -o "$t/body" -w '%{http_code}' -X POST "$@"; }
check "401 without a token" "[ \"\$(post http://$addr/api/alarms/$id/ack)\" = 401 ]"
check "401 with a wrong token" \
      "[ \"\$(post -H 'Authorization: Bearer anna-5f0c2a9d41e7b3c9' http://$addr/api/alarms/$id/ack)\" = 401 ]"
check "404 for an id this process has not" \
      "[ \"\$(post -H 'Authorization: Bearer $TOKEN' http://$addr/api/alarms/0123456789abcdef/ack)\" = 404 ]"
check "still raised" "has_alarm raised"
code=$(post -H "Authorization: Bearer $TOKEN" "http://$addr/api/alarms/$id/ack")
check "200 with anna's token" "[ '$code' = 200 ]"
check "answered as acknowledged, by anna" "grep -q '\"outcome\":\"acknowledged\".*\"by\":\"anna\"' '$t/body'"
# the answer came after the commit: the event is in the sink already, no waiting
ev() { cat "$t"/alarms/* 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if l.strip() and json.loads(l)["event"]==sys.argv[1] and json.loads(l).get("by")==sys.argv[2]))' "$1" "$2"; }
check "the alarm sink holds the acknowledged event by anna when the answer comes" \
      "[ \"\$(ev acknowledged anna)\" = 1 ]"
wait_until 30 has_alarm acknowledged
check "GET /api/alarms shows it acknowledged" "has_alarm acknowledged"
code=$(post -H "Authorization: Bearer ben-77e1c0aa9f3d2b64" "http://$addr/api/alarms/$id/ack")
check "again (ben): 200 already_acknowledged" \
      "[ '$code' = 200 ] && grep -q already_acknowledged '$t/body'"
check "still one acknowledged event" "[ \"\$(ev acknowledged anna)\" = 1 ] && [ \"\$(ev acknowledged ben)\" = 0 ]"
check "GET-only paths refuse POST" "[ \"\$(post http://$addr/api/alarms)\" = 405 ]"

audit() { /usr/bin/python3 -c 'import json,sys; print(" ".join("%s/%s" % (json.loads(l)["user"], json.loads(l)["outcome"]) for l in open(sys.argv[1])))' "$t/audit.jsonl"; }
check "one audit line per request, with user and outcome" \
      "[ \"\$(audit)\" = 'None/unauthorized None/unauthorized anna/not_found anna/acknowledged ben/already_acknowledged' ]"
check "with the alarm id, the address and the time" \
      "/usr/bin/python3 -c 'import json,sys; l=[json.loads(x) for x in open(\"$t/audit.jsonl\")][3]; sys.exit(0 if l[\"alarm_id\"]==\"$id\" and l[\"remote\"].startswith(\"127.0.0.1:\") and l[\"time\"].endswith(\"Z\") else 1)'"
check "the audit file is mode 0600" "[ \"\$(stat -c %a '$t/audit.jsonl')\" = 600 ]"
check "no token in the audit nor the log" \
      "! grep -q -e '$TOKEN' -e 5f0c2a9d41e7b3c9 -e 77e1c0aa9f3d2b64 '$t/audit.jsonl' '$t/err'"

# A flood of wrong tokens cannot fill the audit's disk: 300 refused requests on one connection
# (a few seconds at most even under a sanitizer, against a budget of 20 plus 20 a second) get
# 401s up to the budget, audited, and 429s beyond it, not audited.
lines_before=$(wc -l <"$t/audit.jsonl")
args=()
for _ in $(seq 300); do args+=(-o /dev/null -H 'Authorization: Bearer wrong-token-0' -X POST "http://$addr/api/alarms/$id/ack"); done
curl -s -m 120 -w '%{http_code}\n' "${args[@]}" >"$t/flood"
n401=$(grep -c '^401$' "$t/flood"); n429=$(grep -c '^429$' "$t/flood")
audited=$(( $(wc -l <"$t/audit.jsonl") - lines_before ))
echo "flood: $n401 answered 401 (audited: $audited), $n429 answered 429"
check "a flood of wrong tokens: the first are 401, the rest 429" \
      "[ $n429 -gt 0 ] && [ $n401 -ge 20 ] && [ $((n401 + n429)) = 300 ]"
check "only the 401s are audited" "[ $audited = $n401 ]"
check "and one warning says so, without the token" \
      "grep -q 'answered 429 and not audited' '$t/err' && ! grep -q wrong-token-0 '$t/err' '$t/audit.jsonl'"

exec 7>&-
wait_gone 60 "$pid"
wait "$pid"
check "the run ends cleanly when its input does" "[ $? = 0 ]"
pid=
# run refuses it too, before it reads anything
chmod 640 "$t/users"
"$BPPIPE" run "$t/p.ini" </dev/null >"$t/run.out" 2>&1
check "run refuses a users file its group can read" "[ $? != 0 ] && grep -q 'chmod 600' '$t/run.out'"
[ $fail = 0 ] && echo "all checks passed"
exit $fail
