#!/usr/bin/env bash
# bppipe-monitor against source-mllp (bppipe run): every message answered, every reading the
# monitors saw acknowledged AA stored, every AE/AR a dead letter, and the whole ward sent a second
# time (the same messages: a retransmit of everything) stored once, by its stable ids.
set -u
mon="$BPPIPE_BUILD_DIR/bppipe-monitor"
py=/usr/bin/python3
fail=0
t=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null && wait $pid 2>/dev/null; rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
j() { "$py" -c 'import json,sys; print(eval(sys.argv[2], {"d": json.load(open(sys.argv[1]))}))' "$1" "$2"; }

cat >"$t/ward.ini" <<INI
[pipeline]
stats_interval = 0
poll_timeout_ms = 2
[source.monitors]
plugin = source-mllp
listen = 127.0.0.1:0
port_file = $t/mllp.addr
[detector.rules]
plugin = detector-rules
[sink.archive]
plugin = sink-file
path = $t/archive
layout = per-record
[sink.dead]
plugin = sink-file
route = invalid
path = $t/dead
layout = ndjson
INI
"$BPPIPE" run "$t/ward.ini" --summary-json "$t/sum.json" 2>"$t/ward.err" &
pid=$!
. "$BPPIPE_SOURCE_DIR/tests/wait.sh"
listening() { [ -s "$t/mllp.addr" ] || ! kill -0 $pid 2>/dev/null; }
wait_until 60 listening
addr=$(cat "$t/mllp.addr" 2>/dev/null)
[ -n "$addr" ] || { echo "FAIL source-mllp did not listen"; cat "$t/ward.err"; exit 1; }

send() { # send OUT: the same ward each time (seed and start fixed)
    "$mon" --to "$addr" --connections 6 --patients 12 --count 600 --invalid-rate 0.1 --seed 3 \
        --start-time 2026-01-01T00:00:00Z --duration 120 --json >"$t/$1.json" 2>"$t/$1.err"
}
files() { find "$t/archive" -type f -name '*.json' | wc -l; }
dead() { cat "$t"/dead/*.ndjson 2>/dev/null | wc -l; }

send first
check "every message answered (exit 0)" "[ $? = 0 ] && [ $(j "$t/first.json" "d['unacknowledged']") = 0 ]"
aa=$(j "$t/first.json" "d['aa']")
bad=$(j "$t/first.json" "d['ae'] + d['ar']")
check "AA for the readings, AE/AR for the broken tenth" \
    "[ $aa -ge 480 ] && [ $bad -ge 20 ] && [ \$((aa + bad)) = 600 ] && [ $(j "$t/first.json" "d['readings']") = $aa ]"
check "every reading acknowledged AA is stored" "[ $(files) = $aa ]"
check "every AE/AR is a dead letter with its reason" \
    "[ $(dead) = $bad ] && [ \$(grep -c invalid_reason $t/dead/*.ndjson) = $bad ]"

send again
check "sent again: every message answered the same way" \
    "[ $? = 0 ] && [ $(j "$t/again.json" "d['aa']") = $aa ] && [ $(j "$t/again.json" "d['ae'] + d['ar']") = $bad ]"
check "and stored once: the same stable ids, no new reading" "[ $(files) = $aa ]"

kill -TERM $pid
wait $pid
check "the listener stops cleanly (exit 0)" "[ $? = 0 ]"
pid=
check "its books: 1 200 messages, 2 x $aa readings stored, nothing in flight" \
    "[ $(j "$t/sum.json" "d['anomaly'] + d['normal']") = \$((2 * aa)) ] && [ $(j "$t/sum.json" "d['in_flight']") = 0 ]"
exit $fail
