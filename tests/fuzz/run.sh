#!/usr/bin/env bash
# Fuzzes the payload decoder (FHIR and HL7 v2, src/decode) with libFuzzer under ASan + UBSan for
# N seconds (default 60), seeded with the FHIR examples and the HL7 v2 messages of tests/data and
# tests/fuzz/seeds. Fails on any crash, leak or timeout.
# Usage: bash tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
if ! command -v clang >/dev/null; then
    echo "fuzz: clang is not installed (scripts/setup-debian.sh installs it)" >&2
    exit 1
fi
out=build-fuzz
mkdir -p "$out"
# The decoders (src/decode, src/hl7v2, src/fhir) and what they need below them (src/base,
# lib/hl7v2, lib/common), built straight into the fuzzer: no CMake round trip. The layering keeps
# this list short.
clang -std=c11 -g -O1 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Iinclude -Isrc -Ilib tests/fuzz/fuzz_decode.c src/decode/*.c src/hl7v2/*.c src/fhir/*.c src/base/*.c \
    lib/hl7v2/*.c lib/common/*.c \
    $(pkg-config --cflags --libs libcjson) -lm -pthread -o "$out/fuzz_decode"
corpus="$out/corpus"
rm -rf "$corpus"
mkdir -p "$corpus"
cp tests/fuzz/seeds/* "$corpus/"
cp tests/data/fhir-examples/*.json "$corpus/"
cp tests/data/hl7v2/*.hl7 "$corpus/"
echo "fuzz: $(ls "$corpus" | wc -l) seeds, ${seconds}s"
# -timeout: one input taking over 10 s is a hang; -rss_limit_mb bounds memory.
"$out/fuzz_decode" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=262144 -print_final_stats=1 -artifact_prefix="$out/" 2>"$out/fuzz.log" || {
    tail -n 60 "$out/fuzz.log" >&2
    echo "fuzz: FAILED (artifacts in $out/)" >&2
    exit 1
}
grep -E "DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$out/fuzz.log"
echo "fuzz: no crash, leak or timeout in ${seconds}s"
