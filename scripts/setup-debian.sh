#!/usr/bin/env bash
# Installs what bppipe needs to build and test on Debian 12. Run as root; safe to run again.
set -euo pipefail
packages=(
    build-essential cmake pkg-config      # toolchain
    dpkg-dev                              # dpkg-shlibdeps: the packages' Depends (docs/packaging.md)
    libcjson-dev libinih-dev              # core: FHIR/JSON and INI pipelines
    libcurl4-openssl-dev zlib1g-dev       # sink-alert webhooks, sink-es (gzip bodies)
    libssl-dev                            # source-mllp's TLS (only that plugin links OpenSSL)
    curl openssl                          # Elasticsearch tests: emulator control, TLS certs
    strace                                # tests/alert/alert_sync_batch.sh counts fsyncs with it
    clang libclang-rt-14-dev              # libFuzzer harness for the decoder
    python3 python3-sklearn python3-yaml  # test scripts; scikit-learn cross-checks bppipe train
    python3-hl7                           # HL7 v2 parser, MLLP client (mllp_send): not ours
    libxgboost-dev python3-xgboost        # detector-xgboost, `bppipe train --model gbtree`; Python cross-check
    librdkafka-dev kcat                   # Kafka source/sink, embedded broker, Kafka tests
    libmicrohttpd-dev                     # the http listener: /metrics, /healthz, /readyz
    prometheus                            # promtool and a real Prometheus in tests/ops
    systemd                               # systemd-analyze verify of deploy/systemd's unit
    chromium                              # headless browser of the live page's test (tests/live)
)
# tests/mllp also drives @medplum/hl7's MLLP client, installed with npm under the build tree by
# tests/mllp/npm_setup.sh; Node and npm from Debian unless a Node that brings its own npm is
# installed already (NodeSource's nodejs package conflicts with Debian's npm).
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bppipe setup: missing packages: ${missing[*]}; run this script as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "bppipe setup: build dependencies present"
