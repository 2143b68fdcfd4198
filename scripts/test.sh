#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need on a fresh machine first.
#
# PostgreSQL variants of the end-to-end tests run when TEST_DATABASE_URL is set
# (e.g. postgres://postgres@127.0.0.1:5432/test); otherwise they are reported as ignored.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-deps.sh

if [ -n "${TEST_DATABASE_URL:-}" ]; then
    scripts/ensure-services.sh
    echo "==> PostgreSQL tests: ON (TEST_DATABASE_URL=${TEST_DATABASE_URL})"
else
    echo "############################################################################"
    echo "## PostgreSQL tests SKIPPED: TEST_DATABASE_URL is not set.                 ##"
    echo "## They show as 'ignored' below. To run them:                              ##"
    echo "##   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test $0"
    echo "############################################################################"
fi

if [ -n "${TEST_DATABASE_URL:-}" ] && [ -n "${TEST_REDIS_URL:-}" ]; then
    echo "==> tests of several processes (PostgreSQL + Redis): ON (TEST_REDIS_URL=${TEST_REDIS_URL})"
else
    echo "############################################################################"
    echo "## Tests of several processes SKIPPED: they need TEST_DATABASE_URL and     ##"
    echo "## TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/). They show as 'ignored'.  ##"
    echo "############################################################################"
fi

cargo test --workspace --all-targets "$@"
