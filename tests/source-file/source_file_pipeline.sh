#!/usr/bin/env bash
# source-file through bppipe: the .so exports its entry point; a folder of .json and .ndjson
# files read in name order with batches far smaller than the files; blank and garbage lines
# dead-lettered with their file and line; a 3 MB line; standard input; recursive; check errors.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
sum() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$t/sum.json" "$1"; }
so="$BPPIPE_BUILD_DIR/plugins/source-file.so"

check "source-file.so exports bppipe_plugin" \
    "nm -D --defined-only '$so' | grep -qE ' T bppipe_plugin$'"
"$BPPIPE" plugins source-file >"$t/help" 2>&1
check "plugins source-file shows path (required) and recursive" \
    "grep -qE '^  path .*required' '$t/help' && grep -qE '^  recursive ' '$t/help'"

# Input: 01-bundle.json (a Bundle of 3 readings), 02-ward.ndjson (300 readings, every 10th
# anomalous, plus an empty line, a blank line and a garbage line), 03-big.ndjson (one reading
# on a 3 MB line), notes.txt (ignored), deeper/04.ndjson (only with recursive).
mkdir -p "$t/in/deeper"
python3 - "$t/in" <<'PY'
import json, sys
d = sys.argv[1]
def obs(i, sys_, dia, extra=None):
    o = {"resourceType": "Observation", "id": "obs-%d" % i, "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
         "subject": {"reference": "Patient/PAT-%03d" % (i % 7 + 1)},
         "effectiveDateTime": "2026-01-01T%02d:%02d:00Z" % (i // 60 % 24, i % 60),
         "component": [
             {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
              "valueQuantity": {"value": sys_, "unit": "mmHg"}},
             {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
              "valueQuantity": {"value": dia, "unit": "mmHg"}}]}
    if extra:
        o.update(extra)
    return json.dumps(o)
bundle = {"resourceType": "Bundle", "type": "collection",
          "entry": [{"resource": json.loads(obs(1000 + k, 120, 80))} for k in range(3)]}
open(d + "/01-bundle.json", "w").write(json.dumps(bundle, indent=2))
with open(d + "/02-ward.ndjson", "w") as f:
    for i in range(300):
        f.write(obs(i, 185 if i % 10 == 0 else 120, 100 if i % 10 == 0 else 80) + "\n")
        if i == 99:
            f.write("\n")              # line 101: skipped
        if i == 149:
            f.write("   \n")           # line 152: a payload, dead-lettered
        if i == 199:
            f.write("not json at all\n")  # line 203: dead-lettered
open(d + "/03-big.ndjson", "w").write(obs(5000, 120, 80, {"note": [{"text": "x" * 3000000}]}) + "\n")
open(d + "/notes.txt", "w").write("ignored\n")
open(d + "/deeper/04.ndjson", "w").write(obs(6000, 120, 80) + "\n")
PY

cat >"$t/p.ini" <<INI
[pipeline]
batch_size = 7
stats_interval = 0
max_payload_bytes = 8388608
[source.files]
plugin = source-file
path = $t/in
[detector.rules]
plugin = detector-rules
[sink.good]
plugin = sink-file
path = $t/good
layout = ndjson
route = normal
[sink.bad]
plugin = sink-file
path = $t/anomalies
layout = ndjson
route = anomaly
[sink.dead]
plugin = sink-file
path = $t/dead
layout = ndjson
route = invalid
INI
"$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err"
check "folder run exits 0" "[ $? = 0 ]"
check "payloads: 1 bundle + 302 lines + 1 big line" "[ $(sum "d['payloads']") = 304 ]"
check "readings: 3 + 300 + 1 (+ 2 dead letters)" "[ $(sum "d['readings_in']") = 306 ]"
check "30 anomalies, 274 normal, 2 invalid" \
    "[ $(sum "d['anomaly']") = 30 ] && [ $(sum "d['normal']") = 274 ] && [ $(sum "d['invalid']") = 2 ]"
check "the 3 MB line became a reading" "grep -q '\"observation_id\":\"obs-5000\"' '$t'/good/*.ndjson"
check "files in name order: bundle readings first" \
    "head -n3 '$t'/good/*.ndjson | grep -c '\"observation_id\":\"obs-100[012]\"' | grep -qx 3"
check "a blank line is dead-lettered with its file and line" \
    "grep -q '\"topic\":\"$t/in/02-ward.ndjson\",\"offset\":152' '$t'/dead/*.ndjson"
check "a garbage line is dead-lettered with its file and line" \
    "grep -q '\"topic\":\"$t/in/02-ward.ndjson\",\"offset\":203' '$t'/dead/*.ndjson"
ids() { cat "$t"/good/*.ndjson "$t"/anomalies/*.ndjson | grep -o '"observation_id":"obs-[0-9]*"'; }
check "every reading exactly once despite batches of 7" \
    "[ \$(ids | wc -l) = 304 ] && [ \$(ids | sort -u | wc -l) = 304 ]"
check "notes.txt and deeper/ were not read" "! grep -q 'obs-6000' '$t'/good/*.ndjson"

"$BPPIPE" run "$t/p.ini" -o source.files.recursive=true --summary-json "$t/sum.json" 2>"$t/err"
check "recursive also reads sub-folders" "[ $(sum "d['payloads']") = 305 ]"

# standard input, one payload per line, topic "-" and the line number
cat "$t/in/02-ward.ndjson" | "$BPPIPE" run "$t/p.ini" -o source.files.path=- \
    -o sink.dead.path="$t/dead-stdin" --summary-json "$t/sum.json" 2>"$t/err"
check "stdin run exits 0" "[ $? = 0 ]"
check "stdin: 302 payloads, 300 readings, 2 dead letters" \
    "[ $(sum "d['payloads']") = 302 ] && [ $(sum "d['anomaly'] + d['normal']") = 300 ] && [ $(sum "d['invalid']") = 2 ]"
check "stdin dead letters say - and the line" \
    "grep -q '\"topic\":\"-\",\"offset\":203' '$t'/dead-stdin/*.ndjson"

# a single .json named explicitly is one payload; any other name too
cp "$t/in/01-bundle.json" "$t/bundle.fhir"
"$BPPIPE" run "$t/p.ini" -o source.files.path="$t/bundle.fhir" --summary-json "$t/sum.json" 2>"$t/err"
check "an explicitly named file is one payload" \
    "[ $(sum "d['payloads']") = 1 ] && [ $(sum "d['readings_in']") = 3 ]"

# a file that vanishes during the run: what was read is delivered, then a clear stop (exit 1)
mkdir -p "$t/vanish"
python3 -c 'import sys; open(sys.argv[1], "w").writelines("{\"n\":%d}\n" % i for i in range(50000))' \
    "$t/vanish/a.ndjson"
echo '{}' >"$t/vanish/b.json"
printf '%s\n' "[pipeline]" "batch_size = 10" "stats_interval = 0" "[source.files]" \
    "plugin = source-file" "path = $t/vanish" "[sink.dead]" "plugin = sink-file" \
    "route = invalid" "path = $t/vanished" >"$t/v.ini"
"$BPPIPE" run "$t/v.ini" --summary-json "$t/sum.json" 2>"$t/err" &
run=$!
# the run has listed the folder and reads a.ndjson (its first dead letters are out)
reading() { [ -n "$(ls -A "$t/vanished" 2>/dev/null)" ]; }
wait_until 60 reading
rm "$t/vanish/b.json"
wait $run
check "a vanished file stops the run with exit 1" "[ $? = 1 ]"
check "and says which file, why and what to do" \
    "grep -q 'cannot read $t/vanish/b.json: No such file or directory; fix or remove the file' '$t/err'"
check "everything read before was delivered" "[ \$(cat '$t'/vanished/*.ndjson | wc -l) = 50000 ]"

# errors the user must hear about before anything runs
"$BPPIPE" check "$t/p.ini" -o source.files.path="$t/missing" >"$t/err" 2>&1
check "check reports a missing path" \
    "[ $? = 2 ] && grep -q 'cannot read $t/missing: No such file or directory' '$t/err'"
sed '/^path = .*in$/d' "$t/p.ini" >"$t/nopath.ini"
"$BPPIPE" check "$t/nopath.ini" >"$t/err" 2>&1
check "check reports a missing path key" "[ $? = 2 ] && grep -q 'path' '$t/err'"
"$BPPIPE" check "$t/p.ini" >"$t/err" 2>&1
check "check accepts the folder pipeline" "[ $? = 0 ]"
exit $fail
