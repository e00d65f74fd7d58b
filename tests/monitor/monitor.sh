#!/usr/bin/env bash
# bppipe-monitor against a tiny MLLP listener built on python3-hl7 (ack_server.py): every message
# gets its ACK and is counted by its code, a silent listener makes the monitor time out and send
# the same message again, a listener that hangs up makes it reconnect and send again, a
# patient's messages keep their order, --rate paces, and a listener that is not there fails.
set -u
mon="$BPPIPE_BUILD_DIR/bppipe-monitor"
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
fail=0
t=$(mktemp -d)
srv=
stop_server() {
    [ -n "$srv" ] || return 0
    kill -TERM "$srv" 2>/dev/null
    wait "$srv" 2>/dev/null
    srv=
}
trap 'stop_server; rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
field() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$t/out.json" "$1"; }

. "$BPPIPE_SOURCE_DIR/tests/wait.sh"
server_up() { [ -s "$t/port" ] || ! kill -0 "$srv" 2>/dev/null; }

# server NAME [ack_server options]: starts the listener; its port in $port
server() {
    stop_server
    rm -f "$t/port"
    "$py" "$here/ack_server.py" "$t/port" "$t/$1.log" "${@:2}" 2>"$t/$1.err" &
    srv=$!
    wait_until 60 server_up
    port=$(cat "$t/port" 2>/dev/null)
    [ -n "$port" ] || { echo "FAIL the ack server did not start"; cat "$t/$1.err"; exit 1; }
}

server aa
"$mon" --to "127.0.0.1:$port" --duration 60 --connections 4 --patients 8 --count 300 --json \
    --ack-log "$t/acks" >"$t/out.json" 2>"$t/err"
check "every message acknowledged: exit 0" "[ $? = 0 ]"
check "300 sent, 300 AA, 300 readings, nothing resent" \
    "[ $(field sent) = 300 ] && [ $(field aa) = 300 ] && [ $(field readings) = 300 ] && [ $(field resent) = 0 ]"
check "the listener parsed 300 ORU^R01 with 300 control ids" \
    "[ \$(grep -c ' ORU^R01^ORU_R01 PAT-00[1-8] [0-9]' '$t/aa.log') = 300 ] && [ \$(cut -d' ' -f1 '$t/aa.log' | sort -u | wc -l) = 300 ]"
check "the ACK log names each message once, AA" \
    "[ \$(grep -c ' AA PAT-' '$t/acks') = 300 ] && [ \$(cut -d' ' -f1 '$t/acks' | sort -u | wc -l) = 300 ]"
check "each patient's messages arrive in the ward's order" \
    "$py - '$t/aa.log' <<'PY'
import sys
last = {}
for line in open(sys.argv[1]):
    ctrl, _, patient, _ = line.split()
    seq = int(ctrl.rsplit('-', 1)[1])
    if seq <= last.get(patient, -1):
        sys.exit(1)
    last[patient] = seq
PY"
check "latency percentiles reported" "$py -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (0 < d[\"ack_ms_p50\"] <= d[\"ack_ms_p99\"] <= d[\"ack_ms_max\"]))' '$t/out.json'"

"$mon" --to "127.0.0.1:$port" --duration 60 --count 20 >"$t/text" 2>&1
check "the text report" "grep -q '20 AA, 0 AE, 0 AR, 0 unacknowledged' '$t/text' && grep -q 'messages/s, .* readings/s; last byte to ACK p50' '$t/text'"

server ae --code AE
"$mon" --to "127.0.0.1:$port" --duration 60 --connections 2 --count 40 --json >"$t/out.json" 2>"$t/err"
check "AE counted as AE, no readings accepted, still exit 0" \
    "[ $? = 0 ] && [ $(field ae) = 40 ] && [ $(field aa) = 0 ] && [ $(field readings) = 0 ]"

server ca --code CA
"$mon" --to "127.0.0.1:$port" --duration 60 --count 20 --json >"$t/out.json" 2>"$t/err"
check "CA (the accept acknowledgement the messages ask for) ends the wait as AA" \
    "[ $? = 0 ] && [ $(field aa) = 20 ] && [ $(field resent) = 0 ] && [ $(field ack_timeouts) = 0 ]"

server silent --silent-first 2
"$mon" --to "127.0.0.1:$port" --duration 60 --connections 2 --count 30 --ack-timeout-ms 300 --json \
    >"$t/out.json" 2>"$t/err"
check "no ACK in time: the message goes again on a new connection, all 30 end AA" \
    "[ $? = 0 ] && [ $(field aa) = 30 ] && [ $(field ack_timeouts) -ge 2 ] && [ $(field resent) -ge 2 ] && [ $(field sent) = 30 ]"
check "the listener saw the unanswered ones twice, with the same control id" \
    "[ \$(cut -d' ' -f1 '$t/silent.log' | sort | uniq -d | wc -l) -ge 2 ] && [ \$(cut -d' ' -f1 '$t/silent.log' | sort -u | wc -l) = 30 ]"

server close --close-first 3
"$mon" --to "127.0.0.1:$port" --duration 60 --count 25 --json >"$t/out.json" 2>"$t/err"
check "a listener that hangs up: reconnect, send again, all 25 AA" \
    "[ $? = 0 ] && [ $(field aa) = 25 ] && [ $(field broken_connections) -ge 3 ] && [ $(field resent) = 3 ]"

server paced
"$mon" --to "127.0.0.1:$port" --duration 60 --rate 100 --count 50 --json >"$t/out.json" 2>"$t/err"
check "--rate 100 paces: 50 messages take at least 0.45 s" \
    "[ $? = 0 ] && [ $(field aa) = 50 ] && $py -c 'import sys; sys.exit(not float(sys.argv[1]) >= 0.45)' $(field seconds)"

server broken
"$mon" --to "127.0.0.1:$port" --duration 60 --count 200 --invalid-rate 0.5 --json >"$t/out.json" 2>"$t/err"
check "deliberately broken messages are sent and acknowledged but carry no reading" \
    "[ $? = 0 ] && [ $(field aa) = 200 ] && [ $(field readings) -lt 150 ] && [ $(field readings) -gt 50 ]"
check "among them an ADT^A01" "grep -q ' ADT^A01^ADT_A01 ' '$t/broken.log'"

stop_server
"$mon" --to "127.0.0.1:$port" --duration 60 --count 5 --duration 1 --ack-timeout-ms 200 --json \
    >"$t/out.json" 2>"$t/err"
check "no listener: exit 1, every message unacknowledged" \
    "[ $? = 1 ] && [ $(field unacknowledged) -ge 1 ] && [ $(field aa) = 0 ]"

"$mon" --count 5 >/dev/null 2>"$t/err"
check "no --to: exit 2 saying what to give" "[ $? = 2 ] && grep -q -- '--to HOST:PORT is required' '$t/err'"
"$mon" --to 127.0.0.1:1 --connections 5 --patients 2 >/dev/null 2>"$t/err"
check "fewer patients than connections: exit 2 saying so" "[ $? = 2 ] && grep -q 'raise --patients' '$t/err'"
exit $fail
