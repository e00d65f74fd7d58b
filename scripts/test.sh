#!/usr/bin/env bash
# The whole test suite: install dependencies, build, run ctest; the same suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer; then the decoder fuzzer.
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

fuzz=${FUZZ_SECONDS:-60}
if [ "$fuzz" != 0 ] && [ -f tests/fuzz/run.sh ]; then
    echo "== fuzz the decoder for ${fuzz}s"
    bash tests/fuzz/run.sh "$fuzz"
fi
echo "== all tests passed"
