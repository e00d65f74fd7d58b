#!/usr/bin/env bash
# Installs the npm MLLP client the tests use (@medplum/hl7, pinned: the last major that runs on
# Debian 12's Node 18) into DIR (under the build tree), once. Exit 1 when npm cannot.
set -u
dir=$1
[ -f "$dir/node_modules/@medplum/hl7/package.json" ] && exit 0
command -v npm >/dev/null || { echo "npm_setup: npm is not installed (scripts/setup-debian.sh)" >&2; exit 1; }
mkdir -p "$dir"
timeout 300 npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
    @medplum/hl7@3.3.0 >"$dir/install.log" 2>&1 || {
    echo "npm_setup: npm install @medplum/hl7 failed; see $dir/install.log" >&2
    exit 1
}
