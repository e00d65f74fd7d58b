#!/usr/bin/env bash
# The full local loop over the real Kafka protocol: pipelines/producer.ini -> bppipe broker ->
# pipelines/ward.ini, with the Elasticsearch emulator as the anomalies' cluster. Every reading
# produced reaches exactly the sinks its route names (ids compared: anomalies indexed in
# Elasticsearch, normal readings in the archive), offsets are committed (a restart reads nothing
# again), the same Observation produced again at new offsets is one document and one per-record
# file downstream, and `bppipe check` reports librdkafka's own message for an unknown kafka.*
# key.
. "$(dirname "$0")/lib.sh"
N=3000
start_broker --topic blood-pressure:6
start_es
src=$BPPIPE_SOURCE_DIR/pipelines

PRODUCER_RATE=0 PRODUCER_COUNT=$N "$BPPIPE" run "$src/producer.ini" \
    -o source.ward.patients=40 --summary-json "$t/prod.json" 2>"$t/prod.err"
check "producer.ini exits 0" "[ $? = 0 ]"
j() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
check "producer delivered $N to sink-kafka" "grep -q 'delivered $N, rejected 0' $t/prod.err"
check "the topic holds $N messages" "[ \$(topic_count blood-pressure) = $N ]"
kc -C -t blood-pressure -o beginning -e -f '%k\t%s\n' >"$t/keyed"
check "every message is keyed by its patient id" "python3 - $t/keyed <<'PY'
import json, sys
bad = 0
for line in open(sys.argv[1]):
    key, value = line.rstrip('\n').split('\t', 1)
    if json.loads(value)['subject']['reference'] != 'Patient/' + key:
        bad += 1
sys.exit(1 if bad else 0)
PY"
topic_ids blood-pressure | sort >"$t/produced"
check "the produced ids are unique" "[ \$(sort -u $t/produced | wc -l) = $N ]"

export WARD_DIR=$t/ward KAFKA_GROUP=loop WARD_STATS_INTERVAL=0
# The mock cluster makes a member joining after the previous one left wait session.timeout.ms.
# Without detector-trend: a reading sent again at a new offset is judged against the patient's
# history as it is then, so a trend flag of the first judgement may not hold the second time,
# and the reading would move from the anomalies to the archive (found under load, when kcat's
# first 100 messages held such a reading). That a re-sent or corrected reading replaces its
# earlier documents everywhere is issue 26's; here the sinks' idempotency is what is checked.
fast=(-o source.kafka.kafka.session.timeout.ms=6000 -u detector.trend)
"$BPPIPE" run "$src/ward.ini" "${fast[@]}" --max-records $N --summary-json "$t/ward.json" 2>"$t/ward.err"
check "ward.ini exits 0" "[ $? = 0 ]"
check "ward read $N readings" "[ \$(j $t/ward.json \"d['readings_in']\") = $N ]"
es_docs observation_id >"$t/anom"
ids observation_id "$t/ward/normal_cases" >"$t/norm"
es_docs anomaly | sort -u >"$t/anom_flags"
ids anomaly "$t/ward/normal_cases" | sort -u >"$t/norm_flags"
check "some anomalies and some normal readings" "[ -s $t/anom ] && [ -s $t/norm ]"
check "Elasticsearch holds only anomalies" "[ \"\$(cat $t/anom_flags)\" = True ]"
check "normal archive holds only normal readings" "[ \"\$(cat $t/norm_flags)\" = False ]"
check "anomaly + normal ids = the produced ids, each exactly once" \
    "[ \"\$(sort $t/anom $t/norm)\" = \"\$(cat $t/produced)\" ]"
check "summary counts match the files" \
    "[ \$(j $t/ward.json \"d['anomaly']\") = \$(wc -l <$t/anom) ] && [ \$(j $t/ward.json \"d['normal']\") = \$(wc -l <$t/norm) ]"
check "nothing dead-lettered" "[ -z \"\$(ls $t/ward/dead-letter 2>/dev/null)\" ]"
check "normal readings are one file each" "[ \$(ls $t/ward/normal_cases | wc -l) = \$(wc -l <$t/norm) ]"
check "the Kafka position is in the indexed documents" \
    "[ \"\$(es_docs source.topic | sort -u)\" = blood-pressure ]"
check "each anomaly is in the index of its reading's month" \
    "[ \"\$(es_docs @timestamp | cut -c1-7 | tr - . | sed 's/^/bp-anomalies-/')\" = \"\$(es_docs _index)\" ]"

# A restart is given one new reading per partition and stopped once they are downstream (rerun,
# lib.sh): it read nothing again when it read only those six. (It ran for a fixed 10 s, which a
# loaded machine could spend joining the group.)
downstream() { echo $(($(ls "$t/ward/normal_cases" | wc -l) + $(es_count))); }
restart() { rerun "$1" 6 downstream "" -- "$src/ward.ini" "${fast[@]}"; }
restart again
check "a restart of the same group gets the partitions and reads nothing again" \
    "[ $? = 0 ] && grep -q 'assigned 6 partition' $t/again.err && [ \$(j $t/again.json \"d['readings_in']\") = 6 ]"

# The same 100 Observations produced again at new offsets: read, but one file each downstream.
kc -C -t blood-pressure -o beginning -c 100 -f '%k\t%s\n' | kc -P -t blood-pressure -K '\t'
before=$(ls "$t/ward/normal_cases" | wc -l)
docs_before=$(es_count)
"$BPPIPE" run "$src/ward.ini" "${fast[@]}" --max-records 100 --summary-json "$t/dup.json" 2>"$t/dup.err"
check "the 100 duplicates are consumed" "[ $? = 0 ] && [ \$(j $t/dup.json \"d['readings_in']\") = 100 ]"
check "duplicates do not add per-record files" "[ \$(ls $t/ward/normal_cases | wc -l) = $before ]"
check "duplicates do not add documents in Elasticsearch" "[ \$(es_count) = $docs_before ]"
check "every duplicate anomaly was answered 409 and counted as delivered" \
    "grep -q \"es_already_there *\$(j $t/dup.json \"d['anomaly']\")\\\$\" $t/dup.err && grep -q 'es_created *0\$' $t/dup.err"

# linger_ms: readings trickling in (100/s, produced once the ward has its partitions) are
# gathered into a few batches over many polls; each gathered batch is committed whole, so a
# restart reads nothing again.
"$BPPIPE" run "$src/ward.ini" "${fast[@]}" -o pipeline.linger_ms=1500 --max-records 200 \
    --summary-json "$t/linger.json" 2>"$t/linger.err" &
ward=$!
track $ward
wait_until 120 grep -q 'assigned 6 partition' "$t/linger.err"
PRODUCER_RATE=20 PRODUCER_COUNT=200 PRODUCER_SEED=7 "$BPPIPE" run "$src/producer.ini" \
    -o source.ward.patients=5 2>"$t/trickle.err"
wait $ward
check "linger: the ward reads the 200 trickled readings" \
    "[ $? = 0 ] && [ \$(j $t/linger.json \"d['readings_in']\") = 200 ]"
commits=$(sed -n 's/.*source.kafka *commits //p' "$t/linger.err")
check "linger: gathered into a few batches ($commits commits for 200 readings)" \
    "[ -n '$commits' ] && [ '$commits' -le 6 ]"
restart after
check "linger: every gathered batch was committed whole (a restart reads nothing)" \
    "[ $? = 0 ] && grep -q 'assigned 6 partition' $t/after.err && [ \$(j $t/after.json \"d['readings_in']\") = 6 ]"

# Configuration: librdkafka's own words for an unknown key; auto-commit stays off.
"$BPPIPE" check "$src/ward.ini" -o source.kafka.kafka.no.such.key=1 2>"$t/check.err"
check "check fails (2) on an unknown kafka.* key" "[ $? = 2 ]"
check "and quotes librdkafka's message" \
    "grep -q 'kafka.no.such.key: librdkafka refused it: No such configuration property' $t/check.err"
"$BPPIPE" check --offline "$src/ward.ini" -o source.kafka.kafka.enable.auto.commit=true 2>"$t/ac.err"
check "auto-commit=true is accepted with a warning" \
    "[ $? = 0 ] && grep -q 'enable.auto.commit = true ignored' $t/ac.err"
"$BPPIPE" check --offline "$src/producer.ini" -o sink.kafka.kafka.enable.idempotence=false 2>"$t/id.err"
check "idempotence=false is overridden with a warning" \
    "[ $? = 0 ] && grep -q 'enable.idempotence = false ignored' $t/id.err"
"$BPPIPE" check "$src/producer.ini" -o sink.kafka.kafka.acks=maybe 2>"$t/acks.err"
check "a bad sink-kafka value is reported too" "[ $? = 2 ] && grep -q 'kafka.acks' $t/acks.err"
[ $fail = 0 ] || { tail -n 20 "$t/ward.err"; }
exit $fail
