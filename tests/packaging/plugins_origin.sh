#!/usr/bin/env bash
# `bppipe plugins` says where each plugin came from: the Debian package that installed it (read
# from dpkg's database, here a stand-in through DPKG_ADMINDIR) with its version, or the file.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
so="$BPPIPE_BUILD_DIR/plugins/sink-file.so"
real=$(realpath "$so")
mkdir -p "$t/dpkg/info"
printf '/.\n/usr\n%s\n' "$real" >"$t/dpkg/info/bppipe-test:amd64.list"
printf 'Package: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: %s\n\n' \
    bppipe-test 7.7-1 >"$t/dpkg/status"

DPKG_ADMINDIR="$t/dpkg" "$BPPIPE" plugins >"$t/list" 2>"$t/err"
check "plugins exits 0" "[ $? = 0 ]"
check "a packaged plugin names its package and version, then its file" \
    "grep -A1 '^sink-file ' '$t/list' | grep -qx ' *package bppipe-test 7\.7-1, $so'"
check "its own version is on its first line" \
    "grep -qE '^sink-file +sink +1\.[0-9]+\.[0-9]+ +ABI' '$t/list'"
check "a plugin no package owns is shown as a file" \
    "grep -A1 '^source-file ' '$t/list' |
     grep -qx ' *file $BPPIPE_BUILD_DIR/plugins/source-file\.so'"
check "every plugin has its origin line" \
    "[ \$(grep -cE '^ +(file|package) ' '$t/list') = \$(grep -cE '^[a-z]' '$t/list') ]"
DPKG_ADMINDIR="$t/dpkg" "$BPPIPE" plugins sink-file >"$t/one" 2>&1
check "plugins NAME names the package" \
    "grep -qx '  package: bppipe-test 7\.7-1' '$t/one' && grep -q 'file: $so' '$t/one'"
DPKG_ADMINDIR="$t/dpkg" "$BPPIPE" plugins source-file >"$t/one" 2>&1
check "plugins NAME says when no package owns it" "grep -q '  package: none' '$t/one'"

# no dpkg database at all (not Debian): everything is a file, nothing fails
DPKG_ADMINDIR="$t/no-such-dir" "$BPPIPE" plugins >"$t/list" 2>"$t/err"
check "with no dpkg database plugins still exits 0" "[ $? = 0 ] && [ ! -s '$t/err' ]"
check "and shows every plugin as a file" \
    "! grep -qE '^ +package ' '$t/list' && grep -A1 '^sink-file ' '$t/list' | grep -qx ' *file $so'"
# an unreadable list is skipped, not fatal (root reads everything, so only as a user)
if [ "$(id -u)" != 0 ]; then
    chmod 000 "$t/dpkg/info/bppipe-test:amd64.list"
    DPKG_ADMINDIR="$t/dpkg" "$BPPIPE" plugins >"$t/list" 2>&1
    check "an unreadable list is skipped" \
        "[ $? = 0 ] && grep -A1 '^sink-file ' '$t/list' | grep -q ' file '"
fi
exit $fail
