#!/usr/bin/env bash
# [pipeline] decode_ahead: once a batch is judged, the runner polls the next one and the decode
# threads decode it while the judged one is routed, handed to the lanes and committed. A batch
# polled ahead is never dropped:
#   - a stop (SIGTERM) that arrives during a poll ahead: the batch that poll brought is judged,
#     delivered and committed like every batch before it (test-source raises the signal inside
#     its 5th poll, after adding its payloads), with the overlap and without it;
#   - the source's end reached by a poll ahead (the last batch): every reading delivered;
#   - the stage lines at log_level = debug show the batches were polled ahead.
# tests/runner/decode_threads.sh compares the documents and books with and without the overlap.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
lines() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }

# run NAME DECODE_AHEAD COUNT STOP_AT_POLL
run() {
    mkdir -p "$t/$1"
    cat >"$t/$1.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
batch_size = 100
decode_threads = 2
decode_ahead = $2
stats_interval = 0
log_level = debug
[source.in]
plugin = test-source
count = $3
stop_at_poll = $4
commit_path = $t/$1/commits
[sink.all]
plugin = test-sink
route = all
path = $t/$1/all
INI
    "$BPPIPE" run "$t/$1.ini" --summary-json "$t/$1/summary.json" >/dev/null 2>"$t/$1/err"
    echo $? >"$t/$1/status"
}

# Every offset 0..N-1 delivered once, in order: the ids are t0..t(N-1).
ids_are() { # FILE N
    /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
ids = [json.loads(l)["observation_id"] for l in open(sys.argv[1])]
sys.exit(0 if ids == [f"t{i}" for i in range(int(sys.argv[2]))] else 1)
PY
}
committed_to() { [ "$(tail -n 1 "$1")" = "$2" ]; }

for mode in true false; do
    run "stop-$mode" "$mode" 100000 5
    d="$t/stop-$mode"
    check "stop during poll 5 (decode_ahead = $mode): exit 0" "[ \$(cat $d/status) = 0 ]"
    check "stop during poll 5 (decode_ahead = $mode): the 500 readings polled are delivered" \
        "[ \$(lines $d/all) = 500 ] && ids_are $d/all 500"
    check "stop during poll 5 (decode_ahead = $mode): committed up to offset 499, batch by batch" \
        "[ \$(lines $d/commits) = 5 ] && committed_to $d/commits 400-499"
    check "stop during poll 5 (decode_ahead = $mode): the books balance, nothing in flight" \
        "grep -Eq 'readings in +500 = anomaly [0-9]+ \\+ normal [0-9]+ \\+ invalid 0 \\+ in flight 0' $d/err"
done
check "decode_ahead = true: batch 5 was polled ahead (the stop came during that poll)" \
    "grep -q 'batch 5: 100 payload(s).*(polled ahead' $t/stop-true/err"
check "decode_ahead = false: no batch polled ahead" "! grep -q 'polled ahead' $t/stop-false/err"

# The source ends during a poll ahead: its last batch (a short one) is delivered too.
run end true 1234 0
check "the end reached by a poll ahead: exit 0" "[ \$(cat $t/end/status) = 0 ]"
check "the end reached by a poll ahead: all 1234 readings delivered in order" \
    "ids_are $t/end/all 1234"
check "the end reached by a poll ahead: the last batch polled ahead and committed" \
    "grep -q 'batch 13: 34 payload(s).*(polled ahead' $t/end/err && committed_to $t/end/commits 1200-1233"
exit $fail
