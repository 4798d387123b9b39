#!/usr/bin/env bash
# shellcheck shell=bash
#
# scripts/lib/postgres.sh — find or start a PostgreSQL server for local runs and tests.
#
# Source it, then call `ensure_postgres`:
#
#     source scripts/lib/postgres.sh
#     ensure_postgres || exit 1
#     url=$(db_url_for ticketing_users)
#
# Resolution order (first reachable wins):
#   a. host/port of $DATABASE_URL, if set;
#   b. 127.0.0.1:5432 — if psql is installed, we also check that `postgres` can log in
#      (with password "postgres" or trust); a server that rejects that login is skipped;
#   c. a private cluster under $REPO/.local/pg (port 55432, trust auth, user postgres),
#      created with initdb on first use and started with pg_ctl when stopped;
#   d. otherwise print what is missing and return 1.
# If $DATABASE_URL is set but unreachable we warn and carry on with (b)/(c), and
# DATABASE_URL is replaced by a URL for the server actually found (the log says so).
# PG_FORCE_PRIVATE=1 skips (a) and (b) — used to exercise (c) deliberately.
#
# On success exports: PGHOST_RESOLVED, PGPORT_RESOLVED, PG_ADMIN_URL (server URL without a
# database name), PG_URL_QUERY (the "?..." part of $DATABASE_URL, usually empty) and, when
# it was unset or unusable, DATABASE_URL=<PG_ADMIN_URL>/postgres.
#
# Tunables: PG_PRIVATE_DIR (default $REPO/.local/pg), PG_PRIVATE_PORT (default 55432).
#
# This file is sourced, so it deliberately does not run `set -euo pipefail` itself (that
# would change the options of whoever sources it); the scripts that source it set them,
# and every function here is written to be safe under them.

if [[ -n "${_TICKETING_PG_LIB_LOADED:-}" ]]; then
    return 0
fi
_TICKETING_PG_LIB_LOADED=1

# Repo root = two levels up from this file, unless the caller already set REPO.
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

PG_PRIVATE_DIR="${PG_PRIVATE_DIR:-$REPO/.local/pg}"
PG_PRIVATE_PORT="${PG_PRIVATE_PORT:-55432}"
# Written when ensure_postgres starts the private cluster, so `setup-local.sh stop`
# knows it may stop it again (a cluster someone else started is left alone).
PG_PRIVATE_MARKER="$PG_PRIVATE_DIR/started-by-script"

# ---------------------------------------------------------------------------------------
# Logging helpers (stderr, prefixed with the name of the script that is running).
# ---------------------------------------------------------------------------------------

_script_name() {
    basename -- "${SCRIPT_NAME:-$0}"
}

log() {
    printf '%s: %s\n' "$(_script_name)" "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

# ---------------------------------------------------------------------------------------
# URL parsing and reachability
# ---------------------------------------------------------------------------------------

# _pg_parse_url URL — sets _URL_PREFIX (scheme://userinfo@), _URL_HOST, _URL_PORT and
# _URL_QUERY ("?..." or empty). Handles postgres:// and postgresql://, optional userinfo,
# [ipv6] hosts and a missing port (5432). An empty host means localhost.
_pg_parse_url() {
    local url="$1" scheme rest authority userinfo="" hostport
    if [[ "$url" != *"://"* ]]; then
        return 1
    fi
    scheme="${url%%://*}"
    rest="${url#*://}"

    _URL_QUERY=""
    if [[ "$rest" == *"?"* ]]; then
        _URL_QUERY="?${rest#*\?}"
        rest="${rest%%\?*}"
    fi
    authority="${rest%%/*}"

    # The password may contain '@' only percent-encoded, but split on the last one anyway.
    if [[ "$authority" == *"@"* ]]; then
        userinfo="${authority%@*}@"
        hostport="${authority##*@}"
    else
        hostport="$authority"
    fi

    if [[ "$hostport" == \[* ]]; then
        _URL_HOST="${hostport%%]*}"
        _URL_HOST="${_URL_HOST#[}"
        _URL_PORT="${hostport#*]}"
        _URL_PORT="${_URL_PORT#:}"
    elif [[ "$hostport" == *:* ]]; then
        _URL_HOST="${hostport%%:*}"
        _URL_PORT="${hostport#*:}"
    else
        _URL_HOST="$hostport"
        _URL_PORT=""
    fi
    _URL_HOST="${_URL_HOST:-localhost}"
    _URL_PORT="${_URL_PORT:-5432}"
    _URL_PREFIX="${scheme}://${userinfo}"
}

# _pg_host_for_url HOST — IPv6 literals need brackets inside a URL.
_pg_host_for_url() {
    if [[ "$1" == *:* ]]; then
        printf '[%s]' "$1"
    else
        printf '%s' "$1"
    fi
}

# _pg_find_tool NAME — print the path of a PostgreSQL program: PATH first, then the
# newest /usr/lib/postgresql/*/bin (Debian/Ubuntu keep server binaries off PATH).
_pg_find_tool() {
    local name="$1" dir
    if command -v "$name" >/dev/null 2>&1; then
        command -v "$name"
        return 0
    fi
    while IFS= read -r dir; do
        if [[ -x "$dir/$name" ]]; then
            printf '%s\n' "$dir/$name"
            return 0
        fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
    return 1
}

# _pg_reachable HOST PORT — is something accepting PostgreSQL connections there?
_pg_reachable() {
    local host="$1" port="$2" pg_isready
    if pg_isready="$(_pg_find_tool pg_isready)"; then
        "$pg_isready" -q -h "$host" -p "$port" -t 3
        return
    fi
    # No client tools: settle for "the TCP port accepts connections".
    # shellcheck disable=SC2016  # $1/$2 are expanded by the inner bash, on purpose.
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
}

# _pg_can_login URL — true if psql can run a query there; also true when psql is absent
# (we cannot tell, so we do not reject the server).
_pg_can_login() {
    local url="$1" psql
    if ! psql="$(_pg_find_tool psql)"; then
        return 0
    fi
    PGCONNECT_TIMEOUT=5 "$psql" "$url" -Atqc 'select 1' >/dev/null 2>&1
}

# _pg_export HOST PORT PREFIX QUERY — publish the chosen server to the caller.
_pg_export() {
    local host="$1" port="$2" prefix="$3" query="$4" url_host
    url_host="$(_pg_host_for_url "$host")"
    # A server on this machine: TLS would only cost CPU on both ends (measured: 5-10 % of a
    # purchase's throughput), so ask for none unless the URL says otherwise.
    if [[ -z "$query" ]] && [[ "$host" == 127.0.0.1 || "$host" == localhost || "$host" == ::1 ]]; then
        query="?sslmode=disable"
    fi
    export PGHOST_RESOLVED="$host"
    export PGPORT_RESOLVED="$port"
    export PG_ADMIN_URL="${prefix}${url_host}:${port}"
    export PG_URL_QUERY="$query"
}

# ---------------------------------------------------------------------------------------
# Private cluster under $PG_PRIVATE_DIR
# ---------------------------------------------------------------------------------------

# _pg_as_owner CMD... — run a PostgreSQL server tool. initdb/pg_ctl/postgres refuse to
# run as root, so as root we run them as the `postgres` system user.
_pg_as_owner() {
    if [[ "$(id -u)" != 0 ]]; then
        (cd "$PG_PRIVATE_DIR" && "$@")
        return
    fi
    # cd first: tools started from a directory postgres cannot read print warnings.
    if command -v runuser >/dev/null 2>&1; then
        (cd "$PG_PRIVATE_DIR" && runuser -u postgres -- "$@")
    else
        (cd "$PG_PRIVATE_DIR" && su -s /bin/bash postgres -c "$(printf '%q ' "$@")")
    fi
}

# _pg_prepare_owner — as root, make sure the postgres user exists and owns the cluster dir.
_pg_prepare_owner() {
    mkdir -p "$PG_PRIVATE_DIR"
    if [[ "$(id -u)" != 0 ]]; then
        return 0
    fi
    if ! id -u postgres >/dev/null 2>&1; then
        log "creating system user 'postgres' (initdb refuses to run as root)"
        if ! useradd -r -s /bin/bash postgres; then
            log "could not create the 'postgres' user (useradd -r postgres failed)"
            return 1
        fi
    fi
    chown postgres: "$PG_PRIVATE_DIR"
    # The postgres user must be able to reach the directory (e.g. not inside /root).
    if ! _pg_as_owner test -w "$PG_PRIVATE_DIR" 2>/dev/null; then
        log "user 'postgres' cannot write $PG_PRIVATE_DIR (a parent directory is not" \
            "searchable?); set PG_PRIVATE_DIR to a directory it can reach"
        return 1
    fi
}

# _pg_bindir — directory holding initdb/pg_ctl. Prefers the version an existing cluster
# was created with (a newer initdb cannot start an older data directory).
_pg_bindir() {
    local version initdb
    if [[ -f "$PG_PRIVATE_DIR/data/PG_VERSION" ]]; then
        version="$(<"$PG_PRIVATE_DIR/data/PG_VERSION")"
        if [[ -x "/usr/lib/postgresql/$version/bin/pg_ctl" ]]; then
            printf '%s\n' "/usr/lib/postgresql/$version/bin"
            return 0
        fi
    fi
    initdb="$(_pg_find_tool initdb)" || return 1
    # Resolve symlinks (e.g. /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb)
    # so pg_ctl comes from the same installation.
    initdb="$(readlink -f "$initdb")"
    if [[ -x "$(dirname "$initdb")/pg_ctl" ]]; then
        dirname "$initdb"
        return 0
    fi
    return 1
}

# _pg_write_conf — settings for the private cluster, rewritten on every start so a changed
# PG_PRIVATE_PORT takes effect. It is a throwaway dev/test cluster, so durability is
# traded for speed (fsync off) — never point anything valuable at it.
_pg_write_conf() {
    local conf="$PG_PRIVATE_DIR/data/ticketing.conf" socket_dir="$PG_PRIVATE_DIR"
    # Unix socket paths are limited to ~107 bytes; fall back to TCP only when too long.
    if (( ${#socket_dir} + 20 > 107 )); then
        log "path $socket_dir too long for a unix socket; private cluster will use TCP only"
        socket_dir=""
    fi
    cat >"$conf" <<CONF
# Written by scripts/lib/postgres.sh; edits are overwritten on the next start.
port = $PG_PRIVATE_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$socket_dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$conf"
    fi
    if ! grep -q "^include_if_exists = 'ticketing.conf'" "$PG_PRIVATE_DIR/data/postgresql.conf"; then
        printf "\ninclude_if_exists = 'ticketing.conf'\n" >>"$PG_PRIVATE_DIR/data/postgresql.conf"
    fi
}

# _pg_private_running — is the private cluster's postmaster alive?
_pg_private_running() {
    local bindir
    [[ -f "$PG_PRIVATE_DIR/data/postmaster.pid" ]] || return 1
    bindir="$(_pg_bindir)" || return 1
    _pg_as_owner "$bindir/pg_ctl" -D "$PG_PRIVATE_DIR/data" status >/dev/null 2>&1
}

# _pg_start_private — create (first time) and start the private cluster.
_pg_start_private() {
    local bindir data="$PG_PRIVATE_DIR/data" logfile="$PG_PRIVATE_DIR/postgres.log"
    if ! bindir="$(_pg_bindir)"; then
        log "no initdb/pg_ctl found in PATH or /usr/lib/postgresql/*/bin"
        return 1
    fi
    _pg_prepare_owner || return 1

    if [[ ! -f "$data/PG_VERSION" ]]; then
        log "creating private PostgreSQL cluster in $data ($("$bindir/initdb" --version))"
        # --locale=C: works even in containers without generated locales, and is fast.
        if ! _pg_as_owner "$bindir/initdb" -D "$data" --auth=trust -U postgres \
            --encoding=UTF8 --locale=C >"$PG_PRIVATE_DIR/initdb.log" 2>&1; then
            log "initdb failed; see $PG_PRIVATE_DIR/initdb.log:"
            tail -n 20 "$PG_PRIVATE_DIR/initdb.log" >&2 || true
            return 1
        fi
    fi
    _pg_write_conf

    if _pg_private_running; then
        log "private cluster in $data is already running"
        return 0
    fi
    log "starting private PostgreSQL on 127.0.0.1:$PG_PRIVATE_PORT (log: $logfile)"
    if [[ "$(id -u)" == 0 ]]; then
        touch "$logfile"
        chown postgres: "$logfile"
    fi
    if ! _pg_as_owner "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 start >/dev/null; then
        log "pg_ctl start failed; last lines of $logfile:"
        tail -n 20 "$logfile" >&2 || true
        return 1
    fi
    touch "$PG_PRIVATE_MARKER"
}

# stop_private_postgres — stop the private cluster if it is running (used by
# setup-local.sh stop). Leaves the data directory in place.
stop_private_postgres() {
    local bindir
    if ! _pg_private_running; then
        rm -f "$PG_PRIVATE_MARKER"
        return 0
    fi
    bindir="$(_pg_bindir)" || return 1
    log "stopping private PostgreSQL in $PG_PRIVATE_DIR/data"
    _pg_as_owner "$bindir/pg_ctl" -D "$PG_PRIVATE_DIR/data" stop -m fast >/dev/null
    rm -f "$PG_PRIVATE_MARKER"
}

# private_postgres_started_by_script — true if ensure_postgres started the private cluster.
private_postgres_started_by_script() {
    [[ -f "$PG_PRIVATE_MARKER" ]]
}

# ---------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------

ensure_postgres() {
    local default_prefix="postgres://postgres:postgres@" had_url="" found=""

    # (a) The caller's DATABASE_URL — used as is (credentials included) when reachable.
    if [[ -n "${DATABASE_URL:-}" && "${PG_FORCE_PRIVATE:-0}" != 1 ]]; then
        had_url=1
        if ! _pg_parse_url "$DATABASE_URL"; then
            log "warning: cannot parse DATABASE_URL (expected postgres://user:pass@host:port/db)"
        elif _pg_reachable "$_URL_HOST" "$_URL_PORT"; then
            _pg_export "$_URL_HOST" "$_URL_PORT" "$_URL_PREFIX" "$_URL_QUERY"
            log "using PostgreSQL at $_URL_HOST:$_URL_PORT (from DATABASE_URL)"
            return 0
        else
            log "warning: DATABASE_URL server $_URL_HOST:$_URL_PORT is not reachable;" \
                "trying 127.0.0.1:5432, then a private cluster"
        fi
    fi

    # (b) A server on the default local port that lets postgres/postgres in.
    if [[ "${PG_FORCE_PRIVATE:-0}" != 1 ]] && _pg_reachable 127.0.0.1 5432; then
        if _pg_can_login "${default_prefix}127.0.0.1:5432/postgres"; then
            _pg_export 127.0.0.1 5432 "$default_prefix" ""
            log "using PostgreSQL at 127.0.0.1:5432"
            found=1
        else
            log "warning: 127.0.0.1:5432 answers but rejects user postgres/postgres;" \
                "falling back to a private cluster"
        fi
    fi

    # (c) Our own cluster under .local/pg.
    if [[ -z "$found" ]]; then
        if _pg_start_private && _pg_reachable 127.0.0.1 "$PG_PRIVATE_PORT"; then
            _pg_export 127.0.0.1 "$PG_PRIVATE_PORT" "$default_prefix" ""
            log "using private PostgreSQL at 127.0.0.1:$PG_PRIVATE_PORT"
        else
            # (d) Nothing worked: say what is missing.
            log "error: no usable PostgreSQL server found."
            log "  tried: ${had_url:+DATABASE_URL, }127.0.0.1:5432, private cluster in $PG_PRIVATE_DIR"
            log "  fix:   install PostgreSQL 14+ (e.g. 'apt-get install postgresql') so that"
            log "         initdb/pg_ctl exist, or start a server and set DATABASE_URL"
            log "         (e.g. DATABASE_URL=postgres://postgres:postgres@localhost:5432/postgres)"
            return 1
        fi
    fi

    # DATABASE_URL must name an existing database: sqlx::test creates its per-test
    # databases through it. We only get here when it was unset or unusable.
    if [[ -n "$had_url" ]]; then
        log "warning: replacing DATABASE_URL with $PG_ADMIN_URL/postgres"
    fi
    export DATABASE_URL="$PG_ADMIN_URL/postgres"
}

# db_url_for NAME — URL of database NAME on the server ensure_postgres chose.
db_url_for() {
    if [[ -z "${PG_ADMIN_URL:-}" ]]; then
        log "db_url_for called before ensure_postgres"
        return 1
    fi
    printf '%s/%s%s\n' "$PG_ADMIN_URL" "$1" "${PG_URL_QUERY:-}"
}

# analyze_every SECONDS URL... — ANALYZE each database now and then every SECONDS, in the
# background, as autovacuum would: PostgreSQL may run without it (this machine's does), and a
# benchmark's planner must see the rows the benchmark creates. The loop's pid is left in
# ANALYZE_PID: kill it when done.
analyze_every() {
    local every="$1"
    shift
    ( while true; do
          for url in "$@"; do
              psql "$url" -qc ANALYZE >/dev/null 2>&1 || true
          done
          sleep "$every"
      done ) &
    # shellcheck disable=SC2034  # read by the caller
    ANALYZE_PID=$!
}
