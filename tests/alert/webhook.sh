#!/usr/bin/env bash
# sink-alert against a local webhook that first fails, then accepts: every alert that should be
# sent reaches the receiver exactly once; repeats within the cooldown are suppressed and counted
# into the next alert; a rise in severity alerts at once; the bearer token comes from the
# environment and is never logged.
set -u
fail=0
t=$(mktemp -d)
trap 'kill $rx 2>/dev/null; rm -rf "$t"' EXIT
rx=
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
obs() { # obs ID PATIENT MINUTE SYS DIA
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-03-01T10:%02d:00Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"code":"mm[Hg]"}}]}\n' "$1" "$2" "$3" "$4" "$5"
}
{
    obs a1 A 0 190 125     # alert (crisis)
    obs a2 A 3 192 126     # suppressed (cooldown 10 min)
    obs a3 A 6 195 128     # suppressed
    obs b1 B 1 65 38       # alert (critical low), other patient
    obs n1 C 2 120 80      # normal: not on the critical route at all
    obs a4 A 12 191 124    # alert again: cooldown over, "2 further readings since"
    obs w1 D 20 165 95     # warning only: not critical, not on this route
} >"$t/in.ndjson"
/usr/bin/python3 "$(dirname "$0")/receiver.py" "$t/port" "$t/received" 2 60 &
rx=$!
for _ in $(seq 50); do [ -s "$t/port" ] && break; sleep 0.1; done
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
batch_size = 3
retry_initial_ms = 20
retry_max_ms = 100
[source.in]
plugin = source-file
path = $t/in.ndjson
[detector.rules]
plugin = detector-rules
[sink.alerts]
plugin = sink-alert
route = critical
webhook = http://127.0.0.1:$(cat "$t/port")/alerts
bearer_token = \${ALERT_TOKEN}
cooldown = 600
path = $t/alerts.ndjson
INI
ALERT_TOKEN=s3cret-token "$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err"
check "run exits 0 after the webhook recovers" "[ $? = 0 ] && grep -q 'will retry' '$t/err'"
check "three alerts delivered, each exactly once" "[ \$(wc -l <'$t/received') = 3 ] && [ \$(python3 -c 'import json,sys; print(len({json.loads(l)[\"id\"] for l in open(sys.argv[1])}))' '$t/received') = 3 ]"
check "the alerts are the crisis, the critical low and the repeat after the cooldown" "grep -q 'bp-alert-a1' '$t/received' && grep -q 'bp-alert-b1' '$t/received' && grep -q 'bp-alert-a4' '$t/received'"
check "the repeat reports what was suppressed" "grep 'bp-alert-a4' '$t/received' | grep -q '2 further readings since the last alert'"
check "alerts are FHIR DetectedIssues of the patient and Observation" "grep 'bp-alert-b1' '$t/received' | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"resourceType\"]==\"DetectedIssue\" and d[\"patient\"][\"reference\"]==\"Patient/B\" and d[\"implicated\"][0][\"reference\"]==\"Observation/b1\" and d[\"identifiedDateTime\"]==\"2026-03-01T10:01:00.000Z\" else 1)'"
check "the same alerts are in the file" "[ \$(wc -l <'$t/alerts.ndjson') = 3 ]"
check "the token is sent" "grep -q '^Bearer s3cret-token$' '$t/received.auth'"
check "and never logged" "! grep -q s3cret '$t/err'"
check "suppressed and sent are counted" "grep -q 'alerts_suppressed 2' '$t/err' && grep -q 'alerts_sent 3' '$t/err'"
check "the plugin's counters are in --summary-json" "python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))[\"counters\"][\"sink.alerts\"]; sys.exit(0 if c[\"alerts_sent\"]==3 and c[\"alerts_suppressed\"]==2 else 1)' '$t/sum.json'"
exit $fail
