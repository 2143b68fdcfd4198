#!/usr/bin/env bash
# Build dependencies that a fresh Debian machine may lack: pkg-config and OpenSSL headers, which
# the bundled libpq (pq-sys) builds against. SQLite and libpq themselves are built from source.
# Also Chromium and chromedriver for the browser tests, promtool, HAProxy and docker-compose
# (see below).
set -euo pipefail

missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
command -v cc >/dev/null 2>&1 || missing+=(gcc)

if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing build dependencies: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# The browser tests (tests/e2e/browser*.rs) drive Debian's headless Chromium through chromedriver.
# Nothing is downloaded at test time: both come from the distribution's packages.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "==> installing the browser for the browser tests: chromium chromium-driver"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver
fi

# The metrics test checks /metrics with Prometheus's own parser, `promtool`, which Debian ships in
# the `prometheus` package.
if ! command -v promtool >/dev/null 2>&1; then
    echo "==> installing promtool for the metrics test: prometheus"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus
fi

# The tests of several processes start a private redis-server (to kill it mid-session) and use
# redis-cli to inject messages; both come from Debian's redis-server package (redis-tools).
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    echo "==> installing Redis for the tests of several processes: redis-server"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server
fi

# The balancer test (tests/e2e/balancer.rs) and scripts/stack.sh run Debian's HAProxy (2.6 on
# bookworm, the version the compose stack's haproxy:2.6 image pins) with deploy/haproxy.cfg.
if [ ! -x /usr/sbin/haproxy ]; then
    echo "==> installing the balancer for the balancer test: haproxy"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends haproxy
fi

# The compose test (tests/e2e/compose.rs) validates docker-compose.yml offline with
# `docker-compose config -q`; Debian's package is Compose 1.29.2, which needs no Docker engine
# for that (without recommends: the engine itself is not wanted here).
if ! command -v docker-compose >/dev/null 2>&1; then
    echo "==> installing docker-compose for the compose file test"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker-compose
fi
