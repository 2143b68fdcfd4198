#!/usr/bin/env bash
# The docker-compose topology without Docker: two planning-poker processes on loopback ports,
# on this machine's PostgreSQL and Redis, behind Debian's HAProxy with deploy/haproxy.cfg (the
# file the compose stack mounts into its balancer). Ctrl-C stops all three.
#
#   scripts/stack.sh
#
# Environment (all optional):
#   DATABASE_URL    default postgres://postgres@127.0.0.1:5432/planning_poker_stack (created if
#                   missing)
#   REDIS_URL       default redis://127.0.0.1:6379/ (the replicas share live sessions through
#                   it)
#   STACK_PORT      the balancer's port on 127.0.0.1, default 8080; the replicas listen on the
#                   next two ports
#   ADMIN_PASSWORD  the admin's password when the database is created; default: generated, kept
#                   in data/stack/admin-password and printed on every start
#   STACK_PROFILE   debug (default) or release
#
# A debug build by default: the stack is for seeing the topology work, not for measuring it, and
# a debug build compiles faster while its dependencies are optimized anyway (Cargo.toml's
# profile.dev.package."*"); it also reads the web UI's files from disk, so an edit shows in both
# replicas on reload. STACK_PROFILE=release for measuring.
set -euo pipefail
cd "$(dirname "$0")/.."

database_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/planning_poker_stack}"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379/}"
port="${STACK_PORT:-8080}"
app1_port=$((port + 1))
app2_port=$((port + 2))
profile="${STACK_PROFILE:-debug}"
state_dir=data/stack

haproxy=/usr/sbin/haproxy
if [ ! -x "$haproxy" ]; then
    echo "error: $haproxy is missing: run scripts/ensure-deps.sh (it installs Debian's haproxy)" >&2
    exit 1
fi
for tool in psql pg_isready; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool is missing (Debian: apt-get install postgresql-client)" >&2
        exit 1
    fi
done

echo "==> building planning-poker ($profile)"
case "$profile" in
    debug) cargo build -p planning-poker ;;
    release) cargo build --release -p planning-poker ;;
    *) echo "error: STACK_PROFILE must be debug or release, got $profile" >&2; exit 1 ;;
esac
binary="$(pwd)/${CARGO_TARGET_DIR:-target}/$profile/planning-poker"
case "${CARGO_TARGET_DIR:-}" in /*) binary="$CARGO_TARGET_DIR/$profile/planning-poker" ;; esac

# The database: the URL's last path segment, created through the server's maintenance database.
db_name="${database_url##*/}"
db_name="${db_name%%\?*}"
maintenance_url="${database_url%/*}/postgres"
if ! pg_isready -q -d "$maintenance_url"; then
    echo "error: PostgreSQL at ${maintenance_url%%@*}@… does not answer (DATABASE_URL)" >&2
    exit 1
fi
mkdir -p "$state_dir"
password_file="$state_dir/admin-password"
if [ -z "$(psql "$maintenance_url" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'")" ]; then
    echo "==> creating database $db_name"
    psql "$maintenance_url" -qc "CREATE DATABASE \"$db_name\"" >/dev/null
    admin_password="${ADMIN_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -d '+/=')}"
    (umask 077 && printf '%s\n' "$admin_password" >"$password_file")
elif [ -n "${ADMIN_PASSWORD:-}" ]; then
    admin_password="$ADMIN_PASSWORD (only if the database was empty when it was set)"
elif [ -f "$password_file" ]; then
    admin_password="$(cat "$password_file")"
else
    admin_password="(unknown: $db_name existed before; set when it was first used)"
fi

if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
    echo "warning: Redis at $redis_url does not answer (REDIS_URL)" >&2
fi

pids=()
stop() {
    trap - INT TERM EXIT
    echo
    echo "==> stopping"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

# One replica: its output prefixed with its name; $! is the server itself.
start_replica() {
    local name="$1" replica_port="$2"
    env DATABASE_URL="$database_url" REDIS_URL="$redis_url" \
        BIND="127.0.0.1:$replica_port" INSTANCE_NAME="$name" \
        ADMIN_PASSWORD="$(cat "$password_file" 2>/dev/null || true)" \
        TRUSTED_PROXIES=127.0.0.1 \
        "$binary" serve > >(sed -u "s/^/[$name] /") 2>&1 &
    pids+=($!)
    local pid=$!
    for _ in $(seq 1 120); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$replica_port/healthz" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "error: $name exited while starting" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "error: $name did not answer on 127.0.0.1:$replica_port within 60 s" >&2
    exit 1
}

# One after the other: on an empty database the first creates the tables and the admin user.
echo "==> starting app1 on 127.0.0.1:$app1_port and app2 on 127.0.0.1:$app2_port"
start_replica app1 "$app1_port"
start_replica app2 "$app2_port"

echo "==> starting HAProxy on 127.0.0.1:$port"
env BIND_ADDR="127.0.0.1:$port" APP1_ADDR="127.0.0.1:$app1_port" APP2_ADDR="127.0.0.1:$app2_port" \
    "$haproxy" -db -f deploy/haproxy.cfg > >(sed -u "s/^/[haproxy] /") 2>&1 &
pids+=($!)
for _ in $(seq 1 40); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
    sleep 0.25
done

cat <<EOF

  The stack is up: http://127.0.0.1:$port
  Log in as admin with the password: $admin_password
  Each page's footer and the X-Served-By header name the replica (app1, app2) that answered.
  Ctrl-C stops it.

EOF
# Until Ctrl-C, or until one of the three exits (then the others are stopped too).
wait -n "${pids[@]}" || true
