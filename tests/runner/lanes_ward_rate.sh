#!/usr/bin/env bash
# The lanes' bounds at the rate a ward sends (src/delivery/lane.c, docs/architecture.md,
# "Delivery lanes"): 60 patients read once a second each, batches of one or two readings, one
# sink down for a minute, the default lane_max_records (5 000) and lane_max_bytes (32 MiB), no
# disk buffer. A lane counts the bytes its batches use, not the chunks of their arenas: the
# minute's 3 600 readings stay below both bounds, so the source is never paused, the archive and
# the alerts keep being written all through the outage, and once the sink is back it gets every
# reading, once, and the books balance. The outage ends by count (a minute of readings), every
# wait is for a count in a file; the only time measured is the longest stretch without a new
# line in the archive or the alerts, which a paused source makes as long as the outage.
set -u
fail=0
t=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill -9 $bg 2>/dev/null; rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
j() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
lines() { cat "$@" 2>/dev/null | wc -l | tr -d ' '; }
archived() { lines "$t"/archive/*.ndjson; }
alerts() { lines "$t/alerts.ndjson"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

total=4200  # 70 s of readings at 60 a second
outage=3600 # the sink comes back once a minute of them has been archived
gap_max=10  # seconds the archive or the alerts may go without a new line during the outage

cat >"$t/ward.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
stats_interval = 1
retry_max_ms = 1000
[source.ward]
plugin = source-faker
patients = 60
rate = 1
count = $total
seed = 23
[detector.rules]
plugin = detector-rules
critical_systolic_high = 150
[sink.down]
plugin = test-sink
route = all
path = $t/down.ndjson
down_file = $t/down
[sink.archive]
plugin = sink-file
route = all
path = $t/archive
[sink.alerts]
plugin = sink-alert
route = critical
cooldown = 0
path = $t/alerts.ndjson
INI
touch "$t/down"
"$BPPIPE" run "$t/ward.ini" --summary-json "$t/sum.json" 2>"$t/err" &
bg=$!

# The outage: each turn looks at the counts; it ends when a minute of readings is archived, or
# when the archive or the alerts have stood still for longer than gap_max (a paused source).
now() { echo "${EPOCHREALTIME/,/.}"; }
longer() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
a_n=0 l_n=0 a_at=$(now) l_at=$(now) a_gap=0 l_gap=0 rss_max=0 ended=0
while :; do
    kill -0 $bg 2>/dev/null || { ended=1; break; }
    at=$(now) n=$(archived) m=$(alerts)
    if [ "$n" -gt "$a_n" ]; then a_n=$n a_at=$at; fi
    if [ "$m" -gt "$l_n" ]; then l_n=$m l_at=$at; fi
    # a stretch counts from the first line on: the start-up is not part of the outage
    if [ "$a_n" -gt 0 ]; then
        g=$(awk -v a="$at" -v b="$a_at" 'BEGIN { print a - b }')
        longer "$g" "$a_gap" && a_gap=$g
    fi
    if [ "$l_n" -gt 0 ]; then
        g=$(awk -v a="$at" -v b="$l_at" 'BEGIN { print a - b }')
        longer "$g" "$l_gap" && l_gap=$g
    fi
    r=$(rss_kib $bg)
    [ "$r" -gt "$rss_max" ] && rss_max=$r
    [ "$a_n" -ge "$outage" ] && break
    if longer "$a_gap" $((gap_max * 3 / 2)) || longer "$l_gap" $((gap_max * 3 / 2)); then
        break # stood still: waiting longer shows nothing more
    fi
    sleep 0.2
done
last=$(grep -o 'sink.down[a-z ,]*: backlog [0-9]* record(s) in [0-9]* batch(es), [0-9.]* MiB' \
    "$t/err" | tail -n 1)
backlog=$(sed -n 's/.*backlog \([0-9]*\) record.*/\1/p' <<<"$last")
check "the ward ran through the outage" "[ $ended = 0 ]"
check "the archive was written all through the outage (longest stretch without a line ${a_gap} s)" \
    "[ $a_n -ge $outage ] && ! longer $a_gap $gap_max"
check "so were the alerts ($l_n; longest stretch without one ${l_gap} s)" \
    "[ $l_n -ge 50 ] && ! longer $l_gap $gap_max"
check "the sink that is down took nothing" "[ \$(lines '$t/down.ndjson') = 0 ]"
check "its lane held the minute's readings (last status line: ${last:-none})" \
    "[ \"\${backlog:-0}\" -ge $((outage * 9 / 10)) ]"
# lane_max_records is 5 000: no pause is due before that many are held
early=$(grep 'full, source paused' "$t/err" | sed -n 's/.*backlog \([0-9]*\) record.*/\1/p' |
    awk '$1 < 5000' | wc -l)
check "the source was never paused below lane_max_records ($early status line(s) say it was)" \
    "[ $early = 0 ]"
# Sanitizers' shadow memory and quarantine make RSS meaningless there.
if grep -Eq '^BPPIPE_(SANITIZE|TSAN):BOOL=ON' "${BPPIPE_BUILD_DIR:-.}/CMakeCache.txt" 2>/dev/null; then
    echo "skip RSS (a sanitizer build)"
else
    check "memory stayed small with a minute of readings held (peak RSS $((rss_max / 1024)) MiB)" \
        "[ $rss_max -gt 0 ] && [ $rss_max -lt $((64 * 1024)) ]"
fi

rm -f "$t/down"
for _ in $(seq 1800); do kill -0 $bg 2>/dev/null || break; sleep 0.1; done
wait $bg
st=$?
bg=
check "once the sink is back the run ends, exit 0" "[ $st = 0 ]"
check "the sink that was down has every reading, once" \
    "[ \$(lines '$t/down.ndjson') = $total ] && [ \$(sort -u '$t/down.ndjson' | wc -l) = $total ]"
check "the archive has every reading" "[ \$(archived) = $total ]"
check "every critical reading is an alert" \
    "[ \$(alerts) = \$(j '$t/sum.json' \"d['sinks']['sink.alerts']['delivered']\") ]"
check "the books balance, nothing in flight" \
    "[ \$(j '$t/sum.json' \"d['readings_in']\") = $total ] && [ \$(j '$t/sum.json' \"d['anomaly']+d['normal']+d['invalid']\") = $total ] && [ \$(j '$t/sum.json' \"d['in_flight']\") = 0 ]"
[ $fail = 0 ] || tail -n 20 "$t/err"
exit $fail
