#!/usr/bin/env bash
# sink-file, layout = per-record (as pipelines/ward.ini ships it): a reading whose id,
# versionId, patient and practitioner ids are each 64 characters (all legal FHIR) gets a file
# whose name fits NAME_MAX, and the run drains and exits. A file the system will never take
# (here: a folder already sits where the file goes, EISDIR) is a dead letter with the reason,
# not a retry forever. A failure that may pass (here: the temporary name of one file is a link into
# a missing folder, ENOENT) is retried for that reading and those after it, while what was
# written before it is delivered; once it is fixed the run drains.
set -u
fail=0
t=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$t"' EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }

obs() { # obs ID VERSION PATIENT PRACTITIONER
    printf '{"resourceType":"Observation","id":"%s","meta":{"versionId":"%s"},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"performer":[{"reference":"Practitioner/%s"}],"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":118,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":76,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}\n' "$1" "$2" "$3" "$4"
}
x64() { printf "$1%.0s" $(seq 1 64); }
{
    obs "$(x64 i)" "$(x64 v)" "$(x64 p)" "$(x64 r)"
    obs "short1" "1" "P-1" "D-1"
    obs "short2" "1" "P-2" "D-1"
} >"$t/in.ndjson"

cat >"$t/p.ini" <<INI
[pipeline]
batch_size = 10
retry_initial_ms = 1
retry_max_ms = 5
stats_interval = 0
[source.in]
plugin = source-file
path = $t/in.ndjson
[detector.rules]
plugin = detector-rules
[sink.normal]
plugin = sink-file
route = normal
path = $t/normal
layout = per-record
[sink.dead]
plugin = sink-file
route = invalid
path = $t/dead
INI

# A folder where short2's file goes: renaming the written file onto it fails with EISDIR.
# (a reading with an Observation id is named obs_<id>.json: docs/revisions.md)
mkdir -p "$t/normal/obs_short2.json"
ls "$t/normal" >"$t/before"

timeout -k 5 30 "$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err"
st=$?
check "the run drains and exits 0 (no retry forever)" "[ $st = 0 ]"
j() { python3 -c "import json,sys; d=json.load(open('$t/sum.json')); print(eval(sys.argv[1]))" "$1"; }
long=$(ls "$t/normal" | grep "^obs_$(x64 i)" || true)
check "the 64-character-ids reading has its file" "[ -n '$long' ] && [ -s '$t/normal/$long' ]"
check "its name fits NAME_MAX with room for the temporary name" "[ \${#long} -le 250 ]"
check "its file holds the reading" "grep -q '\"observation_id\": \"$(x64 i)\"' '$t/normal/$long'"
check "a plain id names its file: obs_<id>.json" "[ -s '$t/normal/obs_short1.json' ]"
check "the file the system refuses is a dead letter with the errno" \
    "grep -q 'rejected by sink.normal: cannot write its file in .*: Is a directory (will not change on retry)' '$t'/dead/*.ndjson"
check "nothing was retried" "[ \$(j \"d['sinks']['sink.normal']['retries']\") = 0 ]"
check "books: 3 in, 1 dead-lettered by the sink" "[ \$(j \"d['readings_in']\") = 3 ] && [ \$(j \"d['sink_rejected']\") = 1 ]"
check "no temporary file is left" "! ls -a '$t/normal' | grep -q '\\.tmp\$'"
check "the wrong errno 'Success' is never reported" "! grep -q 'Success' '$t/err'"
check "patient ids are not in the log" "! grep -q '$(x64 p)' '$t/err' && ! grep -q 'P-2' '$t/err'"

# Part 2: a batch where one file fails in a way that may pass.
short1="obs_short1.json"
rm -f "$t/normal/$long" "$t/normal/$short1" # the folder in short2's place stays
rm -rf "$t/dead" "$t/sum.json"
# A previous copy of short1 (a replay): the new file goes to its temporary name first, to be
# renamed over it, whether the sink writes unnamed files (O_TMPFILE) or named ones.
echo '{"old": "copy"}' >"$t/normal/$short1"
ln -s "$t/missing/folder" "$t/normal/.$short1.tmp"
timeout -k 5 60 "$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err2" &
pid=$!
for _ in $(seq 1 300); do grep -q 'will retry' "$t/err2" && break; sleep 0.1; done
check "part 2: the failure that may pass is retried, named" \
    "grep -E -q 'cannot write a file in .*: (No such file or directory|File exists); will retry' '$t/err2'"
check "part 2: the file before it in the batch is in place meanwhile" "[ -s '$t/normal/$long' ]"
check "part 2: the leftover sweep left the link alone (not a file the sink made)" \
    "[ -L '$t/normal/.$short1.tmp' ]"
check "part 2: meanwhile the previous copy of the retried reading is whole" \
    "grep -q '\"old\": \"copy\"' '$t/normal/$short1'"
rm "$t/normal/.$short1.tmp"
wait $pid
st=$?
check "part 2: once fixed, the run drains and exits 0" "[ $st = 0 ]"
check "part 2: the retried reading has its file" \
    "grep -q '\"observation_id\": \"short1\"' '$t/normal/$short1'"
check "part 2: retried, not refused: 3 in, 1 dead-lettered (the folder in the way)" \
    "[ \$(j \"d['readings_in']\") = 3 ] && [ \$(j \"d['sink_rejected']\") = 1 ] && [ \$(j \"d['sinks']['sink.normal']['retries']\") -ge 1 ]"
check "part 2: no temporary file is left" "! ls -a '$t/normal' | grep -q '\\.tmp\$'"
exit $fail
