#!/usr/bin/env bash
# buffer = disk (src/delivery/lane_spool.c, docs/spool.md): a sink's durable spool.
#  1. A sink that is down the whole run: its records go to its spool (0700), count as done, and
#     the run ends with everything committed while the sink beside it has every reading; the
#     next run, sink up, delivers the spool first: every reading once, the spool empty.
#  2. A full spool pauses the source (the status line says so) and drops nothing: once the sink
#     is back, every reading is there.
#  3. A damaged or foreign spool is refused at start with a message naming it, and left as it
#     was; so is a folder another process holds.
#  4. Configuration: buffer = disk needs buffer_path; buffer_path alone is an error.
# Counts and orders only: the time limits just stop the waiting.
set -u
fail=0
t=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill -9 $bg 2>/dev/null; rm -rf "$t"' EXIT
[ -n "${KEEP_T:-}" ] && trap '[ -n "$bg" ] && kill -9 $bg 2>/dev/null; cp -r "$t" /tmp/lt/' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
lines() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }
j() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
ids() { python3 -c 'import json,sys; [print(json.loads(l)["stable_id"]) for l in open(sys.argv[1]) if l.strip()]' "$1" | sort; }

obs() { # obs ID PATIENT SYS DIA
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}\n' "$1" "$2" "$3" "$4"
}
for i in $(seq 1 2000); do
    if [ $((i % 3)) = 0 ]; then obs "h$i" "P-$((i % 7))" 170 95; else obs "n$i" "P-$((i % 7))" 120 80; fi
done >"$t/in.ndjson"
: >"$t/empty.ndjson"

pipeline() { # pipeline FILE INPUT [extra lines for sink.down...]
    local f=$1 in=$2
    shift 2
    {
        cat <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
batch_size = 50
stats_interval = 1
lane_max_records = 100
retry_initial_ms = 20
retry_max_ms = 200
drain_timeout_ms = 1000
[source.in]
plugin = source-file
path = $in
[detector.rules]
plugin = detector-rules
[sink.up]
plugin = test-sink
route = all
path = $t/up
[sink.down]
plugin = test-sink
route = all
path = $t/down
down_file = $t/is-down
buffer = disk
buffer_path = $t/spool
INI
        printf '%s\n' "$@"
    } >"$f"
}

# 1. Down the whole run, then up.
pipeline "$t/a.ini" "$t/in.ndjson"
touch "$t/is-down"
timeout -k 5 120 "$BPPIPE" run "$t/a.ini" --summary-json "$t/a.json" 2>"$t/a.err"
st=$?
check "a run whose sink is down ends, exit 0" "[ $st = 0 ]"
check "the sink beside it has every reading" "[ \$(lines '$t/up') = 2000 ]"
check "the down sink has none, its spool all 2000" \
    "[ \$(lines '$t/down') = 0 ] && [ \$(j '$t/a.json' \"d['sinks']['sink.down']['spooled']\") = 2000 ] && [ \$(j '$t/a.json' \"d['sinks']['sink.down']['in_spool']\") = 2000 ]"
check "spooled readings count as done: all committed, nothing in flight" \
    "[ \$(j '$t/a.json' \"d['anomaly']+d['normal']\") = 2000 ] && [ \$(j '$t/a.json' \"d['in_flight']\") = 0 ]"
check "the spool folder is private (0700) and its files 0600" \
    "[ \$(stat -c %a '$t/spool') = 700 ] && [ -z \"\$(find '$t/spool' -type f ! -perm 600)\" ]"
check "the log says where the records went" "grep -q 'written to its disk buffer' '$t/a.err'"
check "the summary says what is left in the buffer" "grep -q 'disk buffer: 2000 record(s) written to it, 2000 left in it' '$t/a.err'"
rm -f "$t/is-down"
timeout -k 5 120 "$BPPIPE" run "$t/a.ini" -o source.in.path="$t/empty.ndjson" \
    --summary-json "$t/b.json" 2>"$t/b.err"
st=$?
check "the next run, sink up, exits 0" "[ $st = 0 ]"
check "it says it delivers an earlier run's records first" "grep -q '2000 record(s) in its disk buffer .* from an earlier run' '$t/b.err'"
ids "$t/in.ndjson" >/dev/null 2>&1 # (the input has no stable_id; compare with the other sink)
check "the spool is delivered: every reading once, in the order polled" \
    "[ \$(lines '$t/down') = 2000 ] && cmp -s <(ids '$t/down') <(ids '$t/up') && [ \$(ids '$t/down' | uniq -d | wc -l) = 0 ] && cmp -s <(python3 -c 'import json,sys; [print(json.loads(l)[\"observation_id\"]) for l in open(sys.argv[1])]' '$t/down') <(python3 -c 'import json,sys; [print(json.loads(l)[\"observation_id\"]) for l in open(sys.argv[1])]' '$t/up')"
check "the documents are the same as the ones delivered live" "cmp -s '$t/down' '$t/up'"
check "the spool is empty again" "[ \$(j '$t/b.json' \"d['sinks']['sink.down']['in_spool']\") = 0 ] && grep -q 'delivered and empty again' '$t/b.err'"

# 2. A full spool pauses the source; nothing is dropped.
rm -rf "$t/spool" "$t/up" "$t/down"
pipeline "$t/full.ini" "$t/in.ndjson" "buffer_max_bytes = 1048576"
touch "$t/is-down"
"$BPPIPE" run "$t/full.ini" --summary-json "$t/full.json" 2>"$t/full.err" &
bg=$!
paused() { grep -c 'sink.down full, source paused' "$t/full.err"; }
for _ in $(seq 300); do [ "$(paused)" -ge 3 ] && break; sleep 0.1; done
check "the full spool is on the status line, and the source is paused behind it" \
    "[ \$(paused) -ge 3 ] && grep -q 'sink.down: [0-9]* record(s) in its disk buffer, [0-9.]* MiB (full)' '$t/full.err'"
polls() { grep 'sink.down full, source paused' "$t/full.err" | sed -n 's/.*(source polls \([0-9]*\)).*/\1/p'; }
check "while it is full the source is not polled" "[ \$(polls | tail -n 2 | sort -u | wc -l) = 1 ]"
check "the sink beside it has what was polled, not everything" \
    "[ \$(lines '$t/up') -gt 0 ] && [ \$(lines '$t/up') -lt 2000 ]"
rm -f "$t/is-down"
for _ in $(seq 1200); do kill -0 $bg 2>/dev/null || break; sleep 0.1; done
wait $bg
st=$?
bg=
check "once the sink is back the run ends, exit 0" "[ $st = 0 ]"
check "nothing dropped: every reading reached both sinks, once" \
    "[ \$(lines '$t/down') = 2000 ] && [ \$(lines '$t/up') = 2000 ] && cmp -s <(ids '$t/down') <(ids '$t/up') && [ \$(ids '$t/down' | uniq -d | wc -l) = 0 ]"
check "the books balance, nothing in flight, nothing left in the spool" \
    "[ \$(j '$t/full.json' \"d['readings_in']\") = 2000 ] && [ \$(j '$t/full.json' \"d['in_flight']\") = 0 ] && [ \$(j '$t/full.json' \"d['sinks']['sink.down']['in_spool']\") = 0 ] && [ \$(j '$t/full.json' \"d['sinks']['sink.down']['spooled']\") -gt 0 ]"

# 3. Refusals: a damaged spool, a foreign file, a folder in use.
rm -rf "$t/spool" "$t/up" "$t/down"
touch "$t/is-down"
timeout -k 5 120 "$BPPIPE" run "$t/a.ini" -o source.in.path="$t/in.ndjson" 2>"$t/c.err"
rm -f "$t/is-down"
seg=$(ls "$t"/spool/*.seg | head -n 1)
python3 - "$seg" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x40
open(p, "wb").write(b)
PY
before=$(cat "$t"/spool/* | sha256sum)
timeout -k 5 60 "$BPPIPE" run "$t/a.ini" -o source.in.path="$t/empty.ndjson" 2>"$t/d.err"
st=$?
check "a damaged spool is refused: exit 1, nothing delivered" "[ $st = 1 ] && [ \$(lines '$t/down') = 0 ]"
check "the message names the file and what to do" \
    "grep -q 'disk buffer refused: .*$(basename "$seg").*Move the folder aside' '$t/d.err'"
check "the spool is left as it was" "[ \"\$(cat '$t'/spool/* | sha256sum)\" = '$before' ]"
rm -rf "$t/spool"
mkdir -p "$t/spool"
echo "notes" >"$t/spool/readme.txt"
timeout -k 5 60 "$BPPIPE" run "$t/a.ini" -o source.in.path="$t/empty.ndjson" 2>"$t/e.err"
st=$?
check "a folder with a foreign file is refused, naming it" \
    "[ $st = 1 ] && grep -q 'disk buffer refused: .*readme.txt' '$t/e.err' && [ -f '$t/spool/readme.txt' ]"
rm -rf "$t/spool"
touch "$t/block"
pipeline "$t/busy.ini" "$t/in.ndjson" "block_file = $t/block"
"$BPPIPE" run "$t/busy.ini" 2>"$t/busy1.err" &
bg=$!
for _ in $(seq 100); do [ -d "$t/spool" ] && break; sleep 0.1; done
timeout -k 5 60 "$BPPIPE" run "$t/a.ini" -o source.in.path="$t/empty.ndjson" 2>"$t/f.err"
st=$?
check "a spool another process holds is refused, saying so" \
    "[ $st = 1 ] && grep -q 'another bppipe process, or another sink of this pipeline, uses that folder' '$t/f.err'"
rm -f "$t/block"
kill -TERM $bg 2>/dev/null
wait $bg
bg=

# 4. Configuration errors.
pipeline "$t/nopath.ini" "$t/in.ndjson"
sed -i '/^buffer_path/d' "$t/nopath.ini"
"$BPPIPE" check "$t/nopath.ini" >"$t/g.out" 2>&1
st=$?
check "buffer = disk without buffer_path is a configuration error" \
    "[ $st = 2 ] && grep -q 'buffer = disk needs buffer_path' '$t/g.out'"
pipeline "$t/stray.ini" "$t/in.ndjson"
sed -i '/^buffer = disk/d' "$t/stray.ini"
"$BPPIPE" check "$t/stray.ini" >"$t/h.out" 2>&1
st=$?
check "buffer_path without buffer = disk is a configuration error" \
    "[ $st = 2 ] && grep -q \"key 'buffer_path' is set but buffer is not disk\" '$t/h.out'"
[ $fail = 0 ] || { tail -n 15 "$t"/*.err; }
exit $fail
