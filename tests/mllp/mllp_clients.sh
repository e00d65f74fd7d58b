#!/usr/bin/env bash
# Real MLLP clients against source-mllp: Debian's python3-hl7 (mllp_send) in original mode and
# @medplum/hl7 (npm) in enhanced mode (MSH-15 AL, as IHE PCD-01 writes it) each send PCD-01
# messages; every message gets its answer (AA / CA), every reading lands once in Elasticsearch
# and in the archive, and a client that closes before its answer and sends again adds nothing.
set -u
fail=0
t=$(mktemp -d)
trap '[ -n "$bp_pid" ] && kill -9 $bp_pid 2>/dev/null; es_stop_all; rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"
. "$BPPIPE_SOURCE_DIR/tests/mllp/lib.sh"
es_start main
mllp_ini "$t/p.ini" "$ES_PORT_main"
bp_start "$t/p.ini" "$t/err" --summary-json "$t/sum.json" || exit 1
port=$(cut -d: -f2 "$t/port")

# python3-hl7: 40 messages, original mode
"${TOOL[@]}" gen 40 "$t/py.mllp" --first 0
mllp_send -p "$port" -f "$t/py.mllp" 127.0.0.1 | tr '\r' '\n' >"$t/py.out"
check "mllp_send got an AA for each of its 40 messages" "[ \$(grep -c '^MSA|AA|M0000' '$t/py.out') = 40 ]"

# @medplum/hl7: 40 messages, enhanced mode (accept acknowledgement CA)
npm_dir="$BPPIPE_BUILD_DIR/npm-mllp"
expected=80
if bash "$BPPIPE_SOURCE_DIR/tests/mllp/npm_setup.sh" "$npm_dir"; then
    "${TOOL[@]}" gen 40 "$t/npm.mllp" --first 100 --mode enhanced
    NODE_PATH="$npm_dir/node_modules" node "$BPPIPE_SOURCE_DIR/tests/mllp/medplum_send.cjs" \
        "$t/port" "$t/npm.mllp" >"$t/npm.out" 2>&1
    check "@medplum/hl7 got a CA for each of its 40 messages" "[ \$(grep -c '^M0001[0-9][0-9] CA$' '$t/npm.out') = 40 ]"
else
    echo "SKIP @medplum/hl7 client: npm could not install it (no registry?); python3-hl7 still ran"
    expected=40
fi

# a client that closes before its answer, then sends the same message again
"${TOOL[@]}" gen 1 "$t/again.mllp" --first 500
/usr/bin/python3 -c "
import socket; h,p=open('$t/port').read().strip().rsplit(':',1)
s=socket.create_connection((h,int(p))); s.sendall(open('$t/again.mllp','rb').read()); s.close()"
wait_for 30 "[ \$(es_stats $ES_PORT_main documents) -ge $((expected + 1)) ]"
mllp_send -p "$port" -f "$t/again.mllp" 127.0.0.1 | tr '\r' '\n' >"$t/again.out"
check "the message sent again gets its AA" "grep -q '^MSA|AA|M000500' '$t/again.out'"
expected=$((expected + 1))

bp_stop
check "bppipe stops cleanly (exit 0)" "[ $? = 0 ]"
es_ids "$ES_PORT_main" >"$t/es_ids"
archive_ids >"$t/archive_ids"
check "Elasticsearch holds every reading once ($expected)" \
    "[ \$(wc -l <'$t/es_ids') = $expected ] && [ \$(sort -u '$t/es_ids' | wc -l) = $expected ]"
check "the archive holds the same readings" "cmp -s '$t/es_ids' '$t/archive_ids'"
check "the books balance: $((expected + 1)) messages in, every one a reading, none invalid" \
    "[ \$(j '$t/sum.json' \"d['readings_in']\") = $((expected + 1)) ] && [ \$(j '$t/sum.json' \"d['invalid']\") = 0 ] && [ \$(j '$t/sum.json' \"d['in_flight']\") = 0 ]"
check "the source counted every message" \
    "[ \$(j '$t/sum.json' \"d['counters']['source.mllp']['messages']\") = $((expected + 1)) ]"
[ $fail = 0 ] || { head -3 "$t/es_ids" "$t/archive_ids"; tail -n 20 "$t/err"; }
exit $fail
