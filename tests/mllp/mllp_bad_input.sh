#!/usr/bin/env bash
# Bad input on one connection, each case followed by a good message on the same connection: a
# frame cut short, binary garbage, an oversized frame, wrong delimiters, a message that is not
# ORU^R01, an OBX without a value, JSON in a frame, a frame without its end block. Each is
# answered AR or AE with a reason and dead-lettered with that same reason as its invalid_reason
# (the frame its payload, undecoded); every good message after it is answered AA
# and stored; the ward goes on.
set -u
fail=0
t=$(mktemp -d)
trap '[ -n "$bp_pid" ] && kill -9 $bp_pid 2>/dev/null; es_stop_all; rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"
. "$BPPIPE_SOURCE_DIR/tests/mllp/lib.sh"
es_start main
mllp_ini "$t/p.ini" "$ES_PORT_main" "max_frame_bytes = 65536" "max_connections = 2" \
    "idle_timeout_s = 2"
bp_start "$t/p.ini" "$t/err" --summary-json "$t/sum.json" || exit 1
"${TOOL[@]}" bad "$t/port" 65536 >"$t/out" 2>"$t/tool.err"
answer() { grep "^$1 $2 $3" "$t/out" | head -1; }
check "a cut frame is answered AR with the reason" "answer cut AR M000001 | grep -q 'frame cut short'"
check "a frame over max_frame_bytes is answered AR with the reason" \
    "answer oversized AR M000003 | grep -q 'over max_frame_bytes = 65536'"
check "wrong delimiters are answered AR" "answer delimiters AR - | grep -q 'MSH-2'"
check "ADT^A01 is answered AR: not ORU^R01" "answer not_oru AR ADT1 | grep -q 'not ORU'"
check "an OBX without a value is answered AE with the decoder's reason" \
    "answer obx_no_value AE M000007 | grep -qi 'value'"
check "JSON in a frame is answered AR: not HL7 v2" "answer not_hl7 AR - | grep -q 'not HL7 v2'"
check "a frame the sender ended without its end block is answered AR once the sender closes" \
    "answer no_end_block AR M000010 | grep -q 'before its end block'"
check "every good message after a bad one is answered AA (7)" \
    "[ \$(grep -c ' AA M9000' '$t/out') = 7 ]"
check "garbage between frames is skipped: the next frame is answered AA" "answer garbage AA M900002"
# limits: a third connection over max_connections = 2 is closed at once while the two others stay
# open; a silent connection is closed after idle_timeout_s
/usr/bin/python3 - "$t/port" >"$t/limits" <<'PY'
import socket, sys, time
host, port = open(sys.argv[1]).read().strip().rsplit(":", 1)
a = socket.create_connection((host, int(port)))
b = socket.create_connection((host, int(port)))
c = socket.create_connection((host, int(port)))
c.settimeout(30)
print("third_closed", c.recv(1) == b"")
a.setblocking(False)
try:
    print("first_open", a.recv(1) != b"")
except BlockingIOError:
    print("first_open", True)
a.settimeout(30)
start = time.time()
print("idle_closed", a.recv(1) == b"", round(time.time() - start, 1))
PY
check "a connection over max_connections is closed at once, the others stay" \
    "grep -q 'third_closed True' '$t/limits' && grep -q 'first_open True' '$t/limits'"
check "a silent connection is closed after idle_timeout_s" "grep -q 'idle_closed True' '$t/limits'"
bp_stop
check "bppipe stops cleanly (exit 0)" "[ $? = 0 ]"
check "the 7 good messages are stored" "[ \$(es_ids $ES_PORT_main | sort -u | wc -l) = 7 ]"
check "nothing of a rejected frame was decoded (no skipped resource)" \
    "[ \$(j '$t/sum.json' \"d.get('skipped', 0)\") = 0 ]"
check "the 7 bad messages are dead letters with their reasons" \
    "[ \$(cat '$t'/dead/*.ndjson | wc -l) = 7 ] && [ \$(j '$t/sum.json' \"d['invalid']\") = 7 ]"
# Each dead letter names its own reason (the source's, handed with add_rejected, or for the OBX
# the decoder's) and keeps the frame's bytes as they came, nothing put before them.
/usr/bin/python3 - "$t" >"$t/reasons" 2>&1 <<'PY'
import glob, json, sys
dead = [json.loads(l) for p in sorted(glob.glob(sys.argv[1] + "/dead/*.ndjson")) for l in open(p)]
reasons = sorted(x.get("invalid_reason", "") for x in dead)
want = ["frame cut short", "over max_frame_bytes = 65536", "MSH-2", "not ORU^R01",
        "OBX", "not HL7 v2", "the connection ended after"]
print("reasons", reasons)
print("each_named", all(sum(w in r for r in reasons) == 1 for w in want))
print("none_json", not any("not JSON" in r for r in reasons))
print("bytes_kept", all(not x.get("payload", "").startswith("source-mllp") for x in dead)
      and [x["payload"][:4] for x in dead if "not ORU^R01" in x["invalid_reason"]] == ["MSH|"])
PY
check "each dead letter's invalid_reason is its real reason (cut, oversized, MSH-2, not ORU^R01, OBX, not HL7 v2, no end block)" \
    "grep -q 'each_named True' '$t/reasons' && grep -q 'none_json True' '$t/reasons'"
check "a dead letter's payload is the frame's bytes, no line put before them" \
    "grep -q 'bytes_kept True' '$t/reasons'"
check "the garbage was counted" \
    "[ \$(j '$t/sum.json' \"d['counters']['source.mllp']['garbage_bytes']\") -gt 200 ]"
check "the refused and the idle connections were counted" \
    "[ \$(j '$t/sum.json' \"d['counters']['source.mllp']['connections_refused']\") = 1 ] && [ \$(j '$t/sum.json' \"d['counters']['source.mllp']['connections_idle_closed']\") -ge 2 ]"
[ $fail = 0 ] || { cat "$t/out" "$t/tool.err" "$t/reasons"; tail -n 20 "$t/err"; }
exit $fail
