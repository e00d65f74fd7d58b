#!/usr/bin/env bash
# sink-kafka on its own: judged documents as values, a Bundle sent once with value = fhir,
# HL7 v2 PCD-01 messages forwarded byte for byte with value = payload and read back by a ward,
# messages the broker refuses for good dead-lettered with librdkafka's reason, and an
# unreachable cluster retried (never acknowledged, never dropped).
. "$(dirname "$0")/lib.sh"
start_broker --topic docs:2 --topic fhir:2 --topic small:1 --topic hl7:2

obs() { # obs ID PATIENT SYS DIA
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}\n' "$1" "$2" "$3" "$4"
}
for i in $(seq 1 30); do obs "o$i" "P-$((i % 4))" $((110 + i * 2)) 80; done >"$t/in.ndjson"
bundle=$BPPIPE_TEST_DATA/fhir-examples/synthea_7b4cf3d5-transaction-bundle.json

# pipeline NAME INPUT TOPIC VALUE [extra line]...
pipeline() {
    local name=$1 input=$2 topic=$3 value=$4
    shift 4
    {
        printf '[pipeline]\nstats_interval = 0\nretry_initial_ms = 20\nretry_max_ms = 200\n'
        printf '[source.in]\nplugin = source-file\npath = %s\n' "$input"
        printf '[detector.rules]\nplugin = detector-rules\n'
        printf '[sink.kafka]\nplugin = sink-kafka\nroute = all\nbrokers = %s\n' "$BROKERS"
        printf 'topic = %s\nvalue = %s\n' "$topic" "$value"
        for kv in "$@"; do printf '%s\n' "$kv"; done
        printf '[sink.dead]\nplugin = sink-file\nroute = invalid\npath = %s\n' "$t/dead-$name"
    } >"$t/$name.ini"
}

pipeline doc "$t/in.ndjson" docs document
timeout 60 "$BPPIPE" run "$t/doc.ini" 2>"$t/doc.err"
check "value = document: the run exits 0" "[ $? = 0 ]"
kc -C -t docs -o beginning -e -f '%k\t%s\n' >"$t/docs"
check "value = document: 30 messages, keyed by patient, judged" "python3 - $t/docs <<'PY'
import json, sys
rows = [l.rstrip('\n').split('\t', 1) for l in open(sys.argv[1])]
docs = [(k, json.loads(v)) for k, v in rows]
ok = len(docs) == 30 and all(k == d['patient_id'] for k, d in docs)
ok = ok and sorted(d['stable_id'] for _, d in docs) == sorted('o%d' % i for i in range(1, 31))
ok = ok and any(d['anomaly'] for _, d in docs) and all('bp_category' in d for _, d in docs)
sys.exit(0 if ok else 1)
PY"

pipeline fhir "$bundle" fhir fhir
timeout 60 "$BPPIPE" run "$t/fhir.ini" --summary-json "$t/fhir.json" 2>"$t/fhir.err"
check "value = fhir with a Bundle: the run exits 0" "[ $? = 0 ]"
readings=$(python3 -c "import json; d=json.load(open('$t/fhir.json')); print(d['anomaly']+d['normal'])")
check "the Bundle held several readings" "[ $readings -gt 1 ]"
check "and was sent once, unchanged" "[ \$(topic_count fhir) = 1 ] &&
    [ \"\$(kc -C -t fhir -o beginning -e -f '%s' | md5sum)\" = \"\$(md5sum <$bundle)\" ]"

# value = payload with HL7 v2: what pipelines/gateway.ini forwards from MLLP. The messages go
# as they came, keyed by patient, and a ward reading the topic decodes the same readings.
printf '[pipeline]\nstats_interval = 0\n[source.ward]\nplugin = source-faker\nformat = pcd01\n' >"$t/hl7.ini"
printf 'count = 40\nrate = 0\nseed = 5\nstart_time = 2026-01-01T00:00:00Z\n' >>"$t/hl7.ini"
printf '[sink.kafka]\nplugin = sink-kafka\nroute = all\nbrokers = %s\ntopic = hl7\nvalue = payload\n' \
    "$BROKERS" >>"$t/hl7.ini"
printf '[sink.file]\nplugin = sink-file\npath = %s\nlayout = ndjson\n' "$t/hl7-sent" >>"$t/hl7.ini"
timeout 60 "$BPPIPE" run "$t/hl7.ini" 2>"$t/hl7.err"
check "value = payload with PCD-01 messages: the run exits 0" "[ $? = 0 ]"
kc -C -t hl7 -o beginning -e -f '%k\t%s\x1e' >"$t/hl7.kafka"
check "40 messages, each the ORU^R01 itself, keyed by patient (python3-hl7 reads them)" \
    "/usr/bin/python3 - '$t/hl7.kafka' <<'PY'
import sys, hl7
rows = [r.split('\t', 1) for r in open(sys.argv[1], newline='').read().split('\x1e') if r.strip()]
ok = len(rows) == 40
for key, value in rows:
    m = hl7.parse(value)
    ok = ok and str(m.segment('MSH')[9]) == 'ORU^R01^ORU_R01'
    ok = ok and key.endswith('|' + str(m.segment('PID')(3)(1)(1)))
sys.exit(0 if ok else 1)
PY"
printf '[pipeline]\nstats_interval = 0\n[source.kafka]\nplugin = source-kafka\nbrokers = %s\n' \
    "$BROKERS" >"$t/hl7ward.ini"
printf 'topics = hl7\ngroup = w\nstart = earliest\n[sink.file]\nplugin = sink-file\n' >>"$t/hl7ward.ini"
printf 'path = %s\nlayout = ndjson\n' "$t/hl7-read" >>"$t/hl7ward.ini"
timeout 60 "$BPPIPE" run "$t/hl7ward.ini" --max-records 40 2>"$t/hl7ward.err"
check "the ward reading the topic decodes the same 40 readings, same stable ids" \
    "[ \$(ids stable_id '$t/hl7-read' | sort -u | wc -l) = 40 ] &&
     [ \"\$(ids stable_id '$t/hl7-read' | sort)\" = \"\$(ids stable_id '$t/hl7-sent' | sort)\" ]"

# The Bundle is far over 1000 bytes: its one message is refused, and so are all its readings.
pipeline small "$bundle" small fhir "kafka.message.max.bytes = 1000"
timeout 60 "$BPPIPE" run "$t/small.ini" --summary-json "$t/small.json" 2>"$t/small.err"
check "too large for the producer: the run exits 0" "[ $? = 0 ]"
check "every reading was rejected, none retried" \
    "grep -q 'sink.kafka *sink-kafka, route all: delivered 0, rejected $readings, retries 0' $t/small.err"
check "and dead-lettered with librdkafka's reason" \
    "[ \$(cat $t/dead-small/*.ndjson | grep -c 'rejected by sink.kafka: .*too large') = $readings ]"
check "nothing reached the topic" "[ \$(topic_count small) = 0 ]"

# Nothing listens on port 1: every attempt times out and is retried by the host.
pipeline down "$t/in.ndjson" docs fhir "delivery_timeout_ms = 1000"
sed -i 's/^brokers = .*/brokers = 127.0.0.1:1/' "$t/down.ini"
(exec "$BPPIPE" run "$t/down.ini" 2>"$t/down.err") &
pid=$!
track $pid
# a delivery failed and is being retried; the first signal waits for the batch, the second
# abandons it
failing() { grep -q 'not delivered' "$t/down.err" && grep -q 'retrying in' "$t/down.err"; }
wait_until 60 failing
kill -TERM $pid
wait_until 60 grep -q 'stop requested' "$t/down.err"
kill -TERM $pid
wait $pid
check "unreachable cluster: the batch is abandoned, not acknowledged (exit 1)" "[ $? = 1 ]"
check "delivery failures were reported and retried" \
    "grep -q 'not delivered' $t/down.err && grep -q 'retrying in' $t/down.err"
check "nothing was counted as delivered" "grep -q 'delivered 0, rejected 0' $t/down.err"
exit $fail
