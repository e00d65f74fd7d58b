#!/usr/bin/env bash
# sink-file and source-file through bppipe: layouts, names, permissions, durability under a
# failing target that recovers, idempotent replays, stdin and stdout.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
trap 'kill $bg 2>/dev/null; rm -rf "$t"' EXIT
bg=
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
ward() { # ward COUNT LAYOUT DIR [extra sink lines]
    cat <<INI
[pipeline]
batch_size = 100
stats_interval = 0
retry_initial_ms = 20
retry_max_ms = 200
[source.ward]
plugin = source-faker
count = $1
rate = 0
seed = 11
start_time = 2026-01-01T00:00:00Z
[detector.rules]
plugin = detector-rules
[sink.out]
plugin = sink-file
layout = $2
path = $3
INI
}

# per-record: a reading with a logical id (the faker's Observation id) is named obs_<id>.json
# (docs/revisions.md: its corrections find it by that name alone), pretty JSON, modes 0750/0640
ward 50 per-record "$t/rec/a/b" >"$t/p.ini"
"$BPPIPE" run "$t/p.ini" 2>"$t/err"
check "per-record run exits 0" "[ $? = 0 ]"
check "one file per reading" "[ \$(ls '$t/rec/a/b' | wc -l) = 50 ]"
check "names: obs_<logical id>.json" "[ -z \"\$(ls '$t/rec/a/b' | grep -vE '^obs_[0-9a-f-]{36}\.json$')\" ]"
check "each file holds the reading its name says" \
    "(for f in '$t'/rec/a/b/obs_*.json; do n=\${f##*/obs_}; grep -q \"^  \\\"logical_id\\\": \\\"\${n%.json}\\\",\$\" \"\$f\" || exit 1; done)"
check "pretty-printed" "head -n 2 \$(ls '$t'/rec/a/b/* | head -n1) | tail -n1 | grep -q '^  \"@timestamp\": \"2026-01-01T[0-9:.]*Z\",$'"
check "folders created 0750" "[ \$(stat -c %a '$t/rec/a') = 750 ] && [ \$(stat -c %a '$t/rec/a/b') = 750 ]"
check "files 0640" "[ -z \"\$(find '$t/rec/a/b' -type f ! -perm 640)\" ]"
check "no temporary files left" "! ls -a '$t/rec/a/b' | grep -q tmp"
# a replay: a file that already holds its reading's document is left as it is (same inode:
# nothing freed, nothing rewritten); one that does not (cut short here) is replaced whole, with
# no trail file (a trail is kept only where a version gives way to a correction or a newer one)
first=$(ls "$t/rec/a/b" | head -n1)
cp "$t/rec/a/b/$first" "$t/first.json"
truncate -s 10 "$t/rec/a/b/$first"
(cd "$t/rec/a/b" && ls -i | grep -v " $first\$" | sort) >"$t/inodes"
"$BPPIPE" run "$t/p.ini" 2>"$t/err"
check "a replay overwrites, it does not duplicate" "[ \$(ls '$t/rec/a/b' | wc -l) = 50 ]"
check "a replay leaves the files that hold their document as they are" \
    "(cd '$t/rec/a/b' && ls -i | grep -v ' $first\$' | sort) | cmp -s - '$t/inodes'"
check "a file cut short is written again whole" "cmp -s '$t/rec/a/b/$first' '$t/first.json'"
check "no temporary files left after the replay" "! ls -a '$t/rec/a/b' | grep -q tmp"

# ndjson: hourly files from the readings' own time; 2000 readings of 5 patients every 5 s = 2000 s
ward 2000 ndjson "$t/nd" >"$t/p.ini"
"$BPPIPE" run "$t/p.ini" 2>"$t/err"
check "ndjson rolls hourly by reading time" "[ -f '$t/nd/bp-20260101T00.ndjson' ] && [ ! -f '$t/nd/bp-20260101T01.ndjson' ]"
check "ndjson holds every reading" "[ \$(cat '$t'/nd/*.ndjson | wc -l) = 2000 ]"
ward 4000 ndjson "$t/nd2" >"$t/p.ini"
"$BPPIPE" run "$t/p.ini" 2>"$t/err"
check "the next hour gets its own file" "[ -f '$t/nd2/bp-20260101T01.ndjson' ] && [ \$(cat '$t'/nd2/*.ndjson | wc -l) = 4000 ]"

# a target that fails, then recovers: nothing lost, nothing duplicated, no partial line
mkdir -p "$t/fl/bp-20260101T00.ndjson"   # a folder where the hourly file must go
ward 1000 ndjson "$t/fl" >"$t/p.ini"
"$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err" &
bg=$!
wait_until 60 grep -q 'will retry' "$t/err" # failing now: then it may recover
rmdir "$t/fl/bp-20260101T00.ndjson"
wait $bg; st=$?; bg=
check "failing sink recovers and the run exits 0" "[ $st = 0 ]"
check "the failure was logged and retried" "grep -q 'will retry' '$t/err' && grep -q 'retrying in' '$t/err'"
check "every reading written exactly once" "[ \$(cat '$t'/fl/*.ndjson | wc -l) = 1000 ] && [ \$(cut -c1-120 '$t'/fl/*.ndjson | sort | uniq -d | wc -l) = 0 ]"
check "every line is whole JSON" "python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' '$t/fl/bp-20260101T00.ndjson'"

# path = - writes ndjson to stdout
ward 10 ndjson - >"$t/p.ini"
"$BPPIPE" run "$t/p.ini" >"$t/stdout" 2>"$t/err"
check "path = - writes to stdout" "[ \$(wc -l <'$t/stdout') = 10 ] && head -n1 '$t/stdout' | grep -q '^{\"@timestamp\"'"

# a path that cannot be a folder is caught by check
: >"$t/plainfile"
ward 10 ndjson "$t/plainfile/sub" >"$t/p.ini"
"$BPPIPE" check "$t/p.ini" >"$t/err" 2>&1
check "unusable path is reported by check" "[ $? = 2 ] && grep -q 'cannot create folder' '$t/err'"

# source-file: a folder of .json and .ndjson files in name order, and stdin
mkdir -p "$t/in"
head -c 0 /dev/null
cp "$t/stdout" "$t/in/b.ndjson"   # documents, not FHIR: each line is dead-lettered
printf '{"resourceType":"Observation","id":"x1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/p"},"effectiveDateTime":"2026-01-01T00:00:00Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":150,"unit":"mmHg"}}]}' >"$t/in/a.json"
echo "ignored" >"$t/in/notes.txt"
cat >"$t/f.ini" <<INI
[source.files]
plugin = source-file
path = $t/in
[detector.rules]
plugin = detector-rules
[sink.all]
plugin = sink-file
path = $t/fo
[sink.dead]
plugin = sink-file
route = invalid
path = $t/fdead
INI
"$BPPIPE" run "$t/f.ini" --summary-json "$t/sum.json" 2>"$t/err"
j() { python3 -c "import json,sys; d=json.load(open('$t/sum.json')); print(eval(sys.argv[1]))" "$1"; }
check "folder: .json is one payload, .ndjson one per line, others ignored" "[ $(j "d['payloads']") = 11 ] && [ $(j "d['anomaly']") = 1 ] && [ $(j "d['invalid']") = 10 ]"
check "dead letters name their file and line" "grep -q '\"topic\":\"$t/in/b.ndjson\",\"offset\":3' '$t'/fdead/*.ndjson"
cat "$t/in/a.json" | "$BPPIPE" run "$t/f.ini" -o source.files.path=- --summary-json "$t/sum.json" 2>"$t/err"
check "stdin is read line by line" "[ $(j "d['anomaly']") = 1 ] && [ $(j "d['readings_in']") = 1 ]"
"$BPPIPE" check "$t/f.ini" -o source.files.path="$t/nope" >"$t/err" 2>&1
check "a missing input path is reported by check" "[ $? = 2 ] && grep -q 'cannot read $t/nope' '$t/err'"
exit $fail
