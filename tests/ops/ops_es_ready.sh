#!/usr/bin/env bash
# /readyz against Elasticsearch going down (issue 14): the simulated ward of tests/es
# (tests/es/ward_lanes.sh) with http_listen; the emulator stops listening for 25 s. /readyz
# turns 503 naming sink.es within 20 s of the outage (ready_grace_ms at its default), /healthz stays
# 200, and /readyz is 200 again once Elasticsearch is back and the sink delivers.
set -u
fail=0
t=$(mktemp -d)
ward=
trap '[ -n "$ward" ] && kill -9 $ward 2>/dev/null; es_stop_all; rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"
. "$BPPIPE_SOURCE_DIR/tests/es/ward_lanes.sh"
code() { curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$addr$1"; }
es_start main
ward_ini "$t/ward.ini" "$ES_PORT_main" "path = $t/alerts.ndjson"
sed -i "s|^\[pipeline\]$|[pipeline]\nhttp_listen = 0\nhttp_port_file = $t/addr|" \
    "$t/ward.ini"
"$BPPIPE" run "$t/ward.ini" 2>"$t/err" &
ward=$!
for _ in $(seq 100); do [ -s "$t/addr" ] && break; sleep 0.1; done
addr=$(cat "$t/addr" 2>/dev/null)
for _ in $(seq 300); do [ "$(es_stats "$ES_PORT_main" documents)" -gt 0 ] && break; sleep 0.1; done
check "the ward delivers to Elasticsearch and /readyz is 200" \
      "[ \$(es_stats $ES_PORT_main documents) -gt 0 ] && [ \$(code /readyz) = 200 ]"
es_fault "$ES_PORT_main" '{"refuse_s": 25}'
down_at=$(date +%s.%N)
went=
for _ in $(seq 250); do
    [ "$(code /readyz)" = 503 ] && { went=$(date +%s.%N); break; }
    sleep 0.1
done
took=$(python3 -c "print(round(${went:-0} - $down_at, 1))")
check "/readyz turns 503 within 20 s of Elasticsearch going down (${took} s)" \
      "[ -n '$went' ] && python3 -c 'import sys; sys.exit(0 if $took <= 20 else 1)'"
body=$(curl -s -m 5 "http://$addr/readyz")
check "the reason names sink.es ($body)" \
      "[[ '$body' == '{\"ready\":false,\"reason\":\"sink.es failing for '*' s\"}' ]]"
check "/healthz stays 200 during the outage" "[ \$(code /healthz) = 200 ]"
back=
for _ in $(seq 600); do
    [ "$(code /readyz)" = 200 ] && { back=1; break; }
    sleep 0.1
done
check "/readyz is 200 again after Elasticsearch is back" "[ -n '$back' ]"
kill -TERM "$ward"
wait "$ward"
st=$?
ward=
check "the ward stops on SIGTERM, exit 0" "[ $st = 0 ]"
check "no sanitizer report" "! grep -q 'Sanitizer' '$t/err'"
[ $fail = 0 ] || tail -n 20 "$t/err"
exit $fail
