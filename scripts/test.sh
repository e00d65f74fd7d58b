#!/usr/bin/env bash
# The whole test suite: install dependencies, build, run ctest; the same suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer, and again under ThreadSanitizer; then the
# decoder fuzzer.
# Usage: bash scripts/test.sh        (FUZZ_SECONDS=60 by default; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
jobs=$(nproc)

echo "== build and test (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build and test under ASan + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBPPIPE_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"

echo "== build and test under ThreadSanitizer"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DBPPIPE_TSAN=ON >/dev/null
cmake --build build-tsan -j"$jobs"
# Reports go to files: most tests keep the stderr of the processes they start, so a race would
# otherwise show only as exit status 66. Library noise is suppressed in tests/tsan.supp.
reports="$PWD/build-tsan/tsan-reports"
rm -rf "$reports" && mkdir -p "$reports"
tsan_options="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp"
tsan_options+=":log_path=$reports/tsan"
# Some kernels map with more ASLR entropy than TSan's memory layout allows ("FATAL:
# ThreadSanitizer: unexpected memory mapping"); then the suite runs with ASLR off.
tsan_run=()
if ! probe=$(TSAN_OPTIONS=halt_on_error=1 build-tsan/bppipe --version 2>&1); then
    if ! grep -q 'unexpected memory mapping' <<<"$probe"; then
        echo "$probe"
        exit 1
    fi
    echo "ThreadSanitizer cannot start with this kernel's ASLR: the suite runs under setarch -R"
    tsan_run=(setarch "$(uname -m)" -R)
fi
if ! TSAN_OPTIONS=$tsan_options "${tsan_run[@]}" \
        ctest --test-dir build-tsan --output-on-failure -j"$jobs"; then
    for f in "$reports"/*; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
    exit 1
fi
if compgen -G "$reports/*" >/dev/null; then
    echo "ThreadSanitizer reports from passing tests:"
    cat "$reports"/*
    exit 1
fi

fuzz=${FUZZ_SECONDS:-60}
if [ "$fuzz" != 0 ] && [ -f tests/fuzz/run.sh ]; then
    echo "== fuzz the decoder for ${fuzz}s"
    bash tests/fuzz/run.sh "$fuzz"
fi
echo "== all tests passed"
