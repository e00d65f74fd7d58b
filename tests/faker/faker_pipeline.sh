#!/usr/bin/env bash
# source-faker through bppipe: the .so exports its entry point, the brief's ward pipeline
# balances its books, fixed seed + start_time give byte-identical output, invalid_rate feeds
# the dead-letter route, rate > 0 paces real time, and bad options are caught by check.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
sum() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$t/sum.json" "$1"; }
so="$BPPIPE_BUILD_DIR/plugins/source-faker.so"

check "source-faker.so exports bppipe_plugin" \
    "nm -D --defined-only '$so' | grep -qE ' T bppipe_plugin$'"
check "and nothing else of ours" \
    "[ -z \"\$(nm -D --defined-only '$so' | grep -E ' T ' | grep -v ' bppipe_plugin$')\" ]"
"$BPPIPE" plugins source-faker >"$t/help" 2>&1
check "plugins source-faker lists every option" \
    "for k in patients practitioners rate count seed start_time invalid_rate format; do grep -q \"^  \$k \" '$t/help' || exit 1; done"

ward() { # ward OUTDIR [extra source lines...]
    local out=$1
    shift
    printf '%s\n' "[pipeline]" "batch_size = 100" "stats_interval = 0" \
        "[source.ward]" "plugin = source-faker" "count = 1000" "rate = 0" "seed = 7" "$@" \
        "[detector.rules]" "plugin = detector-rules" \
        "[sink.out]" "plugin = sink-file" "path = $out" "layout = ndjson"
}

# the pipeline of the brief, with a fixed start so the run is reproducible
ward "$t/a" "start_time = 2026-01-01T00:00:00Z" >"$t/a.ini"
"$BPPIPE" run "$t/a.ini" --summary-json "$t/sum.json" 2>"$t/err"
check "ward pipeline exits 0" "[ $? = 0 ]"
check "1000 payloads, 1000 readings" "[ $(sum "d['payloads']") = 1000 ] && [ $(sum "d['readings_in']") = 1000 ]"
check "books balance: anomaly + normal = 1000, nothing invalid" \
    "[ $(sum "d['anomaly'] + d['normal']") = 1000 ] && [ $(sum "d['invalid']") = 0 ]"
check "a few percent to a quarter anomalous" "[ $(sum "20 <= d['anomaly'] <= 250") = True ]"
check "1000 documents written" "[ \$(cat '$t'/a/*.ndjson | wc -l) = 1000 ]"
check "5 patients, 2 practitioners" \
    "[ \$(grep -o '\"patient_id\":\"PAT-00[1-5]\"' '$t'/a/*.ndjson | sort -u | wc -l) = 5 ] && [ \$(grep -o '\"practitioner_id\":\"PRAC-0[12]\"' '$t'/a/*.ndjson | sort -u | wc -l) = 2 ]"
check "first reading at start_time" \
    "head -n1 '$t'/a/*.ndjson | grep -q '^{\"@timestamp\":\"2026-01-01T00:00:00.000Z\"'"
check "rate 0 still advances 5 s per patient: reading 999 is due at 00:16:39" \
    "tail -n1 '$t'/a/*.ndjson | grep -qE '^\\{\"@timestamp\":\"2026-01-01T00:16:(38\\.[89]|39\\.[0-2])'"

ward "$t/b" "start_time = 2026-01-01T00:00:00Z" >"$t/b.ini"
"$BPPIPE" run "$t/b.ini" 2>"$t/err"
check "same seed and start_time: byte-identical output" "cmp -s '$t'/a/*.ndjson '$t'/b/*.ndjson"
ward "$t/c" "start_time = 2026-01-01T00:00:00Z" >"$t/c.ini"
"$BPPIPE" run "$t/c.ini" -o source.ward.seed=8 2>"$t/err"
check "another seed: other values" "! cmp -s '$t'/a/*.ndjson '$t'/c/*.ndjson"

# no start_time: the simulated clock starts at the wall clock
ward "$t/now" >"$t/now.ini"
before=$(date -u +%s)
"$BPPIPE" run "$t/now.ini" 2>"$t/err"
first=$(cat "$t"/now/*.ndjson | head -n1 | python3 -c 'import json,sys,datetime; d=json.loads(sys.stdin.readline()); print(int(datetime.datetime.fromisoformat(d["@timestamp"].replace("Z","+00:00")).timestamp()))')
check "default start is now" "[ $((first - before)) -ge -2 ] && [ $((first - before)) -le 5 ]"

# invalid_rate: broken payloads go to the dead-letter route, the books still balance
ward "$t/ok" "start_time = 2026-01-01T00:00:00Z" "invalid_rate = 0.2" >"$t/inv.ini"
printf '%s\n' "[sink.dead]" "plugin = sink-file" "route = invalid" \
    "path = $t/dead" "layout = ndjson" >>"$t/inv.ini"
"$BPPIPE" run "$t/inv.ini" --summary-json "$t/sum.json" 2>"$t/err"
check "invalid_rate run exits 0" "[ $? = 0 ]"
check "about a fifth dead-lettered" "[ $(sum "120 <= d['invalid'] <= 280") = True ]"
check "books balance with dead letters" \
    "[ $(sum "d['anomaly'] + d['normal'] + d['invalid']") = 1000 ]"
check "several kinds of defect" "[ $(sum "len(d['invalid_by_reason'])") -ge 3 ]"
check "every dead letter is in the file" \
    "[ \$(cat '$t'/dead/*.ndjson | wc -l) = $(sum "d['invalid']") ]"
check "a dead letter names its patient key and sequence number" \
    "grep -qE '\"key\":\"PAT-00[1-5]\"' '$t'/dead/*.ndjson && grep -qE '\"offset\":[0-9]+' '$t'/dead/*.ndjson"

# format = pcd01: the same ward as HL7 v2 PCD-01 messages, decoded by the host into the same
# pressures as the FHIR run of the same seed and start
ward "$t/hl7" "start_time = 2026-01-01T00:00:00Z" "format = pcd01" >"$t/hl7.ini"
"$BPPIPE" run "$t/hl7.ini" --summary-json "$t/sum.json" 2>"$t/err"
check "format = pcd01 run exits 0" "[ $? = 0 ]"
check "pcd01: 1000 messages, 1000 readings, nothing invalid" \
    "[ $(sum "d['payloads']") = 1000 ] && [ $(sum "d['readings_in']") = 1000 ] && [ $(sum "d['invalid']") = 0 ]"
check "pcd01: each reading says which message and device it came from, with mean and pulse" \
    "python3 - '$t/hl7' '$t/a' <<'PY'
import glob, json, sys
hl7 = [json.loads(l) for p in sorted(glob.glob(sys.argv[1] + '/*.ndjson')) for l in open(p)]
fhir = [json.loads(l) for p in sorted(glob.glob(sys.argv[2] + '/*.ndjson')) for l in open(p)]
ok = len(hl7) == len(fhir) == 1000
for h, f in zip(hl7, fhir):
    ok = ok and (h['systolic_pressure'], h['diastolic_pressure'], h['@timestamp']) == \\
        (f['systolic_pressure'], f['diastolic_pressure'], f['@timestamp'])
    ok = ok and h['patient_id'] == 'BPPIPE-WARD|' + f['patient_id']
    ok = ok and h['hl7v2']['code'] == 'MDC 150021' and h['device_id'].startswith('02B99EFFFE')
    ok = ok and 'mean_pressure' in h and 53 <= h['heart_rate'] <= 100
sys.exit(0 if ok else 1)
PY"
ward "$t/hl7bad" "start_time = 2026-01-01T00:00:00Z" "format = pcd01" "invalid_rate = 0.2" >"$t/hl7bad.ini"
"$BPPIPE" run "$t/hl7bad.ini" --summary-json "$t/sum.json" 2>"$t/err"
check "pcd01 with invalid_rate: about a fifth dead-lettered, for their four reasons" \
    "[ $(sum "120 <= d['invalid'] <= 280") = True ] && [ $(sum "len(d['invalid_by_reason'])") = 4 ]"

# rate > 0 paces real time: one patient at 5 readings/s, 6 readings take about a second
ward "$t/paced" "start_time = 2026-01-01T00:00:00Z" >"$t/paced.ini"
s0=$(date +%s.%N)
"$BPPIPE" run "$t/paced.ini" -o source.ward.rate=5 -o source.ward.patients=1 \
    -o source.ward.count=6 --summary-json "$t/sum.json" 2>"$t/err"
el=$(python3 -c "import sys; print(round($(date +%s.%N) - $s0, 2))")
check "paced run delivers all 6 readings" "[ $(sum "d['readings_in']") = 6 ]"
check "paced run takes about 1 s (took ${el}s)" "python3 -c 'import sys; sys.exit(not 0.9 <= $el <= 4)'"
check "paced readings 200 ms apart on the simulated clock" \
    "sed -n 2p '$t'/paced/*.ndjson | grep -q '^{\"@timestamp\":\"2026-01-01T00:00:00\\.[12]'"

# options the user got wrong are reported before anything runs
"$BPPIPE" check "$t/a.ini" -o source.ward.start_time=yesterday >"$t/err" 2>&1
check "check rejects a malformed start_time" "[ $? = 2 ] && grep -q 'write it like 2026-01-01T08:00:00Z' '$t/err'"
"$BPPIPE" check "$t/a.ini" -o source.ward.patients=0 >"$t/err" 2>&1
check "check rejects 0 patients" "[ $? = 2 ] && grep -q 'patients' '$t/err'"
"$BPPIPE" check "$t/a.ini" -o source.ward.invalid_rate=1.5 >"$t/err" 2>&1
check "check rejects invalid_rate above 1" "[ $? = 2 ] && grep -q 'invalid_rate' '$t/err'"
"$BPPIPE" check "$t/a.ini" >"$t/err" 2>&1
check "check accepts the brief's pipeline" "[ $? = 0 ]"
exit $fail
