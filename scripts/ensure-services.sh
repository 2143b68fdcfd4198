#!/usr/bin/env bash
# Makes sure the PostgreSQL named by TEST_DATABASE_URL (and the Redis of TEST_REDIS_URL, when
# set) answer, starting the local services if they are installed but stopped.
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

redis="${TEST_REDIS_URL:-}"
if [ -n "$redis" ] && ! redis-cli -u "$redis" ping >/dev/null 2>&1; then
    echo "==> starting the local Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 30); do redis-cli -u "$redis" ping >/dev/null 2>&1 && break; sleep 0.2; done
    redis-cli -u "$redis" ping >/dev/null 2>&1 || { echo "Redis at $redis does not answer" >&2; exit 1; }
fi
