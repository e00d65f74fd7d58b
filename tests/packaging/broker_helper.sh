#!/usr/bin/env bash
# `bppipe broker` runs the helper bppipe-broker (tools/broker), the one executable that links
# librdkafka: bppipe links none; the build tree's broker answers --help; a bppipe with no helper
# beside it or in ../lib/bppipe/ exits 2 with one line naming the bppipe-kafka package; one with
# a helper there replaces itself with it (same process, same arguments).
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }

check "bppipe links no librdkafka" "ldd '$BPPIPE' >'$t/ldd' && ! grep -q rdkafka '$t/ldd'"
check "bppipe-broker does" "ldd '$BPPIPE_BROKER' | grep -q librdkafka"

"$BPPIPE" broker --help >"$t/help" 2>"$t/help.err"
check "the build tree's bppipe broker --help exits 0 with the broker's usage" \
    "[ $? = 0 ] && head -n1 '$t/help' | grep -q '^usage: bppipe broker ' && [ ! -s '$t/help.err' ]"

# a bppipe alone, as in a root where bppipe-kafka is not installed
mkdir -p "$t/usr/bin" "$t/usr/lib/bppipe/plugins"
cp "$BPPIPE" "$t/usr/bin/bppipe"
"$t/usr/bin/bppipe" broker --quiet >"$t/out" 2>"$t/err"
st=$?
check "without the helper, bppipe broker exits 2" "[ $st = 2 ] && [ ! -s '$t/out' ]"
check "  with one line naming the package and the helper's path" \
    "[ \$(wc -l <'$t/err') = 1 ] && grep -q 'bppipe-kafka package' '$t/err' &&
     grep -qF '$t/usr/lib/bppipe/bppipe-broker,' '$t/err'" || cat "$t/err"
"$t/usr/bin/bppipe" help broker >/dev/null 2>"$t/err"
check "  bppipe help broker too" "[ $? = 2 ] && grep -q 'bppipe-kafka package' '$t/err'"

# a stand-in helper in ../lib/bppipe/: what it is run as, with which arguments, by whom
cat >"$t/usr/lib/bppipe/bppipe-broker" <<'SH'
#!/bin/sh
printf '%s\n' "$0" "$PPID" "$@"
exit 7
SH
chmod +x "$t/usr/lib/bppipe/bppipe-broker"
"$t/usr/bin/bppipe" broker --topic 'a b:2' --quiet >"$t/out" 2>"$t/err"
st=$?
printf '%s\n' "$t/usr/lib/bppipe/bppipe-broker" $$ 'a b:2' >"$t/want"
sed -i '3i --topic' "$t/want"
echo --quiet >>"$t/want"
check "with the helper in ../lib/bppipe/, bppipe broker ARGS becomes it with ARGS (exit 7)" \
    "[ $st = 7 ] && cmp -s '$t/want' '$t/out'" || { diff "$t/want" "$t/out"; cat "$t/err"; }
exit $fail
