#!/usr/bin/env bash
# Corrections and retractions through Kafka (issue 26, docs/revisions.md). For one patient: four
# ordinary readings, then x1 `final` 190/125 (a hypertensive crisis: an alarm), x1 `corrected` to
# 130/85 (version 2), a kill -9 once the group committed past the correction, then x2 `final`
# 150/95 and x2 `entered-in-error`, then three follow-up readings. At the end:
#   - Elasticsearch holds one document per logical id: x1 with the corrected values, none for x2;
#   - the archive (per-record) holds x1's corrected version and keeps the trail (the 190/125 it
#     replaced), x2 tombstoned;
#   - the crisis alarm was withdrawn: the event is in the alarm sink, and sink-alert's
#     DetectedIssue for it ends entered-in-error;
#   - the trend verdicts of the follow-ups equal those of a run that was only ever sent the
#     corrected reading (a reference group on its own topic);
#   - --summary-json and /metrics count the corrected and retracted ones;
#   - the whole sequence produced twice more changes nothing in Elasticsearch, the archive or the
#     alarm sinks.
. "$(dirname "$0")/../kafka/lib.sh"
. "$(dirname "$0")/../fhir_reading.sh"
start_broker --topic blood-pressure:1 --topic reference:1
start_es

# rev ID PATIENT SYS DIA TIME STATUS VERSION: a versioned Observation (meta.versionId)
rev() {
    fhir_bp "$1" "$2" "$3" "$4" "$5" |
        sed "s/\"status\":\"final\"/\"status\":\"$6\"/; s/^{/{\"meta\":{\"versionId\":\"$7\"},/"
}
base() { # the readings before and after the revised ones, the same in both topics
    rev b1 P 125 80 2026-03-01T08:00:00Z final 1
    rev b2 P 124 79 2026-03-01T08:15:00Z final 1
    rev b3 P 126 81 2026-03-01T08:30:00Z final 1
    rev b4 P 125 80 2026-03-01T08:45:00Z final 1
}
follow() {
    rev f1 P 128 82 2026-03-01T09:30:00Z final 1
    rev f2 P 127 83 2026-03-01T09:45:00Z final 1
    rev f3 P 129 84 2026-03-01T10:00:00Z final 1
}
first_part() { base; rev x1 P 190 125 2026-03-01T09:00:00Z final 1; }
correction() { rev x1 P 130 85 2026-03-01T09:00:00Z corrected 2; }
second_part() {
    rev x2 P 150 95 2026-03-01T09:15:00Z final 1
    rev x2 P 150 95 2026-03-01T09:15:00Z entered-in-error 2
    follow
}
produce() { kc -P -t "$1" -p 0; }

pipeline() { # FILE GROUP TOPIC ARCHIVE
    cat >"$1" <<INI
[pipeline]
stats_interval = 0
poll_timeout_ms = 100
http_listen = 127.0.0.1:0
http_port_file = $4.port
[source.k]
plugin = source-kafka
brokers = $BROKERS
topics = $3
group = $2
kafka.session.timeout.ms = 6000
[detector.rules]
plugin = detector-rules
[detector.trend]
plugin = detector-trend
[alarms]
crisis.match = category=hypertensive_crisis
crisis.priority = high
[sink.es]
plugin = sink-es
route = all
url = $ES_URL
index = bp-$2-%Y.%m
[sink.archive]
plugin = sink-file
route = all
layout = per-record
path = $4/archive
[sink.events]
plugin = sink-file
route = alarm
layout = ndjson
path = $4/events
[sink.alert]
plugin = sink-alert
route = alarm
path = $4/alerts.ndjson
INI
}

# es_state GROUP: every document of that run's indices as "_id logical_id systolic diastolic
# status", sorted
es_state() {
    curl -s -XPOST -H 'Content-Type: application/json' \
        "$ES_URL/bp-$1-*/_search?size=10000" -d '{}' | /usr/bin/python3 -c '
import json, sys
for h in json.load(sys.stdin)["hits"]["hits"]:
    s = h["_source"]
    print(h["_id"], s.get("logical_id"), s.get("systolic_pressure"), s.get("diastolic_pressure"),
          s.get("status"))' | sort
}
# archive_state DIR: every file under DIR with its document's logical id, revision and values
archive_state() {
    /usr/bin/python3 - "$1" <<'PY' | sort
import json, os, sys
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        with open(p) as fh:
            d = json.load(fh)
        print(os.path.relpath(p, sys.argv[1]), d.get("logical_id"), d.get("revision"),
              d.get("systolic_pressure"), d.get("diastolic_pressure"))
PY
}
events() { cat "$1"/events/*.ndjson 2>/dev/null | /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    print(d["patient_id"], d["condition"], d["event"])' 2>/dev/null; }
has_event() { events "$1" | grep -qx "$2"; }
# trend RUNDIR ID: the trend_* fields of reading ID's archived document
trend() {
    /usr/bin/python3 - "$1/archive" "$2" <<'PY'
import json, os, sys
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        with open(os.path.join(root, f)) as fh:
            d = json.load(fh)
        if d.get("logical_id") == sys.argv[2] and d.get("revision") is None:
            print(sorted((k, v) for k, v in d.items() if k.startswith("trend_")),
                  d.get("anomaly"), d.get("anomaly_details"))
PY
}
es_has() { es_state "$1" | awk -v id="$2" -v s="$3" '$2 == id && $3 == s { f = 1 } END { exit !f }'; }
es_lacks() { ! es_state "$1" | awk -v id="$2" '$2 == id { f = 1 } END { exit !f }'; }
committed_past() { # GROUP TOPIC OFFSET: the group committed beyond OFFSET on partition 0
    "$KAFKA_OFFSETS" "$BROKERS" "$1" "$2" 2>/dev/null |
        awk -v o="$3" '$1 == 0 && $2 > o { found = 1 } END { exit !found }'
}
metric() { # RUNDIR NAME: the value of a /metrics sample
    curl -s -m 5 "http://$(cat "$1.port")/metrics" |
        awk -v n="$2" '$1 == n { print $2 }'
}

run() { # RUNDIR TAG INI: starts a ward; its pid in $pid
    (exec "$BPPIPE" run "$3" --summary-json "$1/$2.json") 2>"$1/$2.err" &
    pid=$!
    track $pid
}

# ---- the reference: never sent the wrong values -------------------------------------------
mkdir -p "$t/ref" "$t/w"
pipeline "$t/ref.ini" ref reference "$t/ref"
{ base; correction; follow; } | sed 's/"corrected"/"final"/' | produce reference
run "$t/ref" run "$t/ref.ini"
wait_until 120 committed_past ref reference 7
kill -TERM $pid
wait $pid
check "the reference run stops cleanly" "[ $? = 0 ]"

# ---- the ward ----------------------------------------------------------------------------
pipeline "$t/ward.ini" ward blood-pressure "$t/w"
first_part | produce blood-pressure
run "$t/w" run1 "$t/ward.ini"
wait_until 120 has_event "$t/w" "P crisis raised"
check "x1 190/125 raised the crisis alarm" "has_event '$t/w' 'P crisis raised'"
wait_until 60 es_has ward x1 190
check "x1 190/125 is in Elasticsearch" "es_has ward x1 190"
correction | produce blood-pressure
wait_until 120 es_has ward x1 130
check "the correction replaced x1 in Elasticsearch" "es_has ward x1 130 && ! es_has ward x1 190"
wait_until 60 has_event "$t/w" "P crisis withdrawn"
check "the crisis alarm was withdrawn" "has_event '$t/w' 'P crisis withdrawn'"
corrected_1() { [ "$(metric "$t/w" bppipe_corrected_total)" = 1 ]; } # booked at its commit
wait_until 60 corrected_1
check "/metrics counts the correction" "corrected_1"
wait_until 120 committed_past ward blood-pressure 5
check "the group committed past the correction (offset 5)" "committed_past ward blood-pressure 5"
kill -KILL $pid
wait $pid 2>/dev/null

run "$t/w" run2 "$t/ward.ini"
second_part | produce blood-pressure
wait_until 120 committed_past ward blood-pressure 10
check "the restarted ward read to the end (offset 10)" "committed_past ward blood-pressure 10"
wait_until 60 es_has ward f3 129
check "x2 is not in Elasticsearch" "es_lacks ward x2"
check "Elasticsearch: one document per logical id" \
    "[ \"\$(es_state ward | awk '{print \$2}' | sort | uniq -d)\" = '' ]"
check "Elasticsearch: x1 holds the corrected values and status" \
    "es_state ward | grep -q ' x1 130 85 corrected$'"
check "Elasticsearch: b1-b4, x1, f1-f3 and nothing else" \
    "[ \"\$(es_state ward | awk '{print \$2}' | sort | tr '\n' ' ')\" = 'b1 b2 b3 b4 f1 f2 f3 x1 ' ]"
archive_state "$t/w/archive" >"$t/archive.txt"
check "the archive keeps x1's trail: the 190/125 it replaced" \
    "grep -q ' x1 None 190 125$' '$t/archive.txt'"
check "the archive's x1 holds the corrected values" "grep -q ' x1 replace 130 85$' '$t/archive.txt'"
check "the archive tombstoned x2" "grep -q ' x2 retract ' '$t/archive.txt'"
check "sink-alert's DetectedIssue for the crisis ends entered-in-error" \
    "tail -n 1 '$t/w/alerts.ndjson' | grep -q '\"status\":\"entered-in-error\"'"
for f in f1 f2 f3; do
    check "trend verdict of $f equals the reference's ($(trend "$t/ref" $f))" \
        "[ \"\$(trend '$t/w' $f)\" = \"\$(trend '$t/ref' $f)\" ] && [ -n \"\$(trend '$t/ref' $f)\" ]"
done
check "/metrics counts the retraction" "[ \"\$(metric '$t/w' bppipe_retracted_total)\" = 1 ]"

# ---- the same sequence twice more: nothing changes ---------------------------------------
es_state ward >"$t/es.before"
events "$t/w" >"$t/events.before"
cp "$t/w/alerts.ndjson" "$t/alerts.before"
for i in 1 2; do { first_part; correction; second_part; } | produce blood-pressure; done
wait_until 180 committed_past ward blood-pressure 32
check "the ward read both replays (offset 32)" "committed_past ward blood-pressure 32"
check "Elasticsearch unchanged by the replays" "es_state ward | cmp -s - '$t/es.before'"
check "the archive unchanged by the replays" "archive_state '$t/w/archive' | cmp -s - '$t/archive.txt'"
check "no alarm event from the replays" "events '$t/w' | cmp -s - '$t/events.before'"
check "no alert from the replays" "cmp -s '$t/w/alerts.ndjson' '$t/alerts.before'"
kill -TERM $pid
wait $pid
check "the ward stops cleanly" "[ $? = 0 ]"
sj() { /usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d.get(sys.argv[2]))' "$@"; }
check "--summary-json: 1 retracted in the second run" "[ \"\$(sj '$t/w/run2.json' retracted)\" = 1 ]"
check "--summary-json: the reference run corrected nothing" "[ \"\$(sj '$t/ref/run.json' corrected)\" = 0 ]"
if [ $fail != 0 ]; then
    echo "Elasticsearch:"; es_state ward
    echo "archive:"; cat "$t/archive.txt"
    echo "events:"; events "$t/w"
    tail -n 20 "$t/w/run1.err" "$t/w/run2.err"
fi
exit $fail
