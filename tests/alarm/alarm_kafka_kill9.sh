#!/usr/bin/env bash
# Alarms over Kafka (source-kafka keeps the keyed state in its changelog): an acknowledgement
# written to the alarm's own topic and partition (the alarm id names them) is applied by the
# ward that owns it; kill -9 once the group committed past it; the restarted ward restores the
# alarms from the changelog as of the committed offset and neither raises again nor escalates
# the acknowledged alarm, and escalates the open one at its next tier, on time, once.
. "$(dirname "$0")/../kafka/lib.sh"
. "$(dirname "$0")/../fhir_reading.sh"
start_broker --topic blood-pressure:2

reading() { fhir_bp "$1" "$2" 190 125 2026-03-01T09:00:00Z; } # ID PATIENT: a crisis
events() { # FOLDER: "patient event tier" per event written
    cat "$1"/*.ndjson 2>/dev/null | /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    print(d["patient_id"], d["event"], d["tier"])' 2>/dev/null
}
has() { events "$1" | grep -qx "$2"; }
count() { events "$1" | grep -cx "$2"; }
field() { # FOLDER PATIENT EVENT FIELD
    cat "$1"/*.ndjson | /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    if d["patient_id"] == sys.argv[1] and d["event"] == sys.argv[2]:
        print(d[sys.argv[3]]); break' "$2" "$3" "$4"
}
committed_past() { # PARTITION OFFSET: the group committed beyond OFFSET there
    "$KAFKA_OFFSETS" "$BROKERS" alarms blood-pressure 2>/dev/null |
        awk -v p="$1" -v o="$2" '$1 == p && $2 > o { found = 1 } END { exit !found }'
}
cat >"$t/ward.ini" <<INI
[pipeline]
stats_interval = 0
poll_timeout_ms = 100
[source.k]
plugin = source-kafka
brokers = $BROKERS
group = alarms
kafka.session.timeout.ms = 6000
[detector.rules]
plugin = detector-rules
[alarms]
crisis.match = category=hypertensive_crisis
crisis.priority = high
crisis.escalate_after = 2, 14
[sink.alarms]
plugin = sink-file
route = alarm
layout = ndjson
path = \${OUT}
INI
# both patients on partition 0: the acknowledgement must go where the alarm's id says
reading k1 ACKED | kc -P -t blood-pressure -p 0
reading k2 OPEN | kc -P -t blood-pressure -p 0
(OUT="$t/run1" exec "$BPPIPE" run "$t/ward.ini") 2>"$t/run1.err" &
pid=$!
track $pid
wait_until 90 has "$t/run1" "OPEN escalated 1"
wait_until 30 has "$t/run1" "ACKED escalated 1"
check "both raised and escalated to tier 1 with no further reading" \
    "has '$t/run1' 'ACKED escalated 1' && has '$t/run1' 'OPEN escalated 1'"
id=$(field "$t/run1" ACKED raised alarm_id)
check "the alarm id names its topic and partition ($id)" "[[ '$id' == blood-pressure~0~* ]]"
part=${id#blood-pressure~}
part=${part%%~*}
printf '{"bppipe":"alarm-ack","alarm_id":"%s","by":"dr.kafka","from":"127.0.0.1"}\n' "$id" |
    kc -P -t blood-pressure -p "$part"
wait_until 60 has "$t/run1" "ACKED acknowledged 1"
check "the owner applied the acknowledgement read from the partition" \
    "[ \"\$(field '$t/run1' ACKED acknowledged by)\" = dr.kafka ]"
# the acknowledgement is offset 2 of partition 0: killed once the group committed past it
wait_until 60 committed_past 0 2
check "the group committed past the acknowledgement" "committed_past 0 2"
check "OPEN not yet at tier 2 at the kill (14 s after tier 1)" "! has '$t/run1' 'OPEN escalated 2'"
kill -KILL $pid
wait $pid 2>/dev/null
(OUT="$t/run2" exec "$BPPIPE" run "$t/ward.ini") 2>"$t/run2.err" &
pid=$!
track $pid
# the crisis goes on for both: nothing is raised again
reading k3 ACKED | kc -P -t blood-pressure -p 0
reading k4 OPEN | kc -P -t blood-pressure -p 0
wait_until 90 has "$t/run2" "OPEN escalated 2"
check "the restarted ward escalates the open alarm at its next tier, on time" \
    "has '$t/run2' 'OPEN escalated 2'"
check "... once, and not tier 1 again" \
    "[ \$(count '$t/run2' 'OPEN escalated 2') = 1 ] && ! has '$t/run2' 'OPEN escalated 1'"
check "nothing raised again" "! events '$t/run2' | grep -q ' raised '"
check "the acknowledged alarm: no event after the restart" "! events '$t/run2' | grep -q '^ACKED '"
kill -TERM $pid
wait $pid
check "the restarted ward stops cleanly" "[ $? = 0 ]"
if [ $fail != 0 ]; then
    echo "run 1:"; events "$t/run1"; echo "run 2:"; events "$t/run2"
    tail -n 30 "$t/run1.err" "$t/run2.err"
fi
exit $fail
