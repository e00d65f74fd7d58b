#!/usr/bin/env bash
# `bppipe alarms replay` on a Kafka topic (docs/alarms.md, "What-if replay"): a simulated day of
# 20 patients produced to `bppipe broker`, replayed through the pipeline's own source-kafka
# (from the earliest offset, a fresh group per run), gives the very burdens of the same ward
# replayed from source-faker directly; the ward's consumer group and its state changelog are
# left untouched.
. "$(dirname "$0")/../kafka/lib.sh"
start_broker --topic blood-pressure:4
ward="-o source.ward.patients=20 -o source.ward.rate=0 -o source.ward.interval=900
      -o source.ward.count=1920 -o source.ward.seed=5 -o source.ward.start_time=2026-01-01T00:00:00Z"
# shellcheck disable=SC2086
"$BPPIPE" run "$BPPIPE_SOURCE_DIR/pipelines/producer.ini" -o pipeline.stats_interval=0 $ward \
    -o pipeline.log_level=warn 2>"$t/produce.err"
check "the day is produced" "[ $? = 0 ]"

cat >"$t/alarms.ini" <<INI
[detector.rules]
plugin = detector-rules
[alarms]
crisis.match = category=hypertensive_crisis
crisis.priority = high
stage2.match = category=hypertension_stage_2
stage2.priority = medium
[sink.alarms]
plugin = sink-file
route = alarm
path = $t/delivered
INI
{ printf '[source.kafka]\nplugin = source-kafka\nbrokers = %s\ntopics = blood-pressure\n' "$BROKERS"
  printf 'group = the-ward\nstate_topic = the-ward-state\n'; cat "$t/alarms.ini"; } >"$t/kafka.ini"
{ printf '[source.ward]\nplugin = source-faker\n'; cat "$t/alarms.ini"; } >"$t/faker.ini"

timeout "$(slow_s 120)" "$BPPIPE" alarms replay "$t/kafka.ini" --max-records 1920 \
    --duration "$(slow_s 60)" --against '*.confirm_readings=2' --json "$t/k.json" \
    >"$t/k.out" 2>"$t/k.err"
check "the Kafka replay exits 0" "[ $? = 0 ]"
# shellcheck disable=SC2086
"$BPPIPE" alarms replay "$t/faker.ini" $ward --against '*.confirm_readings=2' \
    --json "$t/f.json" >"$t/f.out" 2>"$t/f.err"
check "the direct replay exits 0" "[ $? = 0 ]"
same() { /usr/bin/python3 -c '
import json, sys
k, f = (json.load(open(p)) for p in sys.argv[1:3])
for s in "ab":
    kb, fb = k[s]["burden"], f[s]["burden"]
    assert kb["readings"] == 1920, kb["readings"]
    for key in ("pipeline", "by_condition", "by_priority", "delayed_readings", "patients", "patient_days"):
        assert kb[key] == fb[key], (s, key, kb[key], fb[key])
assert k["a"]["burden"]["pipeline"]["alarms"] > k["b"]["burden"]["pipeline"]["alarms"]' "$t/k.json" "$t/f.json"; }
check "both runs read the whole topic from the beginning: the same burdens as the direct replay" "same"
check "the tables are the same" "diff <(tail -n +3 '$t/k.out') <(tail -n +3 '$t/f.out') >/dev/null"
check "the ward's state topic was not written" \
      "! timeout $(slow_s 30) kcat -b '$BROKERS' -L 2>/dev/null | grep -q 'topic \"the-ward-state\"'"
check "nothing was delivered" "[ ! -e '$t/delivered' ]"
exit $fail
