#!/usr/bin/env bash
# deploy/prometheus/bppipe-rules.yml: promtool check rules accepts it, and promtool test rules
# (tests/ops/rules_test.yml) fires each alert when it should and not before; a rule with a
# changed threshold fails that test, so the test reads the shipped rules.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }
rules="$BPPIPE_SOURCE_DIR/deploy/prometheus/bppipe-rules.yml"
cp "$rules" "$t/bppipe-rules.yml"
cp "$BPPIPE_SOURCE_DIR/tests/ops/rules_test.yml" "$t/"
check "promtool check rules accepts the shipped rules" \
      "promtool check rules '$t/bppipe-rules.yml' >'$t/check.out' 2>&1"
check "the shipped rules name the four alerts" \
      "[ \$(grep -c '^      - alert: Bppipe' '$t/bppipe-rules.yml') = 4 ]"
check "promtool test rules: each alert fires when it should" \
      "(cd '$t' && promtool test rules rules_test.yml >'$t/test.out' 2>&1)"
sed -i 's/bppipe_sink_failing_seconds >= 300/bppipe_sink_failing_seconds >= 3000/' \
    "$t/bppipe-rules.yml"
check "a rule changed on purpose fails the same test" \
      "! (cd '$t' && promtool test rules rules_test.yml >/dev/null 2>&1)"
[ $fail = 0 ] || cat "$t/check.out" "$t/test.out"
exit $fail
