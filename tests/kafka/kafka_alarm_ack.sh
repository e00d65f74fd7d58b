#!/usr/bin/env bash
# Alarm acknowledgements across a group of three wards (issue 25, docs/alarms.md and
# docs/architecture.md "Acknowledgements"): crisis readings of three patients, A and B on
# partition 0 and C on partition 1 of blood-pressure, raise three alarms, each owned by the ward
# that holds its partition. A is acknowledged through a ward that does not own it (202: the
# acknowledgement is appended to partition 0 with send_input) and its owner records it; then the
# owner of partition 0 is killed (-9) after that acknowledgement, and the owner of partition 1
# is killed (-9) before C's, which goes through the third ward while nobody owns partition 1.
# Both come back. Then: A and C are acknowledged once each, by anna, in the owner's events; no
# alarm is raised twice (a new crisis reading of A after the restarts raises nothing: the
# restored owner knows A is acknowledged); neither A nor C escalates; B, acknowledged by nobody,
# escalates to tier 1, once, escalate_after (60 s) after it was raised, with no reading after
# the kill. Event documents of a batch read again after a kill -9 are written again: counts are
# of distinct stable ids (ALARM_ID/EVENT/TIER).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../fhir_reading.sh"
E=60 # crisis.escalate_after, seconds
start_broker --topic blood-pressure:3 --topic g-state:3
TOKEN=anna-kafka-0a9f31c4d2
printf 'anna %s\n' "$TOKEN" >"$t/users"
chmod 600 "$t/users"
ward() { # NAME
    cat <<INI
[pipeline]
batch_size = 20
stats_interval = 0
poll_timeout_ms = 100
http_listen = 127.0.0.1:0
http_port_file = $t/$1.port
[source.k]
plugin = source-kafka
brokers = $BROKERS
group = g
kafka.session.timeout.ms = 6000
[detector.rules]
plugin = detector-rules
[alarms]
crisis.match = category=hypertensive_crisis
crisis.priority = high
crisis.escalate_after = $E
users_file = $t/users
audit_file = $t/$1.audit
[sink.alarms]
plugin = sink-file
route = alarm
layout = ndjson
path = $t/$1.alarms
[sink.readings]
plugin = sink-file
route = all
layout = ndjson
path = $t/$1.readings
INI
}
for w in w1 w2 w3; do ward $w >"$t/$w.ini"; done
start() { # NAME
    rm -f "$t/$1.port"
    (exec "$BPPIPE" run "$t/$1.ini") 2>>"$t/$1.err" &
    eval "$1_pid=$!"
    track $!
}
reading() { # ID PATIENT SYS DIA PARTITION
    fhir_bp "$1" "$2" "$3" "$4" 2026-03-01T08:00:00Z | kc -P -t blood-pressure -p "$5"
}
# events EVENT PATIENT [BY]: distinct stable ids of EVENT for PATIENT in every ward's alarm sink
events() {
    python3 - "$t" "$@" <<'PY'
import glob, json, sys
t, event, patient = sys.argv[1:4]
by = sys.argv[4] if len(sys.argv) > 4 else None
seen = set()
for p in glob.glob(t + "/w*.alarms/*"):
    for line in open(p):
        try:
            d = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if d.get("event") == event and d.get("patient_id") == patient and (by is None or d.get("by") == by):
            seen.add(d["stable_id"])
print(len(seen))
PY
}
at_least() { [ "$(events "$2" "$3" ${4:-})" -ge "$1" ]; }
# alarm_of PATIENT: the alarm id of PATIENT's raised event
alarm_of() {
    cat "$t"/w*.alarms/* 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("event") == "raised" and d.get("patient_id") == sys.argv[1]:
        print(d["alarm_id"]); break' "$1"
}
# lists WARD ID: whether WARD's /api/alarms lists alarm ID
lists() {
    [ -s "$t/$1.port" ] && curl -s -m 5 "http://$(cat "$t/$1.port")/api/alarms" | grep -q "\"$2\""
}
owner_of() { for w in w1 w2 w3; do lists $w "$1" && { echo $w; return 0; }; done; return 1; }
ack() { # WARD ID: the status of the POST
    curl -s -m 60 -o "$t/ack.body" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $TOKEN" "http://$(cat "$t/$1.port")/api/alarms/$2/ack"
}
# judged PATIENT SYSTOLIC: whether a ward wrote that reading (route = all)
judged() { cat "$t"/w*.readings/* 2>/dev/null | grep "\"patient_id\":\"$1\"" | grep -q "\"systolic_pressure\":$2[,}]"; }
assigned() { grep -q 'assigned [1-9]' "$t/$1.err" 2>/dev/null; }

start w1; start w2; start w3
for w in w1 w2 w3; do wait_until 120 test -s "$t/$w.port"; done
wait_until 120 assigned w1 && wait_until 120 assigned w2 && wait_until 120 assigned w3
reading a1 patient-a 195 125 0
reading b1 patient-b 200 128 0
reading c1 patient-c 192 122 1
for p in patient-a patient-b patient-c; do wait_until 120 at_least 1 raised $p; done
A=$(alarm_of patient-a); B=$(alarm_of patient-b); C=$(alarm_of patient-c)
echo "alarms: A $A, B $B, C $C"
check "the alarm ids name their topic and partition" \
    "[[ '$A' == blood-pressure~0~* ]] && [[ '$B' == blood-pressure~0~* ]] && [[ '$C' == blood-pressure~1~* ]]"
wait_until 30 owner_of "$A" >/dev/null; wait_until 30 owner_of "$C" >/dev/null
X=$(owner_of "$A"); Y=$(owner_of "$C")
check "partition 0's and partition 1's owners list their alarms" "[ -n '$X' ] && [ -n '$Y' ]"
other() { for w in w1 w2 w3; do [ "$w" != "$1" ] && [ "$w" != "${2:-}" ] && { echo $w; return; }; done; }
via=$(other "$X" "$Y")
echo "owner of A and B: $X, of C: $Y; acknowledging through $via"
raised_at=$(date +%s)

# A through a ward that does not own it, while its owner runs
code=$(ack "$via" "$A")
check "the ward that does not own A answers 202 accepted" \
    "[ '$code' = 202 ] && grep -q '\"outcome\":\"accepted\"' '$t/ack.body'"
wait_until 120 at_least 1 acknowledged patient-a anna
check "A's owner recorded the acknowledgement, by anna" "[ \$(events acknowledged patient-a anna) = 1 ]"
check "the audit of $via has the line" "grep -q '\"user\":\"anna\",\"alarm_id\":\"$A\".*\"outcome\":\"accepted\"' '$t/$via.audit'"

# kill -9 the owner of partition 0 after A's acknowledgement, and the owner of partition 1
# before C's, which then goes through the third ward while partition 1 has no live owner
eval "kill -KILL \$${X}_pid"; eval "wait \$${X}_pid" 2>/dev/null
if [ "$Y" != "$X" ]; then eval "kill -KILL \$${Y}_pid"; eval "wait \$${Y}_pid" 2>/dev/null; fi
live=$(other "$X" "$Y")
code=$(ack "$live" "$C")
check "C acknowledged through $live while its owner is dead: 202 accepted" "[ '$code' = 202 ]"
start "$X"; [ "$Y" != "$X" ] && start "$Y"
wait_until 120 at_least 1 acknowledged patient-c anna
check "C's new owner recorded it, by anna" "[ \$(events acknowledged patient-c anna) = 1 ]"
# A again, after the restart: the restored owner knows it is acknowledged, so nothing is raised
reading a2 patient-a 198 126 0
wait_until 120 judged patient-a 198
check "A's later crisis reading was judged by the restored owner" "judged patient-a 198"
wait_until 200 at_least 1 escalated patient-b
esc_at=$(date +%s)
echo "B escalated $((esc_at - raised_at)) s after the alarms were raised (escalate_after = $E)"
check "B, acknowledged by nobody, escalated no sooner than escalate_after" \
    "[ $((esc_at - raised_at)) -ge $((E - 5)) ]"
check "and on time: within escalate_after + 60 s (scaled), with no reading of B after the kill" \
    "[ $((esc_at - raised_at)) -le $((E + $(slow_s 60))) ]"
check "B escalated once (tier 1)" "[ \$(events escalated patient-b) = 1 ]"
check "neither A nor C escalated" "[ \$(events escalated patient-a) = 0 ] && [ \$(events escalated patient-c) = 0 ]"
check "each alarm raised once (no re-raise after the kills, nor by A's later crisis)" \
    "[ \$(events raised patient-a) = 1 ] && [ \$(events raised patient-b) = 1 ] && [ \$(events raised patient-c) = 1 ]"
check "A and C acknowledged once each" \
    "[ \$(events acknowledged patient-a) = 1 ] && [ \$(events acknowledged patient-c) = 1 ]"
check "B was never acknowledged" "[ \$(events acknowledged patient-b) = 0 ]"
for w in w1 w2 w3; do eval "kill -TERM \$${w}_pid"; done
for w in w1 w2 w3; do eval "wait \$${w}_pid"; done
check "no token in any log or audit" "! grep -q '$TOKEN' $t/w?.err $t/w?.audit"
if [ $fail != 0 ]; then
    tail -20 "$t"/w?.err
    for f in "$t"/w?.alarms/*; do echo "== $f"; cut -c1-400 "$f"; done
fi
exit $fail
