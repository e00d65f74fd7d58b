#!/usr/bin/env bash
# What kcat puts on the topic: the FHIR examples of tests/data are consumed and decoded; poison
# messages (not JSON, JSON but not FHIR, a tombstone, an empty value, 2 MiB) are dead-lettered with the reason
# and their Kafka position, and the readings after them still arrive; valid FHIR that is not blood
# pressure (a Patient, a heart rate, a Bundle's other entries) is skipped, never dead-lettered, and
# reaches a route = skipped sink only; all of it is committed.
. "$(dirname "$0")/lib.sh"
start_broker --topic blood-pressure:1 --topic examples:2 --topic dlq:1

obs() { # obs ID PATIENT SYS DIA
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}' "$1" "$2" "$3" "$4"
}
big=$t/big.json
python3 -c "import sys; sys.stdout.write('{\"resourceType\":\"Observation\",\"note\":\"' + 'x' * (2 * 1024 * 1024) + '\"}')" >"$big"
one() { kc -P -t blood-pressure -X message.max.bytes=4000000 "$@"; }
obs before P-1 120 80 | one -k P-1          # offset 0
printf 'this is not JSON' | one -k P-2       # offset 1
printf '{"resourceType":"Patient","id":"x"}' | one -k P-3  # offset 2
printf 'P-4:\n' | one -Z -K:                  # offset 3: a tombstone (NULL value)
printf 'P-5:\n' | one -K:                     # offset 4: an empty value
one -k P-6 "$big"                             # offset 5: 2 MiB
obs after P-7 190 100 | one -k P-7           # offset 6
printf '{"status":"final","code":{"coding":[{"code":"8480-6"}]}}' | one -k P-8  # offset 7: JSON, not FHIR
printf '{"resourceType":"Observation","id":"hr","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"valueQuantity":{"value":72,"unit":"/min"}}' \
    | one -k P-9                              # offset 8: a heart rate
printf 'P\000X:not JSON, key with a NUL byte\n' | one -K:  # offset 9
check "ten messages on the topic" "[ \$(topic_count blood-pressure) = 10 ]"

for f in "$BPPIPE_TEST_DATA"/fhir-examples/*.json; do tr -d '\n' <"$f"; echo; done >"$t/ex"
kc -P -t examples -l "$t/ex"
check "eleven examples on their topic" "[ \$(topic_count examples) = 11 ]"

cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
batch_size = 4
[source.k]
plugin = source-kafka
brokers = $BROKERS
topics = blood-pressure, examples
group = poison
; the mock cluster makes a member joining after the last one left wait this long
kafka.session.timeout.ms = 6000
[detector.rules]
plugin = detector-rules
[sink.ok]
plugin = sink-file
route = all
path = $t/out/ok
[sink.dead]
plugin = sink-file
route = invalid
path = $t/out/dead
[sink.skip]
plugin = sink-file
route = skipped
path = $t/out/skip
[sink.dlq]
plugin = sink-kafka
route = invalid
brokers = $BROKERS
topic = dlq
value = fhir
INI
# committed_all: the group committed every message of both topics (10 and 11), so the member
# has read, delivered and committed everything: stopped then, not after a fixed time
committed_all() {
    [ "$("$KAFKA_OFFSETS" "$BROKERS" poison blood-pressure 2>/dev/null |
        awk '{ s += $2 } END { print s }')" = 10 ] &&
        [ "$("$KAFKA_OFFSETS" "$BROKERS" poison examples 2>/dev/null |
            awk '$2 >= 0 { s += $2 } END { print s }')" = 11 ]
}
"$BPPIPE" run "$t/p.ini" --summary-json "$t/s.json" 2>"$t/err" &
pid=$!
track $pid
wait_until 120 committed_all
check "the group committed all 21 messages" "committed_all"
kill -TERM $pid
wait $pid
check "the run exits 0" "[ $? = 0 ]"
python3 - "$t/out/dead" >"$t/dead" <<'PY'
import json, os, sys
for f in sorted(os.listdir(sys.argv[1])):
    for line in open(os.path.join(sys.argv[1], f)):
        d = json.loads(line)
        s = d.get("source", {})
        print(s.get("topic"), s.get("partition"), s.get("offset"), d.get("invalid_reason"))
PY
python3 - "$t/out/skip" >"$t/skip" <<'PY'
import json, os, sys
for f in sorted(os.listdir(sys.argv[1])):
    for line in open(os.path.join(sys.argv[1], f)):
        d = json.loads(line)
        s = d.get("source", {})
        print(s.get("topic"), s.get("partition"), s.get("offset"), d.get("route"),
              d.get("resource_type"), d.get("resource_code"), "|", d.get("skip_reason"))
PY
cat "$t/dead" | cut -c1-140
check "not JSON: reason and position" "grep -q '^blood-pressure 0 1 not JSON' $t/dead"
check "JSON but not FHIR: reason and position" \
    "grep -q '^blood-pressure 0 7 not a FHIR resource (no resourceType)' $t/dead"
check "a Patient is skipped with its position, not dead-lettered" \
    "grep -q '^blood-pressure 0 2 skipped Patient None | resource is not an Observation\$' $t/skip && ! grep -q '^blood-pressure 0 2 ' $t/dead"
check "a heart rate is skipped, not dead-lettered" \
    "grep -q '^blood-pressure 0 8 skipped Observation 8867-4 | Observation is not blood pressure\$' $t/skip && ! grep -q '^blood-pressure 0 8 ' $t/dead"
check "no dead letter is only 'not blood pressure'" \
    "! grep -qi 'blood-pressure Observation\|not an Observation\|mean blood pressure' $t/dead"
check "the examples' other resources are skipped (the Bundles' entries, the mean pressure)" \
    "grep -q '^examples .* Observation 8478-0 | mean blood pressure only\$' $t/skip && [ \$(grep -c '^examples ' $t/skip) -ge 100 ]"
check "route = all took no skipped resource" "! grep -rq skip_reason $t/out/ok"
check "skipped counted by reason in the summary and its JSON" \
    "grep -q 'skipped by reason' $t/err && python3 -c \"import json,sys; s=json.load(open('$t/s.json')); r=s['skipped_by_reason']; sys.exit(not (s['skipped'] == \$(wc -l <$t/skip) and sum(r.values()) == s['skipped'] and r['resource is not an Observation'] > 0))\""
check "tombstone: reason and position" "grep -q '^blood-pressure 0 3 empty payload' $t/dead"
check "empty value: reason and position" "grep -q '^blood-pressure 0 4 empty payload' $t/dead"
check "2 MiB: reason and position" "grep -q '^blood-pressure 0 5 .*max_payload_bytes' $t/dead"
ids observation_id "$t/out/ok" >"$t/ok"
check "the reading before the poison arrived" "grep -qx before $t/ok"
check "the reading after the poison arrived" "grep -qx after $t/ok"
for id in BloodPressureExample blood-pressure compound-numeric-blood-pressure AverageSMBP-example; do
    check "example $id decoded" "grep -qx $id $t/ok"
done
check "the Bundles' readings were decoded" \
    "[ \$(python3 -c \"import json; print(sum(1 for l in open('$t/ok') if l.strip() not in ('None','before','after')))\") -ge 8 ]"
check "every example payload was read" \
    "grep -q 'messages 21' $t/err"
kc -C -t dlq -o beginning -e -f '%K|%k|%s\n' >"$t/dlq"
check "a dead letter's Kafka key is forwarded whole, NUL byte and all" \
    "python3 -c \"import sys; sys.exit(b'3|P\\\\x00X|not JSON, key with a NUL byte\\\\n' not in open('$t/dlq', 'rb').read())\""

# The restart is watched until it has been given its partitions and has polled past the
# committed positions once (its status line's "lag 0" would need stats; the assignment and a
# marker reading after it show it read nothing before the marker).
"$BPPIPE" run "$t/p.ini" --summary-json "$t/s2.json" 2>"$t/err2" &
pid=$!
track $pid
wait_until 120 grep -q 'assigned 3 partition' "$t/err2"
obs marker P-10 120 80 | one -k P-10          # offset 10
wait_until 120 grep -rq '"observation_id":"marker"' "$t/out/ok"
kill -TERM $pid
wait $pid
check "poison was committed like the rest: a restart reads only the new reading" \
    "[ $? = 0 ] && grep -q 'assigned 3 partition' $t/err2 && python3 -c \"import json,sys; sys.exit(json.load(open('$t/s2.json'))['readings_in'] != 1)\""
exit $fail
