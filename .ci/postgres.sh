#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite.
#
# Source it from bash (`.ci/run` does):
#
#     source .ci/postgres.sh
#     pg_start        # exports ATOLL_TEST_POSTGRES_URL, or warns and leaves it unset
#     ...             # run the tests
#     pg_stop         # stops the server and removes its files (safe to call twice)
#
# or run it directly to try it by hand: `.ci/postgres.sh` starts a server, prints
# the URL and the command that stops it.
#
# The server binaries come from Debian's `postgresql` package; when they are
# missing and we are root with apt-get, the package is installed. The cluster
# lives in a fresh mktemp directory owned by the `postgres` system user
# (PostgreSQL refuses to run as root), listens on 127.0.0.1 on a free port and in
# a socket directory inside that same directory, trusts loopback connections and
# has one database, `atoll_test`. If no server can be had (no apt-get, no
# network, not root), it prints a warning and returns 0: the PostgreSQL tests
# then skip with their reason instead of failing CI.

_pg_say() { echo "[postgres] $*" >&2; }

_pg_bindir() {
    local d
    # The newest installed major version wins.
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

_pg_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        _pg_say "no apt-get here: cannot install the postgresql package"
        return 1
    fi
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            _pg_say "not root and no password-less sudo: cannot install the postgresql package"
            return 1
        fi
    fi
    _pg_say "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get install -y --no-install-recommends postgresql >&2; then
        "${sudo[@]}" apt-get update >&2 || return 1
        "${sudo[@]}" apt-get install -y --no-install-recommends postgresql >&2 || return 1
    fi
}

_pg_free_port() {
    python3 - <<'EOF'
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
EOF
}

# Run a command as the unprivileged server user (or as ourselves when not root).
_pg_as_user() {
    if [[ $(id -u) -eq 0 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$_PG_USER" -- "$@"
        else
            su -s /bin/sh "$_PG_USER" -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

pg_start() {
    local bindir
    if ! bindir=$(_pg_bindir); then
        if ! _pg_install || ! bindir=$(_pg_bindir); then
            _pg_say "WARNING: no PostgreSQL server available; the PostgreSQL tests will skip"
            return 0
        fi
    fi
    if [[ $(id -u) -eq 0 ]]; then
        _PG_USER=postgres
        if ! id "$_PG_USER" >/dev/null 2>&1; then
            _pg_say "WARNING: running as root but there is no 'postgres' user; the PostgreSQL tests will skip"
            return 0
        fi
    else
        _PG_USER=$(id -un)
    fi
    _PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/atoll-pg.XXXXXX")
    chmod 700 "$_PG_DIR"
    mkdir -p "$_PG_DIR/data" "$_PG_DIR/sock"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R "$_PG_USER": "$_PG_DIR"
    fi
    _PG_BIN=$bindir
    local port
    port=$(_pg_free_port 2>/dev/null) || port=$((20000 + RANDOM % 20000))
    if ! _pg_as_user "$bindir/initdb" -D "$_PG_DIR/data" -U atoll --auth=trust \
        -E UTF8 --locale=C.UTF-8 >"$_PG_DIR/initdb.log" 2>&1 &&
        ! _pg_as_user "$bindir/initdb" -D "$_PG_DIR/data" -U atoll --auth=trust \
            -E UTF8 --locale=C >"$_PG_DIR/initdb.log" 2>&1; then
        _pg_say "WARNING: initdb failed; the PostgreSQL tests will skip. Its log:"
        cat "$_PG_DIR/initdb.log" >&2
        pg_stop
        return 0
    fi
    # Loopback and the private socket only; fsync off (a throwaway cluster).
    if ! _pg_as_user "$bindir/pg_ctl" -D "$_PG_DIR/data" -l "$_PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $_PG_DIR/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >&2; then
        _pg_say "WARNING: the server did not start; the PostgreSQL tests will skip. Its log:"
        cat "$_PG_DIR/server.log" >&2 || true
        pg_stop
        return 0
    fi
    if ! _pg_as_user "$bindir/createdb" -h 127.0.0.1 -p "$port" -U atoll atoll_test >&2; then
        _pg_say "WARNING: createdb failed; the PostgreSQL tests will skip"
        pg_stop
        return 0
    fi
    export ATOLL_TEST_POSTGRES_URL="postgresql+psycopg://atoll@127.0.0.1:$port/atoll_test"
    _pg_say "PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') is up: $ATOLL_TEST_POSTGRES_URL"
}

pg_stop() {
    if [[ -n "${_PG_DIR:-}" && -d "$_PG_DIR" ]]; then
        if [[ -f "$_PG_DIR/data/postmaster.pid" ]]; then
            _pg_as_user "$_PG_BIN/pg_ctl" -D "$_PG_DIR/data" -m fast -w -t 60 stop >&2 ||
                _pg_as_user "$_PG_BIN/pg_ctl" -D "$_PG_DIR/data" -m immediate -w stop >&2 || true
        fi
        rm -rf "$_PG_DIR"
        _pg_say "stopped and removed $_PG_DIR"
    fi
    _PG_DIR=
    unset ATOLL_TEST_POSTGRES_URL
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    # Run directly: start a server and say how to stop it.
    set -uo pipefail
    pg_start
    if [[ -n "${ATOLL_TEST_POSTGRES_URL:-}" ]]; then
        echo "export ATOLL_TEST_POSTGRES_URL=$ATOLL_TEST_POSTGRES_URL"
        echo "# stop with: runuser -u $_PG_USER -- $_PG_BIN/pg_ctl -D $_PG_DIR/data stop && rm -rf $_PG_DIR"
    fi
fi
