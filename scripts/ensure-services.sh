#!/usr/bin/env bash
# Makes sure the PostgreSQL named by TEST_DATABASE_URL answers, starting the local cluster if
# it is installed but stopped.
set -euo pipefail

url="${TEST_DATABASE_URL:?TEST_DATABASE_URL must be set}"
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -d "$url"; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
        echo "==> starting the local PostgreSQL cluster"
        for version in /etc/postgresql/*; do
            pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
        done
        for _ in $(seq 1 30); do pg_isready -q -d "$url" && break; sleep 1; done
    fi
    pg_isready -q -d "$url" || { echo "PostgreSQL at $url does not answer" >&2; exit 1; }
fi
