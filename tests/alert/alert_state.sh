#!/usr/bin/env bash
# sink-alert's cooldowns live in the host's keyed state: with state_file (a source without its
# own state, source-file here) a second run continues them, so a repeat within the cooldown is
# suppressed across the restart and counted into the alert after it; without state_file the
# second run alerts again; a damaged file is ignored with a warning.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
obs() { # obs ID PATIENT MINUTE SYS DIA
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-03-01T10:%02d:00Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"code":"mm[Hg]"}}]}\n' "$1" "$2" "$3" "$4" "$5"
}
obs a1 A 0 190 125 >"$t/run1.ndjson"   # alert (crisis)
obs a2 A 3 192 126 >"$t/run2.ndjson"   # within the 10-minute cooldown: suppressed
obs a3 A 12 191 124 >"$t/run3.ndjson"  # after it: alert, "1 further reading since"
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
[source.in]
plugin = source-file
path = $t/run1.ndjson
[detector.rules]
plugin = detector-rules
[sink.alerts]
plugin = sink-alert
route = critical
cooldown = 600
path = $t/alerts.ndjson
state_file = $t/cooldown.state
INI
run() { "$BPPIPE" run "$t/p.ini" -o source.in.path="$t/$1.ndjson" "${@:2}" 2>"$t/err.$1"; }
run run1
check "run 1 alerts and the host writes the cooldowns" "[ $? = 0 ] && [ \$(wc -l <'$t/alerts.ndjson') = 1 ] && [ -s '$t/cooldown.state' ]"
run run2
check "run 2 restores the cooldowns (two reasons, two keys, and the alert remembered under its logical id) and suppresses the repeat" "[ $? = 0 ] && grep -q 'restored 3 keys from' '$t/err.run2' && [ \$(wc -l <'$t/alerts.ndjson') = 1 ] && grep -q 'alerts_suppressed 1' '$t/err.run2'"
run run3
check "run 3 alerts after the cooldown, counting the reading run 2 suppressed" "[ $? = 0 ] && [ \$(wc -l <'$t/alerts.ndjson') = 2 ] && tail -n1 '$t/alerts.ndjson' | grep -q 'bp-alert-a3' && tail -n1 '$t/alerts.ndjson' | grep -q '1 further reading since the last alert'"
rm -f "$t/alerts.ndjson"
run run1 -o sink.alerts.state_file=
run run2 -o sink.alerts.state_file=
check "without state_file the second run alerts again" "[ \$(wc -l <'$t/alerts.ndjson') = 2 ]"
rm -f "$t/alerts.ndjson"
echo garbage >"$t/cooldown.state"
run run2
check "a damaged file is ignored with a warning: run 2 alerts" "[ $? = 0 ] && grep -q 'ignoring the state snapshot' '$t/err.run2' && [ \$(wc -l <'$t/alerts.ndjson') = 1 ]"
exit $fail
