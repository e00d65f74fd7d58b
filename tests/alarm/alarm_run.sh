#!/usr/bin/env bash
# The alarm stage through bppipe itself (docs/alarms.md), source-file reading a FIFO the test
# holds open, so the run goes on with no reading:
#   1. escalated on time with no new reading, twice; an acknowledgement read from the input
#      stops the escalation of its alarm (another alarm, raised after it, escalates twice
#      meanwhile), and a repeated acknowledgement changes nothing; a sink with
#      alarm_min_tier = 1 gets the escalations and what follows them, not the raises;
#   2. kill -9 after an acknowledgement (the alarm state in the snapshot file, state_file): the
#      restarted process neither raises again nor escalates the acknowledged alarm, and
#      escalates the unacknowledged one at its next tier, on time, once.
set -u
. "$(dirname "$0")/../wait.sh"
. "$(dirname "$0")/../fhir_reading.sh"
fail=0
t=$(mktemp -d)
pid=
trap 'exec 3>&- 2>/dev/null; [ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }

reading() { fhir_bp "$1" "$2" "$3" "$4" 2026-03-01T09:00:00Z; } # ID PATIENT SYS DIA
ack() { # ALARM_ID BY
    printf '{"bppipe":"alarm-ack","alarm_id":"%s","by":"%s","from":"127.0.0.1"}\n' "$1" "$2"
}
# events FOLDER: one line per alarm event written, "patient event tier"
events() {
    cat "$1"/*.ndjson 2>/dev/null | /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    print(d["patient_id"], d["event"], d["tier"])' 2>/dev/null
}
has() { events "$1" | grep -qx "$2"; }
count() { events "$1" | grep -cx "$2"; }
alarm_id() { # FOLDER PATIENT
    cat "$1"/*.ndjson | /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    if d["patient_id"] == sys.argv[1] and d["event"] == "raised":
        print(d["alarm_id"]); break' "$2"
}
start() { # OUT_FOLDER ESCALATE_AFTER [STATE_FILE]
    rm -f "$t/in"
    mkfifo "$t/in"
    cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
poll_timeout_ms = 100
state_interval_ms = 0
[source.in]
plugin = source-file
path = -
[detector.rules]
plugin = detector-rules
[alarms]
state_file = ${3:-}
crisis.match = category=hypertensive_crisis
crisis.priority = high
crisis.escalate_after = $2
[sink.alarms]
plugin = sink-file
route = alarm
path = $1
layout = ndjson
[sink.pager]
plugin = sink-file
route = alarm
alarm_min_tier = 1
path = $1-pager
layout = ndjson
INI
    "$BPPIPE" run "$t/p.ini" <"$t/in" 2>>"$t/err" &
    pid=$!
    exec 3>"$t/in" # held open: the run waits for more instead of ending
}

# 1. On time, with no reading; acknowledged from the input.
start "$t/one" "1, 2"
reading a1 A 190 125 >&3
wait_until 30 has "$t/one" "A raised 0"
check "A raised by its crisis reading" "has '$t/one' 'A raised 0'"
wait_until 30 has "$t/one" "A escalated 1"
check "A escalated to tier 1 with no reading (1 s)" "has '$t/one' 'A escalated 1'"
id_a=$(alarm_id "$t/one" A)
ack "$id_a" nurse.ana >&3
wait_until 30 has "$t/one" "A acknowledged 1"
check "the acknowledgement read from the input is an event with who" \
    "cat '$t/one'/*.ndjson | grep -q '\"event\":\"acknowledged\",.*\"by\":\"nurse.ana\"'"
ack "$id_a" nurse.ana >&3 # a repeat
reading b1 B 185 100 >&3
wait_until 30 has "$t/one" "B escalated 2"
check "B escalated twice (tier 1 after 1 s, tier 2 after 2 more)" \
    "has '$t/one' 'B escalated 1' && has '$t/one' 'B escalated 2'"
check "A, acknowledged, never reached tier 2, though its time came before B's" \
    "! has '$t/one' 'A escalated 2'"
check "the repeated acknowledgement changed nothing" "[ \$(count '$t/one' 'A acknowledged 1') = 1 ]"
exec 3>&- # end of input: the run drains and ends
wait_gone 30 "$pid"
wait "$pid"
check "the run ended cleanly" "[ $? = 0 ]"
pid=
# (after the end: each sink delivers on its own lane)
check "the tier-1 sink (alarm_min_tier = 1) got the escalations and the acknowledgement after, not the raises" \
    "[ \"\$(events '$t/one-pager' | sort | tr '\n' ,)\" = 'A acknowledged 1,A escalated 1,B escalated 1,B escalated 2,' ]"
check "the summary counts the events and the commands apart from the readings" \
    "grep -q 'alarms  *6 events, 2 commands' '$t/err' && grep -q 'readings in    2 = ' '$t/err'"

# 2. kill -9 after an acknowledgement.
state="$t/alarms.state"
start "$t/run1" "2, 10" "$state"
reading c1 ACKED 190 125 >&3
reading c2 OPEN 190 125 >&3
wait_until 30 has "$t/run1" "OPEN escalated 1"
wait_until 30 has "$t/run1" "ACKED escalated 1"
id_acked=$(alarm_id "$t/run1" ACKED)
ack "$id_acked" dr.bo >&3
wait_until 30 has "$t/run1" "ACKED acknowledged 1"
# the acknowledgement is committed once the snapshot holds it (written after each commit)
wait_until 30 grep -qa dr.bo "$state"
check "the acknowledgement reached the snapshot before the kill" "grep -qa dr.bo '$state'"
check "OPEN not yet at tier 2 when killed (10 s after tier 1)" "! has '$t/run1' 'OPEN escalated 2'"
kill -9 "$pid"
wait "$pid" 2>/dev/null
exec 3>&-
pid=
start "$t/run2" "2, 10" "$state"
# the same patients' crisis goes on: nothing is raised again
reading c3 ACKED 191 125 >&3
reading c4 OPEN 191 125 >&3
wait_until 60 has "$t/run2" "OPEN escalated 2"
check "the restarted process escalates the open alarm at its next tier, on time" \
    "has '$t/run2' 'OPEN escalated 2'"
check "... once, and not tier 1 again" \
    "[ \$(count '$t/run2' 'OPEN escalated 2') = 1 ] && ! has '$t/run2' 'OPEN escalated 1'"
check "nothing raised again after the restart" "! events '$t/run2' | grep -q ' raised '"
check "the acknowledged alarm: no event at all after the restart" "! events '$t/run2' | grep -q '^ACKED '"
exec 3>&-
wait_gone 30 "$pid"
wait "$pid"
pid=
check "the restarted run read the state back" "grep -q 'restored 2 keys from' '$t/err'"
[ $fail = 0 ] || cat "$t/err"
exit $fail
