#!/usr/bin/env bash
# bppipe conform against plugins that break the contract on purpose (tests/conform/
# detector_broken.c, sink_broken.c, source_broken.c, detector_bad_table.c): each way of breaking
# it fails the check that covers it, by name, while the other checks still run and the kit ends
# with its count; usage errors exit 2.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
SO="$CONFORM_PLUGIN_DIR/detector-broken.so"
# The crashes here are on purpose: under ThreadSanitizer its report of them goes to this test's
# own folder, not to the suite's report folder (scripts/test.sh fails on any report there).
export TSAN_OPTIONS="${TSAN_OPTIONS:-}:log_path=$t/tsan-expected"

conform() { "$BPPIPE" conform --cycles 50 "$@" >"$t/out" 2>"$t/err"; rc=$?; sed 's/^/    /' "$t/out"; }

# The case: a NULL dereference on a reading without a systolic value.
conform "$SO"
check "a crash on a reading without systolic exits 1" "[ $rc = 1 ]"
check "and names the check missing_values and the reading" "grep -q '^FAIL missing_values: crashed: .* while detect() judged cf-missing-sys (systolic nan' '$t/out'"
check "the crash fails only that check" "[ \$(grep -c '^FAIL ' '$t/out') = 1 ]"
check "the checks after it still ran and passed" "grep -q '^ok   verdicts' '$t/out' && grep -q '^ok   cycles' '$t/out'"
check "the closing line counts them" "tail -1 '$t/out' | grep -Eq '^[0-9]+ passed, 1 failed$'"

conform "$SO" -o crash=abort
check "abort(): killed by signal 6, named" "[ $rc = 1 ] && grep -q '^FAIL missing_values: crashed: killed by signal 6' '$t/out'"

conform "$SO" -o crash=hang --timeout 2
check "a hang times out, named" "[ $rc = 1 ] && grep -q '^FAIL missing_values: timed out after 2 s' '$t/out'"

conform "$SO" -o crash=none
check "without the crash every check passes" "[ $rc = 0 ] && tail -1 '$t/out' | grep -Eq '^[0-9]+ passed, 0 failed$'"

conform "$SO" -o crash=none -o write_in_open=true
check "a file written in open() fails check_mode, naming it" "[ $rc = 1 ] && grep -q '^FAIL check_mode: .*conform-broken.txt (22 bytes)' '$t/out'"
check "and nothing is left in the working directory" "[ ! -e conform-broken.txt ]"

conform "$SO" -o crash=none -o bad_reason=true
check "a reason code the host refuses fails verdicts" "[ $rc = 1 ] && grep -q \"^FAIL verdicts: flag('Bad Reason!') answered -3\" '$t/out'"

conform "$SO" -o crash=none -o leak=true --cycles 300
# A plain build (and ThreadSanitizer) sees the resident memory grow over the cycles; under
# AddressSanitizer the leak check at the end of the first check's process (open_close) finds
# it first: an exit status, or SIGABRT with ASAN_OPTIONS=abort_on_error=1 (as scripts/test.sh).
check "1 MiB leaked per open fails, named" "[ $rc = 1 ] && grep -Eq '^FAIL (cycles: resident memory grew|open_close: passed, but its process then (exited|ended))' '$t/out'"

conform "$SO" -o crash=none --check descriptor --check cycles
check "--check runs only the checks named" "[ $rc = 0 ] && [ \$(grep -c '^ok ' '$t/out') = 2 ]"

# A malformed descriptor and option table, which the loader takes.
conform "$CONFORM_PLUGIN_DIR/detector-bad-table.so"
check "a detector with flush() fails descriptor" "[ $rc = 1 ] && grep -q '^FAIL descriptor: a detector plugin sets flush()' '$t/out'"
check "a default outside its bounds fails options" "grep -q \"^FAIL options: a default does not validate: .*key 'window': 5 is out of bounds \\[10, 20\\]\" '$t/out'"

# A sink breaking one rule at a time: the correct one passes, each other mode fails by name.
SINK="$CONFORM_PLUGIN_DIR/sink-broken.so"
conform "$SINK"
check "the sink done right passes" "[ $rc = 0 ] && tail -1 '$t/out' | grep -Eq '^[0-9]+ passed, 0 failed$'"
conform "$SINK" -o mode=fatal_on_missing
check "BP_FATAL on a reading without systolic fails missing_values" "[ $rc = 1 ] && grep -q '^FAIL missing_values: write() of 5 records answered -2' '$t/out' && [ \$(grep -c '^FAIL ' '$t/out') = 1 ]"
conform "$SINK" -o mode=no_reason
check "a rejection without a reason fails the writes" "[ $rc = 1 ] && grep -q '^FAIL outcomes_retry: set_outcome(2) answered -3' '$t/out'"
conform "$SINK" -o mode=verdict
check "a sink calling flag() fails" "[ $rc = 1 ] && grep -q '^FAIL single_reading: a sink called flag()' '$t/out'"
conform "$SINK" -o mode=retry --timeout 20
check "a sink that never delivers fails, hinting at its service" "[ $rc = 1 ] && grep -q '^FAIL outcomes_retry: 10 of 10 records still undelivered after 8 writes' '$t/out'"
conform "$SINK" -o mode=socket
check "a socket left open after close fails check_mode and cycles" "[ $rc = 1 ] && grep -q '^FAIL check_mode: descriptor [0-9]* (socket:' '$t/out' && grep -q '^FAIL cycles: open descriptors grew' '$t/out'"
conform "$SINK" -o mode=thread
check "a thread left running after close fails check_mode and cycles" "[ $rc = 1 ] && grep -q '^FAIL check_mode: 1 thread started in check mode still runs' '$t/out' && grep -q '^FAIL cycles: threads grew' '$t/out'"

# A source breaking one rule at a time.
SOURCE="$CONFORM_PLUGIN_DIR/source-broken.so"
conform "$SOURCE"
check "the source done right passes, commits included" "[ $rc = 0 ] && grep -q '^ok   commit_order (.*BP_CAP_BATCH_COMMIT' '$t/out'"
conform "$SOURCE" -o mode=overfill
check "a batch filled past its capacity fails capacity" "[ $rc = 1 ] && grep -q '^FAIL capacity: poll() 1 added 4 payloads to a batch of capacity 3' '$t/out'"
conform "$SOURCE" -o mode=slow
check "a poll past its timeout fails timeout" "[ $rc = 1 ] && grep -q '^FAIL timeout: poll() with timeout_ms 0 took' '$t/out'"
conform "$SOURCE" -o mode=backwards
check "positions going back fail commit_order" "[ $rc = 1 ] && grep -q '^FAIL commit_order: batch 2: offset' '$t/out'"
conform "$SOURCE" -o mode=fatal_commit
check "a commit answering BP_FATAL fails commit_order" "[ $rc = 1 ] && grep -q '^FAIL commit_order: commit() of batch 1 answered -2' '$t/out'"

# Usage errors: exit 2 with a clear line, no check run.
"$BPPIPE" conform detector-nonesuch >"$t/out" 2>"$t/err"
check "an unknown plugin exits 2" "[ $? = 2 ] && grep -q \"plugin 'detector-nonesuch' not found\" '$t/err' && [ ! -s '$t/out' ]"
"$BPPIPE" conform "$SO" -o crsh=none >"$t/out" 2>"$t/err"
check "an unknown option exits 2 with a did-you-mean" "[ $? = 2 ] && grep -q \"did you mean 'crash'\" '$t/err'"
"$BPPIPE" conform "$SO" -o crash=sometimes >"$t/out" 2>"$t/err"
check "an option's bad value exits 2" "[ $? = 2 ] && grep -q 'is not one of none|segv|abort|hang' '$t/err'"
"$BPPIPE" conform "$t/missing.so" >"$t/out" 2>"$t/err"
check "a path that is not there exits 2" "[ $? = 2 ] && grep -q 'cannot read plugin file' '$t/err'"
"$BPPIPE" conform >"$t/out" 2>"$t/err"
check "no plugin is a usage error" "[ $? = 2 ]"

# A plugin with a required option and none given: open_close names it, the rest is skipped.
"$BPPIPE" conform sink-file >"$t/out" 2>"$t/err"
check "required options not given: exit 1, open_close says which" "[ $? = 1 ] && grep -q '^FAIL open_close: the plugin has required options; pass -o path=' '$t/out'"
check "and the checks that need an instance are skipped" "grep -q '^skip empty_batch: ' '$t/out' && tail -1 '$t/out' | grep -Eq 'failed, [0-9]+ skipped$'"
exit $fail
