#!/usr/bin/env bash
# The shipped ward, made to run on a laptop by -o and -u alone (issue 13): the Kafka source
# swapped to source-file, sink.anomalies swapped from sink-es to sink-file, sink.alarms removed.
# It runs with no Kafka and no Elasticsearch and its books balance against the files written;
# the dropped keys are named in one info line, their values never shown; check agrees; -u of
# what is not there is refused; an undefined ${VAR} in a dropped or removed key is no error.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
# check NAME CONDITION [FILE to show on failure]
check() {
    if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; [ -n "${3:-}" ] && cat "$3"; fi
    return 0
}
ward="$BPPIPE_SOURCE_DIR/pipelines/ward.ini"
ex="$BPPIPE_TEST_DATA/fhir-examples"

# Nothing answers on port 1: if the swap left the Kafka source or the Elasticsearch sink in
# place, the run would fail or wait (and be cut by timeout). The secrets must never be printed.
export KAFKA_BROKERS=127.0.0.1:1 ES_URL=http://127.0.0.1:1
export ES_API_KEY=SWAPSECRET-APIKEY ES_USER=swap-user ES_PASSWORD=SWAPSECRET-PASSWORD
export WARD_DIR="$t/ward" WARD_STATS_INTERVAL=0 BPPIPE_MODEL="$BPPIPE_SOURCE_DIR/models/bp_logreg.json"
unset ALERT_WEBHOOK ALERT_TOKEN

# The readings: four real examples on one line each, 24 written here (normal, stage 2
# hypertension, crises), two implausible ones and a line of garbage (both dead letters), and a
# mean-pressure Observation, which is valid FHIR but no reading (skipped, outside the books).
python3 - "$ex" "$t/readings.ndjson" <<'PY'
import json, sys
ex, out = sys.argv[1], sys.argv[2]
def obs(i, sys_, dia):
    return {"resourceType": "Observation", "id": "swap-%d" % i, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": "Patient/SWAP-%d" % (i % 5)},
            "effectiveDateTime": "2026-03-01T08:%02d:00Z" % i,
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                 "valueQuantity": {"value": sys_, "unit": "mmHg"}},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                 "valueQuantity": {"value": dia, "unit": "mmHg"}}]}
with open(out, "w") as f:
    for name in ("us-core_blood-pressure.json", "r5-spec_observation-example-bloodpressure.json",
                 "phd_compound-numeric-blood-pressure.json", "fhir-test-cases_obs-vs-1.json"):
        f.write(json.dumps(json.load(open(ex + "/" + name))) + "\n")
    for i in range(24):
        pair = [(118, 76), (112, 72), (158, 98), (192, 124)][i % 4]
        f.write(json.dumps(obs(i, *pair)) + "\n")
    f.write(json.dumps(obs(40, 420, 80)) + "\n")   # implausible: invalid
    f.write(json.dumps(obs(41, 120, 150)) + "\n")  # diastolic above systolic: invalid
    f.write("this is not FHIR\n")                  # invalid
    f.write(json.dumps(json.load(open(ex + "/r5-spec_observation-example-mbp.json"))) + "\n")
PY
readings=31 # 4 + 24 + 3 dead letters; the mean-pressure line is skipped

# sink.anomalies.path comes before the plugin swap on purpose: the order of -o must not matter.
swap=(-o "sink.anomalies.path=$t/anomalies" -o sink.anomalies.plugin=sink-file
      -o source.kafka.plugin=source-file -o "source.kafka.path=$t/readings.ndjson"
      -u sink.alarms)

timeout 60 "$BPPIPE" run "$ward" "${swap[@]}" --summary-json "$t/sum.json" >"$t/out" 2>"$t/err"
st=$?
check "the swapped ward runs and exits 0" "[ $st = 0 ]"
[ $st = 0 ] || { cat "$t/err"; exit 1; }
j() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$t/sum.json" "$1"; }
an=$(cat "$t/anomalies"/*.ndjson 2>/dev/null | wc -l | tr -d ' ')
no=$(find "$t/ward/normal_cases" -name '*.json' -type f | wc -l | tr -d ' ')
dl=$(cat "$t/ward/dead-letter"/*.ndjson 2>/dev/null | wc -l | tr -d ' ')
echo "summary: $(j "{k: d[k] for k in ('readings_in','anomaly','normal','invalid','in_flight','skipped')}")"
echo "files: anomalies $an normal $no dead-letter $dl"
check "every reading was read" "[ $(j "d['readings_in']") = $readings ]"
check "books balance: in = anomaly + normal + invalid" \
    "[ $(j "d['anomaly']+d['normal']+d['invalid']") = $readings ] && [ $(j "d['in_flight']") = 0 ]"
check "the mean-pressure Observation is skipped, not a reading" "[ $(j "d['skipped']") = 1 ]"
check "anomaly documents written = the summary's anomalies" "[ $an = $(j "d['anomaly']") ]"
check "normal files written = the summary's normals" "[ $no = $(j "d['normal']") ]"
check "dead letters written = the summary's invalid" "[ $dl = $(j "d['invalid']") ] && [ $dl = 3 ]"
# (detector-trend flags a rapid change of some patients, so a few readings in range are anomalies)
check "the ward found anomalies and normals" "[ $an -ge 12 ] && [ $no -ge 10 ]"
check "anomaly documents are JSON from sink-file" \
    "cat '$t/anomalies'/*.ndjson | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'"
check "no alarm event was written (sink.alarms removed)" "! grep -q DetectedIssue '$t/out'"
check "the sinks are the three file sinks; sink.alarms is gone" \
    "[ \"$(j "' '.join(k + '=' + v['plugin'] for k, v in sorted(d['sinks'].items()))")\" = \
       'sink.anomalies=sink-file sink.dead-letter=sink-file sink.normal=sink-file' ]"
check "nothing tried a broker or a cluster" \
    "! grep -v 'replaced by' '$t/err' | grep -qiE 'broker|cluster|connect|127.0.0.1:1'" "$t/err"
check "one info line names the dropped sink-es keys" \
    "[ \$(grep -c 'sink.anomalies.*dropped.*url, api_key, username, password, ca_file' '$t/err') = 1 ]"
check "one info line names the dropped source-kafka keys" \
    "[ \$(grep -c 'source.kafka.*dropped.*brokers, topics, group, start' '$t/err') = 1 ]"
check "the file's route, which sink-file takes too, was kept" \
    "[ $(j "d['sinks']['sink.anomalies']['route']") = anomaly ]"
check "no value of a dropped key is shown" "! grep -qE 'SWAPSECRET|swap-user' '$t/err' '$t/out'"

"$BPPIPE" check "$ward" "${swap[@]}" >"$t/log" 2>&1
st=$?
check "check with the same arguments exits 0" \
    "[ $st = 0 ] && grep -q 'valid: source source-file, 3 detector(s), 3 sink(s)' '$t/log'"
check "check shows no secret either" "! grep -q SWAPSECRET '$t/log'"

# -o adds a whole section: the Kafka source removed, a file source added under another name.
"$BPPIPE" check "$ward" -u source.kafka -o source.file.plugin=source-file \
    -o "source.file.path=$t/readings.ndjson" -u sink.alarms -o "sink.anomalies.path=$t/a2" \
    -o sink.anomalies.plugin=sink-file >"$t/log" 2>&1
check "-u source.kafka and a new [source.file] by -o" "[ $? = 0 ] && grep -q 'source source-file' '$t/log'"
"$BPPIPE" check "$ward" -o source.file.plugin=source-file -o "source.file.path=$t/readings.ndjson" \
    >"$t/log" 2>&1
check "a second source by -o is refused, saying how to remove the first" \
    "[ $? = 2 ] && grep -q 'a pipeline has one source.*(remove it with -u source.kafka)' '$t/log'"

expect() { # expect NAME STATUS PATTERN args...
    local name=$1 want=$2 pattern=$3
    shift 3
    "$BPPIPE" check "$ward" "$@" >"$t/log" 2>&1
    local got=$?
    if [ "$got" != "$want" ] || ! grep -q -- "$pattern" "$t/log"; then
        echo "FAIL $name: status $got (want $want)"; cat "$t/log"; fail=1
    else
        echo "ok   $name"
    fi
}
expect "-u of a missing section names it" 2 "error: -u sink.nothere: there is no section \[sink.nothere\]" \
    -u sink.nothere
expect "-u of a missing key names it" 2 "error: -u sink.anomalies.nokey: \[sink.anomalies\] has no key 'nokey'" \
    -u sink.anomalies.nokey
expect "-u suggests a close section" 2 "did you mean \[sink.anomalies\]?" -u sink.anomalie
expect "-u suggests a close key" 2 "did you mean 'route'?" -u sink.normal.rout
expect "-u with a value is refused without showing it" 2 "-u (argument 4): -u takes SECTION or SECTION.KEY" \
    -u sink.normal.path=SWAPSECRET-X
check "... and the value is not shown" "! grep -q SWAPSECRET '$t/log'"
expect "removing the only source leaves none" 2 "no \[source.NAME\] section" -u source.kafka
"$BPPIPE" run "$ward" -u sink.nothere >"$t/log" 2>&1
check "run refuses -u of a missing section" "[ $? = 2 ] && grep -q 'no section \[sink.nothere\]' '$t/log'"
"$BPPIPE" run "$ward" -u source.kafka >"$t/log" 2>&1
check "run refuses to remove the only source" "[ $? = 2 ] && grep -q 'no \[source.NAME\] section' '$t/log'"
"$BPPIPE" run --help >"$t/log" 2>&1
check "run --help shows -u and the swap" "grep -q -- '-u SECTION\[.KEY\]' '$t/log' && grep -q 'swap a stage' '$t/log'"
"$BPPIPE" check --help >"$t/log" 2>&1
check "check --help shows -u" "grep -q -- '-u SECTION\[.KEY\]' '$t/log'"

# An undefined ${VAR} is an error only where the key stays in the pipeline.
unset SWAP_UNSET_BROKERS SWAP_UNSET_KEY SWAP_UNSET_TOKEN
sed -e 's/\${KAFKA_BROKERS:-127.0.0.1:9092}/${SWAP_UNSET_BROKERS}/' \
    -e 's/\${ES_API_KEY:-}/${SWAP_UNSET_KEY}/' -e 's/\${ALERT_TOKEN:-}/${SWAP_UNSET_TOKEN}/' \
    "$ward" >"$t/unset.ini"
"$BPPIPE" check "$t/unset.ini" >"$t/log" 2>&1
check "without the swap, each undefined variable is an error" \
    "[ $? = 2 ] && [ \$(grep -cE 'SWAP_UNSET_(BROKERS|KEY|TOKEN) is not set' '$t/log') = 3 ]"
"$BPPIPE" check "$t/unset.ini" "${swap[@]}" >"$t/log" 2>&1
check "dropped by the swap or removed by -u, they are no error" "[ $? = 0 ]" "$t/log"
"$BPPIPE" check "$t/unset.ini" "${swap[@]:0:8}" -u sink.alarms.bearer_token >"$t/log" 2>&1
check "a key removed by -u is no error" "[ $? = 0 ]" "$t/log"
line=$(grep -n '^brokers *=' "$t/unset.ini" | cut -d: -f1)
"$BPPIPE" check "$t/unset.ini" "${swap[@]:0:4}" -u sink.alarms >"$t/log" 2>&1
check "one kept is still an error, at its line ($line)" \
    "[ $? = 2 ] && ! grep -q SWAP_UNSET_KEY '$t/log' &&
     grep -q 'unset.ini:$line: \[source.kafka\] key .brokers.: environment variable SWAP_UNSET_BROKERS' '$t/log'"
"$BPPIPE" run "$t/unset.ini" "${swap[@]}" --max-records 5 >/dev/null 2>"$t/log"
check "and run agrees" "[ $? = 0 ]" "$t/log"
exit $fail
