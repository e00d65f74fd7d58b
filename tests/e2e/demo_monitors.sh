#!/usr/bin/env bash
# scripts/demo-monitors.sh, the monitor -> gateway -> Kafka -> ward loop, without its install and
# build steps (BPPIPE_DEMO_SKIP_SETUP=1 with this build), for a few seconds: it exits 0 only when
# its books balance (every reading the monitors saw acknowledged AA went to Kafka and was read
# by the ward into anomaly + normal + dead letters, the files hold as many, every AE/AR is a
# gateway dead letter); the test reads the report's numbers again and checks that nothing it
# started is left running.
set -u
fail=0
t=$(mktemp -d)
cleanup() {
    local pids
    pids=$(pgrep -f "$t/") && kill -TERM $pids 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
export BPPIPE_BUILD=$BPPIPE_BUILD_DIR BPPIPE_DEMO_SKIP_SETUP=1 BPPIPE_DEMO_DIR=$t/out
export BPPIPE_DEMO_RATE=5 BPPIPE_DEMO_PATIENTS=10 BPPIPE_DEMO_MONITORS=4
unset ES_URL
(cd "$BPPIPE_SOURCE_DIR" && exec timeout 300 bash scripts/demo-monitors.sh 6) >"$t/demo.out" 2>&1
rc=$?
cat "$t/demo.out"
check "the demo exits 0 (its books balance)" "[ $rc = 0 ]"
sed -n 's/^  the books: //p' "$t/demo.out" >"$t/books"
check "the report's books" "/usr/bin/python3 - '$t/books' <<'PY'
import re, sys
text = open(sys.argv[1]).read()
n = [int(x) for x in re.findall(r'\d+', text)]
aa, kafka, ward, an, no, dl, fl, bad, gw_dead = n
sys.exit(0 if aa == kafka == ward == an + no + dl and aa > 100 and an > 0 and fl == 0
         and bad == gw_dead and 'DO NOT' not in text else 1)
PY"
check "the monitors heard an ACK for every message" "grep -q ' 0 unacknowledged' '$t/demo.out'"
check "the ward's documents came from HL7 v2 messages through Kafka" \
    "grep -q '^  through Kafka: every document the ward wrote came from an HL7 v2 message' '$t/demo.out'"
for who in broker ward gateway monitors; do
    pid=$(sed -n "s/^bppipe demo: $who *pid \([0-9]*\).*/\1/p" "$t/demo.out")
    check "the $who ($pid) is gone" "[ -n '$pid' ] && ! kill -0 '$pid' 2>/dev/null"
done
check "no process has the demo's folder in its command line" "! pgrep -f '$t/' >/dev/null"
exit $fail
