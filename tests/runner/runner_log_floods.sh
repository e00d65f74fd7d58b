#!/usr/bin/env bash
# Messages that used to be said once per occurrence are said once a while, with the count kept
# where it belongs:
#  1. invalid payloads with no sink for route = invalid: one warning (the same words every time,
#     rate-limited by the host), every one of them counted in the summary (invalid_unrouted);
#  2. a pipeline with more sink sections than the 64 allowed: one error naming the first section
#     past the limit and how many follow it, not one per section.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
j() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }

# 1. half of 4 000 payloads broken, nowhere to put them (the run takes well under 10 s)
cat >"$t/invalid.ini" <<INI
[pipeline]
stats_interval = 0
[source.ward]
plugin = source-faker
patients = 20
seed = 7
invalid_rate = 0.5
rate = 0
[detector.rules]
plugin = detector-rules
[sink.out]
plugin = sink-file
route = all
path = $t/out
INI
"$BPPIPE" run "$t/invalid.ini" --max-records 4000 --summary-json "$t/invalid.json" 2>"$t/invalid.err"
check "1: the run exits 0" "[ $? = 0 ]"
unrouted=$(j "$t/invalid.json" "d['invalid_unrouted']")
check "1: many invalid payloads had no sink ($unrouted)" "[ $unrouted -gt 1000 ]"
check "1: all of them are in the books as invalid" "[ $unrouted = \$(j '$t/invalid.json' \"d['invalid']\") ]"
warned=$(grep -c 'warn  \[core\] invalid payload' "$t/invalid.err")
# one line per 10 s at most: one here, a few under a sanitizer on a loaded machine
check "1: said in a line a while, not one per payload ($warned lines)" \
    "[ $warned -ge 1 ] && [ $warned -le 3 ]"
check "1: saying what to do, the count left to the books" \
    "grep -q 'warn  \[core\] invalid payloads are not kept: no sink has route = invalid (the summary counts them, by reason); add one to keep them as dead letters' '$t/invalid.err'"
check "1: and no reason or payload above debug" "! grep -q 'invalid payload not kept' '$t/invalid.err'"

# 2. 300 sink sections
{
    printf '[source.ward]\nplugin = source-faker\n'
    for i in $(seq 0 299); do printf '[sink.s%d]\nplugin = sink-file\npath = %s/s%d\n' $i "$t" $i; done
} >"$t/many.ini"
"$BPPIPE" check --offline "$t/many.ini" >"$t/many.out" 2>&1
check "2: the file is refused (exit 2)" "[ $? = 2 ]"
check "2: in one error naming the first section past the limit and how many follow" \
    "grep -q 'many.ini:[0-9]*: \[sink.s64\] and 235 more sink section(s) after it: a pipeline has at most 64 sinks' '$t/many.out'"
check "2: one problem, not 236 ($(wc -l <"$t/many.out") lines)" \
    "[ \$(grep -c 'sink' '$t/many.out') = 1 ] && grep -q ': 1 problem found' '$t/many.out'"
[ $fail = 0 ] || { cat "$t/many.out" | head -5; tail -n 5 "$t/invalid.err"; }
exit $fail
