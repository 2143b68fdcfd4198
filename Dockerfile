# syntax=docker/dockerfile:1
# The planning-poker server as a container: built with cargo, run on a slim Debian as a non-root
# user. docker-compose.yml runs two of these behind HAProxy. (This file has not been built on the
# development machine, which has no Docker engine; see the README's section "Running the stack".)

# ---- build ---------------------------------------------------------------------------------
# Pinned to the toolchain the project is developed and tested with (rust-version in Cargo.toml
# is the floor); bookworm, as the runtime image below.
FROM rust:1.95-bookworm AS build
# pkg-config and the OpenSSL headers for the bundled libpq (pq-sys); SQLite and libpq themselves
# are compiled from the crates' sources.
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The build context has no .git (.dockerignore): `--version` names the commit given here, e.g.
# `docker compose build --build-arg POKER_GIT_COMMIT=$(git rev-parse --short=12 HEAD)`.
ARG POKER_GIT_COMMIT=unknown
ENV POKER_GIT_COMMIT=${POKER_GIT_COMMIT}
# BuildKit caches the crates and the target directory between builds; the binary is copied out
# of the cache mount in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p planning-poker \
    && cp target/release/planning-poker /usr/local/bin/planning-poker

# ---- run -----------------------------------------------------------------------------------
FROM debian:bookworm-slim
# libssl3: the bundled libpq links OpenSSL; ca-certificates for TLS to a managed database;
# curl for the health check (the binary has no subcommand for it).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl libssl3 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/planning-poker \
    --shell /usr/sbin/nologin poker
COPY --from=build /usr/local/bin/planning-poker /usr/local/bin/planning-poker
USER poker
# The working directory is the user's own: the default SQLite file (data/) would land here if
# DATABASE_URL were not set.
WORKDIR /var/lib/planning-poker
ENV BIND=0.0.0.0:8000 \
    RUST_LOG=info
EXPOSE 8000
# /healthz: the process runs. (/readyz also checks the database; HAProxy uses that one to take
# a replica out, while this check is for restarting a process that stopped answering.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8000/healthz || exit 1
# SIGTERM: stop accepting, close sockets with 1001, exit (well under Docker's 10 s grace).
STOPSIGNAL SIGTERM
ENTRYPOINT ["planning-poker"]
CMD ["serve"]
