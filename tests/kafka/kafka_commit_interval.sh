#!/usr/bin/env bash
# source-kafka's commit_interval_ms (issue 23, point 3): the batches the host acknowledges within
# the interval of the last commit are committed together, in one changelog write and one offset
# commit, and never before the host acknowledged them.
#   A. commit_interval_ms = 60000: the ward stores and acknowledges 600 readings in batches of
#      20; the group's committed offsets (asked at that moment with kafka_offsets) stay behind
#      (only the first batch was due), a stop commits everything deferred, the summary counts
#      far fewer commits than acknowledged batches, and a restart reads nothing again.
#   B. commit_interval_ms = 300 and a stream that stops: with nothing more coming to commit(),
#      the poll commits the deferred batches once the interval is over, while the ward runs;
#      then a kill -9 and a restart read nothing again.
#   C. commit_interval_ms = 60000 and commit_max_messages = 100: a count of acknowledged messages
#      commits before the interval, so while the ward reads 600 readings the committed offsets
#      stay within 100 of what it acknowledged, and a kill -9 re-reads fewer than 100.
# Each batch's commit making its own round trips (the old behaviour) fails A's "stay behind"
# and "fewer commits"; a ward that commits only in commit() fails B's wait; a ward that ignores
# the count fails C.
. "$(dirname "$0")/lib.sh"
start_broker --topic blood-pressure:3
src=$BPPIPE_SOURCE_DIR/pipelines
j() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }

produce() { # COUNT SEED
    PRODUCER_RATE=0 PRODUCER_COUNT=$1 PRODUCER_SEED=$2 "$BPPIPE" run "$src/producer.ini" \
        -o source.ward.patients=30 2>"$t/prod.err"
    grep -q "delivered $1, rejected 0" "$t/prod.err" || bad "producer.ini delivered $1"
}
ward_ini() { # NAME INTERVAL_MS [MAX_MESSAGES]: writes $t/NAME.ini (archive $t/NAME.out, metrics
    # at $t/NAME.addr)
    printf '[pipeline]\nbatch_size = 20\nstats_interval = 0\n'
    printf 'http_listen = 127.0.0.1:0\nhttp_port_file = %s\n' "$t/$1.addr"
    printf '[source.k]\nplugin = source-kafka\nbrokers = %s\ntopics = blood-pressure\n' "$BROKERS"
    printf 'group = g\ncommit_interval_ms = %s\nkafka.session.timeout.ms = 6000\n' "$2"
    [ -z "${3:-}" ] || printf 'commit_max_messages = %s\n' "$3"
    printf '[detector.rules]\nplugin = detector-rules\n[detector.trend]\nplugin = detector-trend\n'
    printf '[sink.out]\nplugin = sink-file\nlayout = ndjson\npath = %s\n' "$t/$1.out"
} >"$t/$1.ini"
# Readings the host has acknowledged to the source: they are counted when commit() returned.
acknowledged() {
    curl -s "http://$(cat "$t/$1.addr" 2>/dev/null)/metrics" 2>/dev/null | awk '
        $1 ~ /^bppipe_readings_total\{route="(normal|anomaly|invalid)"\}$/ {c += $2}
        END {print c + 0}'
}
_acknowledged() { [ "$(acknowledged "$1")" -ge "$2" ]; }
# committed: the sum over the partitions of the group's committed offsets (none: 0).
committed() {
    "$KAFKA_OFFSETS" "$BROKERS" g blood-pressure 2>/dev/null |
        awk '{c += $2 > 0 ? $2 : 0} END {print c + 0}'
}
_committed() { [ "$(committed)" -ge "$1" ]; }
stored() { cat "$t"/*.out/*.ndjson 2>/dev/null | wc -l; }

# A. Deferred until the stop.
produce 600 1
ward_ini a 60000
"$BPPIPE" run "$t/a.ini" --summary-json "$t/a.json" 2>"$t/a.err" &
ward=$!
track $ward
wait_until_costly 120 _acknowledged a 600 || bad "A: the ward acknowledged the 600 readings"
now=$(committed)
check "A: within the interval the acknowledged batches wait (committed $now of 600)" \
    "[ $now -lt 600 ]"
kill -TERM $ward
wait $ward
check "A: the ward stops cleanly" "[ $? = 0 ]"
check "A: the stop commits what was deferred" "[ \$(committed) = 600 ]"
acks=$(j "$t/a.json" "d['counters']['source.k']['batches_acknowledged']")
commits=$(j "$t/a.json" "d['counters']['source.k']['commits']")
check "A: several batches per commit ($acks batches acknowledged, $commits commits)" \
    "[ $acks -ge 10 ] && [ $commits -le 3 ]"
before=$(stored)
rerun again 3 stored "" -- "$t/a.ini"
check "A: a restart reads nothing again" \
    "[ $? = 0 ] && [ \$(j $t/again.json \"d['readings_in']\") = 3 ] && [ \$(stored) = $((before + 3)) ]"

# B. Committed by the poll once the interval is over, without a stop.
ward_ini b 300
"$BPPIPE" run "$t/b.ini" 2>"$t/b.err" &
ward=$!
track $ward
wait_until 120 grep -q 'assigned [1-9]' "$t/b.err" || bad "B: the ward got its partitions"
produce 400 2
total=$((600 + 3 + 400))
wait_until_costly 120 _acknowledged b 400 || bad "B: the ward acknowledged the 400 readings"
wait_until_costly 60 _committed $total
check "B: with nothing more coming, the poll commits the deferred batches ($(committed) of $total)" \
    "[ \$(committed) = $total ]"
kill -KILL $ward
wait $ward 2>/dev/null
before=$(stored)
rerun after 3 stored "" -- "$t/b.ini"
check "B: after a kill -9 a restart reads nothing again" \
    "[ $? = 0 ] && [ \$(j $t/after.json \"d['readings_in']\") = 3 ] && [ \$(stored) = $((before + 3)) ]"
total=$((total + 3))

# C. Committed by the count, long before the interval.
ward_ini c 60000 100
"$BPPIPE" run "$t/c.ini" 2>"$t/c.err" &
ward=$!
track $ward
wait_until 120 grep -q 'assigned [1-9]' "$t/c.err" || bad "C: the ward got its partitions"
produce 600 3
wait_until_costly 120 _acknowledged c 600 || bad "C: the ward acknowledged the 600 readings"
# commit() commits before it returns once the count is reached: what the metrics show as
# acknowledged is committed but for fewer than 100
now=$(committed)
check "C: the count commits within the interval (committed $now of $((total + 600)))" \
    "[ $now -gt $((total + 500)) ]"
kill -KILL $ward
wait $ward 2>/dev/null
# the restart is stopped once the three markers are stored: a partition's re-reads come first
markers() { cat "$t"/*.out/*.ndjson 2>/dev/null | grep -c '"count-[0-2]-'; }
rerun count 3 markers "" -- "$t/c.ini"
reread=$(($(j "$t/count.json" "d['readings_in']") - 3))
check "C: after a kill -9 a restart reads fewer than 100 again ($reread)" \
    "[ $reread -ge 0 ] && [ $reread -lt 100 ]"
exit $fail
