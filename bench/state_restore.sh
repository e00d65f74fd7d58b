#!/usr/bin/env bash
# Keyed-state restore (issue 15): how long a ward takes to get PATIENTS patients' state back
# from the changelog topic GROUP-state, and what it costs in memory.
#
#   bash bench/state_restore.sh BUILD_DIR [PATIENTS]      (default 100000 patients)
#
# Preloads `bppipe broker` with READINGS_PER_PATIENT (default 2) readings per patient
# (pipelines/producer.ini), runs ward 1 (detector-rules, detector-trend, sink-alert on the
# critical route, NDJSON file sinks) over all of them in group G and stops it with SIGTERM (its
# commits write the changelog G-state), then appends 1 000 new readings and starts ward 2 in
# the same group: it restores every key before it judges a reading. Ward 3 then runs in the same
# group on another 1 000 new readings with an empty changelog (state_topic = blank-state), for
# the memory a ward has without restored state. Prints restore time (from source-kafka's log
# line), wall time from start to the first judged reading, keys restored, changelog records and
# bytes, and peak RSS (/usr/bin/time) of ward 2 against ward 3.
# 64 partitions keep every partition under the embedded broker's 5 MiB retention.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: state_restore.sh BUILD_DIR [PATIENTS]}
P=${2:-100000}
per=${READINGS_PER_PATIENT:-2}
N=$((P * per))
NEW=1000
parts=64
bppipe=$(cd "$build" && pwd)/bppipe
t=$(mktemp -d)
broker=
ward=
cleanup() {
    [ -n "$ward" ] && kill -TERM "$ward" 2>/dev/null && wait "$ward" 2>/dev/null
    [ -n "$broker" ] && kill -TERM "$broker" 2>/dev/null && wait "$broker" 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT

"$bppipe" broker --quiet --topic blood-pressure:$parts --topic G-state:$parts \
    --topic blank-state:$parts --bootstrap-file "$t/bootstrap" >/dev/null 2>"$t/broker.err" &
broker=$!
for _ in $(seq 1 100); do [ -s "$t/bootstrap" ] && break; sleep 0.1; done
[ -s "$t/bootstrap" ] || { cat "$t/broker.err"; exit 1; }
KAFKA_BROKERS=$(cat "$t/bootstrap")
export KAFKA_BROKERS

produce() { # COUNT SEED
    PRODUCER_RATE=0 PRODUCER_COUNT=$1 PRODUCER_SEED=$2 "$bppipe" run \
        "$root/pipelines/producer.ini" -o source.ward.patients="$P" 2>"$t/producer.err"
    grep -q "delivered $1," "$t/producer.err" || { tail "$t/producer.err"; exit 1; }
}
echo "preloading $N readings ($per per patient, $P patients) ..."
produce "$N" 42

ward_ini() { # NAME [STATE_TOPIC]
    printf '[pipeline]\nbatch_size = 1000\nstats_interval = 0\n'
    printf '[source.k]\nplugin = source-kafka\nbrokers = %s\ngroup = G\n' "$KAFKA_BROKERS"
    # the embedded broker lets a stopped member's session expire before it rebalances
    printf 'kafka.session.timeout.ms = 6000\n'
    [ -n "${2:-}" ] && printf 'state_topic = %s\n' "$2"
    printf '[detector.rules]\nplugin = detector-rules\n'
    printf '[detector.trend]\nplugin = detector-trend\nmax_patients = %s\n' $((P + NEW))
    printf '[sink.out]\nplugin = sink-file\nlayout = ndjson\npath = %s\n' "$t/$1.out"
    printf '[sink.alerts]\nplugin = sink-alert\nroute = critical\npath = %s\n' "$t/$1.alerts"
}
lines() { cat "$t/$1.out"/*.ndjson 2>/dev/null | wc -l | tr -d ' '; }
now() { date +%s.%N; }

# run_ward NAME COUNT [STATE_TOPIC]: runs the ward under /usr/bin/time until COUNT readings are
# written, then SIGTERM (a clean stop commits); sets first_s (start to first judged reading),
# wall_s and rss_kb.
run_ward() {
    local name=$1 count=$2
    ward_ini "$name" "${3:-}" >"$t/$name.ini"
    local t0 t1=
    t0=$(now)
    /usr/bin/time -f '%e %M' -o "$t/$name.time" "$bppipe" run "$t/$name.ini" 2>"$t/$name.err" &
    ward=$!
    for _ in $(seq 1 6000); do
        [ -z "$t1" ] && [ "$(lines "$name")" -gt 0 ] && t1=$(now)
        [ "$(lines "$name")" -ge "$count" ] && break
        kill -0 "$ward" 2>/dev/null || break
        sleep 0.05
    done
    sleep 1
    pkill -TERM -P "$ward" 2>/dev/null || true
    wait "$ward" || true
    ward=
    [ "$(lines "$name")" -ge "$count" ] || { echo "$name wrote $(lines "$name") of $count"; tail "$t/$name.err"; exit 1; }
    first_s=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
    read -r wall_s rss_kb <"$t/$name.time"
}

echo "ward 1: judging $N readings in group G (writes the changelog G-state) ..."
run_ward w1 "$N"
w1_wall=$wall_s w1_rss=$rss_kb

produce $NEW 43
echo "ward 2: restarting in group G, restoring from G-state, judging $NEW new readings ..."
run_ward w2 $NEW
w2_first=$first_s w2_rss=$rss_kb
log=$(grep -h 'restored [0-9]* keys' "$t/w2.err" || true)
[ -n "$log" ] || { echo "ward 2 logged no restore"; tail "$t/w2.err"; exit 1; }
# several assignments may each log a line: sum keys, records and the milliseconds
read -r keys restore_ms records < <(printf '%s\n' "$log" | python3 -c '
import re, sys
k = ms = rec = 0
for line in sys.stdin:
    m = re.search(r"restored (\d+) keys of \d+ partition\(s\) in (\d+) ms \((\d+) changelog", line)
    if m:
        k += int(m[1]); ms += int(m[2]); rec += int(m[3])
print(k, ms, rec)')

produce $NEW 44
echo "ward 3: same group, empty changelog blank-state, judging $NEW new readings ..."
run_ward w3 $NEW blank-state
w3_first=$first_s w3_rss=$rss_kb

read -r nbytes nrec < <(timeout 300 kcat -b "$KAFKA_BROKERS" -q -C -t G-state -o beginning -e -f '%K %S\n' |
    awk '{ k = $1 < 0 ? 0 : $1; v = $2 < 0 ? 0 : $2; s += k + v; n++ } END { print s + 0, n + 0 }')

python3 - "$P" "$N" "$w1_wall" "$w1_rss" "$keys" "$restore_ms" "$records" "$w2_first" \
    "$w2_rss" "$w3_first" "$w3_rss" "$nbytes" "$nrec" <<'PY'
import sys
(p, n, w1_wall, w1_rss, keys, ms, records, w2_first, w2_rss, w3_first, w3_rss, nbytes,
 nrec) = sys.argv[1:]
mib = lambda kb: float(kb) / 1024
print(f"""
state restore, {int(p):,} patients, {int(n):,} readings
  ward 1 (fills the state)         {float(w1_wall):8.2f} s wall   {mib(w1_rss):7.1f} MiB peak RSS
  changelog G-state                {int(nrec):,} records, {int(nbytes) / 2**20:.1f} MiB (keys + values)
  ward 2 restore (log line)        {int(ms) / 1000:8.2f} s        {int(keys):,} keys, {int(records):,} records read
  ward 2 start to first reading    {float(w2_first):8.2f} s        {mib(w2_rss):7.1f} MiB peak RSS
  ward 3 empty changelog           {float(w3_first):8.2f} s        {mib(w3_rss):7.1f} MiB peak RSS
  restored state costs             {mib(w2_rss) - mib(w3_rss):+8.1f} MiB RSS, {(float(w2_first) - float(w3_first)):+.2f} s to first reading""")
PY
