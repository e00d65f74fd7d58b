#!/usr/bin/env bash
# sink-kafka honours revisions (issue 26; docs/plugins/sink-kafka.md, "Revisions"), fed by
# sink_feed (records the host's decoder made, with logical id, version and revision set on them,
# until the decoders and the engine set them): a correction is produced like any reading; a
# retraction is a message of its own, keyed by patient like the rest, whose value is never null:
# with value = document the host's retraction document, with value = payload the
# entered-in-error resource as it came, or, for the engine's companion of a correction routed
# elsewhere (whose payload is the corrected reading), the retraction document.
. "$(dirname "$0")/lib.sh"
start_broker --topic revdoc:2 --topic revpay:2
feed="$BPPIPE_BUILD_DIR/tests/plugins/sink_feed"
so="$BPPIPE_BUILD_DIR/plugins/sink-kafka.so"
# ID PATIENT SYS DIA MINUTE CRITICAL LOGICAL_ID VERSION REVISION
printf '%s\n' 'a1 P1 190 125 0 1 L1 1 -' 'a1c P1 130 85 0 0 L1 2 replace' \
    'a1x P1 - - 1 0 L1 3 retract' 'a2c P1 150 95 2 0 L2 2 companion' >"$t/feed"

"$feed" "$so" -o "brokers=$BROKERS" -o topic=revdoc -o value=document <"$t/feed" >"$t/doc.out" 2>"$t/doc.err"
check "value = document: every record delivered" "[ $? = 0 ] && [ \$(grep -c delivered '$t/doc.out') = 4 ]"
kc -C -t revdoc -o beginning -e -f '%k\t%S\t%s\n' >"$t/doc.msgs"
check "value = document: the correction and both retractions are documents keyed by patient, in order" "/usr/bin/python3 - '$t/doc.msgs' <<'PY'
import json, sys
rows = [l.rstrip('\n').split('\t', 2) for l in open(sys.argv[1])]
assert len(rows) == 4, rows
assert all(k == 'P1' and int(size) > 0 for k, size, _ in rows), rows
docs = [json.loads(v) for _, _, v in rows]
assert [d.get('revision') for d in docs] == [None, 'replace', 'retract', 'retract'], docs
assert [d.get('logical_id') for d in docs] == ['L1', 'L1', 'L1', 'L2']
assert [d.get('version') for d in docs] == [1, 2, 3, 2]
assert docs[1]['systolic_pressure'] == 130 and 'systolic_pressure' not in docs[2]
PY"

"$feed" "$so" -o "brokers=$BROKERS" -o topic=revpay -o value=payload <"$t/feed" >"$t/pay.out" 2>"$t/pay.err"
check "value = payload: every record delivered" "[ $? = 0 ] && [ \$(grep -c delivered '$t/pay.out') = 4 ]"
kc -C -t revpay -o beginning -e -f '%k\t%S\t%s\n' >"$t/pay.msgs"
check "value = payload: payloads as they came, the companion as the retraction document" "/usr/bin/python3 - '$t/pay.msgs' <<'PY'
import json, sys
rows = [l.rstrip('\n').split('\t', 2) for l in open(sys.argv[1])]
assert len(rows) == 4 and all(k == 'P1' and int(size) > 0 for k, size, _ in rows), rows
vals = [json.loads(v) for _, _, v in rows]
assert [v.get('resourceType') for v in vals[:3]] == ['Observation'] * 3, vals
assert [v['id'] for v in vals[:3]] == ['a1', 'a1c', 'a1x']
assert 'resourceType' not in vals[3] and vals[3]['revision'] == 'retract', vals[3]
assert vals[3]['logical_id'] == 'L2' and 'systolic_pressure' not in vals[3]
PY"
exit $fail
