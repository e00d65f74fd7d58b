#!/usr/bin/env bash
# sink-alert makes the alarm events of a batch durable together (docs/plugins/sink-alert.md,
# `path`): 200 crisis readings of 200 patients in one batch raise 200 alarms, and their lines
# reach the file with a handful of fsyncs of it, not one each (issue 23 point 3: one fsync per
# event held the ward from Kafka near 15 000 readings/s). Every event is still written, whole,
# once, and the run's books count them all. The fsyncs are counted with strace.
set -u
. "$(dirname "$0")/../fhir_reading.sh"
command -v strace >/dev/null || { echo "strace is missing (scripts/setup-debian.sh installs it)"; exit 1; }
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }

n=200
for i in $(seq "$n"); do fhir_bp "r$i" "P$i" 190 125 2026-03-01T09:00:00Z; done >"$t/in.ndjson"
pipeline() { # ALARM_FILE
    cat <<INI
[pipeline]
stats_interval = 0
batch_size = 1000
[source.in]
plugin = source-file
path = $t/in.ndjson
[detector.rules]
plugin = detector-rules
[alarms]
crisis.match = category=hypertensive_crisis
crisis.priority = high
[sink.alarms]
plugin = sink-alert
route = alarm
path = $1
INI
}
pipeline "$t/alarms.ndjson" >"$t/p.ini"
"$BPPIPE" run "$t/p.ini" 2>"$t/err"
check "the run ended cleanly" "[ $? = 0 ]"
lines=$(wc -l <"$t/alarms.ndjson")
check "every alarm event was written once ($lines lines)" "[ '$lines' = $n ]"
check "each line is a whole DetectedIssue" \
    "[ \$(grep -c '^{\"resourceType\":\"DetectedIssue\".*}\$' '$t/alarms.ndjson') = $n ]"
check "the books count them all" "grep -q 'alarm_events_sent $n\$' '$t/err'"
# The same run under strace, into a file of its own (LeakSanitizer cannot run under ptrace: the
# leaks were checked by the run above).
pipeline "$t/traced.ndjson" >"$t/traced.ini"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -qq -y -e trace=fsync,fdatasync -o "$t/trace" "$BPPIPE" run "$t/traced.ini" \
    2>"$t/traced.err"
check "the traced run ended cleanly" "[ $? = 0 ]"
check "the traced run wrote every event" "[ \$(wc -l <'$t/traced.ndjson') = $n ]"
syncs=$(grep -c 'traced.ndjson>' "$t/trace")
echo "fsyncs of the alarm file: $syncs for $n events"
check "the batch's events were made durable together (fsyncs: $syncs)" \
    "[ '$syncs' -ge 1 ] && [ '$syncs' -le 5 ]"
[ "$fail" = 0 ] || { tail -5 "$t/err" "$t/traced.err"; exit 1; }
