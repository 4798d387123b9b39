#!/usr/bin/env bash
# shellcheck shell=bash
#
# scripts/lib/fleet.sh — a throwaway fleet for checks: the six services on free ports, each on a
# fresh database that is dropped again at the end. Used by scripts/postman.sh; meant for any check
# that needs the whole fleet running (the e2e journey, a dashboard check, …).
#
#     source scripts/lib/fleet.sh
#     trap fleet_stop EXIT
#     fleet_start "$BIN_DIR"        # the directory holding the six binaries (target/debug, …)
#     curl "$ORDER_SERVICE_URL/health"
#
# fleet_start BIN_DIR
#   - finds PostgreSQL (scripts/lib/postgres.sh: ensure_postgres);
#   - picks a run id and six free TCP ports; database names are ticketing_<FLEET_NAME>_<run>_<db>
#     (FLEET_NAME defaults to "fleet"), so two runs never share a database;
#   - starts user-service first (the others fetch its JWKS and their service tokens from it), then
#     seating, catalog, payment, order and notification-service, each waiting for its GET /ready;
#   - gives every run its own credentials: an admin (ADMIN_EMAIL/ADMIN_PASSWORD of user-service,
#     a random password) and a random client secret for each of the five other services (the
#     client ids are the services' names, as by default);
#   - notification-service writes its e-mails as .eml files into $FLEET_DIR/mail (SMTP_URL is not
#     passed on), payment-service runs the simulated gateway.
#   It exports USER_SERVICE_URL, CATALOG_SERVICE_URL, SEATING_SERVICE_URL, PAYMENT_SERVICE_URL,
#   ORDER_SERVICE_URL, NOTIFICATION_SERVICE_URL (http://127.0.0.1:PORT), FLEET_ADMIN_EMAIL,
#   FLEET_ADMIN_PASSWORD, FLEET_CLIENT_SECRET_<SERVICE> (FLEET_CLIENT_SECRET_ORDER_SERVICE, …: a
#   check that plays a service by hand gets its token with them), FLEET_DIR (logs: <service>.log,
#   and mail/) and FLEET_RUN_ID. It returns non-zero (after printing the end of the
#   failing service's log) when a service does not become ready; call fleet_stop anyway.
#
# fleet_stop
#   SIGTERM to every service it started (SIGKILL after FLEET_STOP_TIMEOUT, 15 s), then drops the
#   run's databases. Safe to call twice, and before fleet_start. Logs are kept in FLEET_DIR.
#
# Replicas: with FLEET_REPLICAS=2, every service runs as two processes on two ports of their own
#   (the same database), and an HAProxy (Debian's package; installed when missing and allowed)
#   listens on each service's URL port and spreads requests over the two, checking GET /ready of
#   each every 500 ms and sending nothing to one that fails twice; a request that cannot connect
#   is tried on the other (redispatch). The *_SERVICE_URL variables, given to the services and
#   exported, are the balancer's. Replica I of NAME listens on ${FLEET_REPLICA_URL[NAME/I]}.
#     fleet_kill NAME I [SIGNAL]   kill replica I of NAME (SIGKILL by default), without waiting
#     fleet_restart NAME I         start it again on its port and wait for its /ready
#
# Tunables: FLEET_EXTRA_ENV (VAR=value words given to every service), FLEET_NAME ("fleet"), FLEET_DIR ($REPO/log/fleet-<run>), FLEET_READY_TIMEOUT (60 s
# per service), FLEET_DB_MAX_CONNECTIONS (3: six pools must fit beside other tests),
# FLEET_RUST_LOG ("info"), FLEET_KEEP_DATABASES=1 (leave the databases for a post-mortem).
#
# Sourced, so no `set -euo pipefail` here (see scripts/lib/postgres.sh); every function is safe
# under those options. Needs curl, and psql to drop the databases.

if [[ -n "${_TICKETING_FLEET_LIB_LOADED:-}" ]]; then
    return 0
fi
_TICKETING_FLEET_LIB_LOADED=1

REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

# binary:database:URL variable, in start order.
FLEET_SERVICES=(
    user-service:users:USER_SERVICE_URL
    seating-service:seating:SEATING_SERVICE_URL
    catalog-service:catalog:CATALOG_SERVICE_URL
    payment-service:payments:PAYMENT_SERVICE_URL
    order-service:orders:ORDER_SERVICE_URL
    notification-service:notifications:NOTIFICATION_SERVICE_URL
)

declare -gA _FLEET_PID=()
declare -gA _FLEET_PORT=()
declare -gA FLEET_REPLICA_URL=()
declare -gA _FLEET_REPLICA_PORT=()
declare -gA _FLEET_DB=()
declare -ga _FLEET_DATABASES=()
declare -gA _FLEET_SECRET=()

# _fleet_random N — N random letters and digits.
_fleet_random() {
    local out=""
    while (( ${#out} < $1 )); do
        out+="$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9')"
    done
    printf '%s' "${out:0:$1}"
}

# _fleet_port_free PORT — nothing listens on PORT (a connection is refused).
_fleet_port_free() {
    # shellcheck disable=SC2016  # $1 is expanded by the inner bash, on purpose.
    ! timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# _fleet_pick_port — a free port in 20000-32767: below Linux's ephemeral range (32768 and up),
# so no outgoing connection takes it meanwhile, and not one this run already picked.
_fleet_pick_port() {
    local port taken _try p
    for _try in $(seq 1 200); do
        port=$(( 20000 + RANDOM % 12768 ))
        taken=""
        for p in "${_FLEET_PORT[@]}" "${_FLEET_REPLICA_PORT[@]}"; do
            [[ "$p" == "$port" ]] && taken=1
        done
        if [[ -z "$taken" ]] && _fleet_port_free "$port"; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    log "no free port found in 20000-32767"
    return 1
}

# _fleet_ready URL PID TIMEOUT — poll URL/ready every 0.2 s until it answers 200.
_fleet_ready() {
    local url="$1" pid="$2" deadline=$(( SECONDS + $3 ))
    while (( SECONDS < deadline )); do
        if curl -fsS -o /dev/null --max-time 2 "$url/ready" 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 2
        sleep 0.2
    done
    return 1
}

# _fleet_service_env NAME — the variables of one service, one VAR=value per line.
_fleet_service_env() {
    local name="$1" entry var
    for entry in "${FLEET_SERVICES[@]}"; do
        IFS=: read -r _ _ var <<<"$entry"
        printf '%s=%s\n' "$var" "${!var}"
    done
    printf 'DB_MAX_CONNECTIONS=%s\n' "${FLEET_DB_MAX_CONNECTIONS:-3}"
    printf 'LOG_FORMAT=json\nRUST_LOG=%s\n' "${FLEET_RUST_LOG:-info}"
    case "$name" in
        user-service)
            local clients="" entry2 b
            for entry2 in "${FLEET_SERVICES[@]}"; do
                b="${entry2%%:*}"
                if [[ "$b" != user-service ]]; then
                    clients+="${clients:+,}$b:${_FLEET_SECRET[$b]}"
                fi
            done
            printf 'SERVICE_CLIENTS=%s\n' "$clients"
            printf 'ADMIN_EMAIL=%s\nADMIN_PASSWORD=%s\n' "$FLEET_ADMIN_EMAIL" "$FLEET_ADMIN_PASSWORD"
            ;;
        *)
            printf 'SERVICE_CLIENT_ID=%s\nSERVICE_CLIENT_SECRET=%s\n' "$name" "${_FLEET_SECRET[$name]}"
            ;;
    esac
    # FLEET_EXTRA_ENV: more VAR=value words for every service (a benchmark's rate limits off, …).
    local extra
    for extra in ${FLEET_EXTRA_ENV:-}; do
        printf '%s\n' "$extra"
    done
    case "$name" in
        payment-service) printf 'PAYMENT_GATEWAY=simulated\n' ;;
        notification-service) printf 'MAIL_DIR=%s\n' "$FLEET_DIR/mail" ;;
    esac
}

# _fleet_start_one NAME DB VAR [I] — start one service (replica I with FLEET_REPLICAS > 1) and
# wait for its /ready. When user-service finds its port taken (by another process, between our
# check and its bind), it tries another, twice.
_fleet_start_one() {
    local name="$1" db="$2" var="$3" replica="${4:-}" exe="$_FLEET_BIN_DIR/$1"
    local key="$1" port url logfile="$FLEET_DIR/$1.log"
    local attempt pid status db_url
    if [[ -n "$replica" ]]; then
        key="$name/$replica"
        logfile="$FLEET_DIR/$name-$replica.log"
    fi
    db_url="$(db_url_for "ticketing_${FLEET_NAME:-fleet}_${FLEET_RUN_ID}_$db")" || return 1
    for attempt in 1 2 3; do
        if [[ -n "$replica" ]]; then
            port="${_FLEET_REPLICA_PORT[$key]}"
        else
            port="${_FLEET_PORT[$name]}"
        fi
        url="http://127.0.0.1:$port"
        local -a vars=()
        mapfile -t vars < <(_fleet_service_env "$name")
        # env -i: the service sees only what is listed here (no stray DATABASE_URL, APP_ENV,
        # SMTP_URL or PORT of the caller), plus PATH and HOME. A restarted replica appends to
        # its log.
        env -i PATH="$PATH" HOME="${HOME:-/tmp}" "${vars[@]}" PORT="$port" \
            DATABASE_URL="$db_url" "$exe" >>"$logfile" 2>&1 </dev/null &
        pid=$!
        _FLEET_PID[$key]=$pid
        status=0
        _fleet_ready "$url" "$pid" "${FLEET_READY_TIMEOUT:-60}" || status=$?
        if (( status == 0 )); then
            log "$key ready on $url (pid $pid)"
            return 0
        fi
        # Only user-service may move: it calls no one, and no one else has started yet (a
        # replica moves behind the balancer, whose configuration is then written again).
        if (( status == 2 && attempt < 3 )) && [[ "$name" == user-service ]] &&
            grep -q 'binding port' "$logfile"; then
            wait "$pid" 2>/dev/null || true
            unset "_FLEET_PID[$key]"
            if [[ -n "$replica" ]]; then
                _FLEET_REPLICA_PORT[$key]="$(_fleet_pick_port)" || return 1
                FLEET_REPLICA_URL[$key]="http://127.0.0.1:${_FLEET_REPLICA_PORT[$key]}"
                _fleet_balancer_reload || return 1
                log "$key: its port was taken meanwhile; trying ${FLEET_REPLICA_URL[$key]}"
            else
                _FLEET_PORT[$name]="$(_fleet_pick_port)" || return 1
                export "$var=http://127.0.0.1:${_FLEET_PORT[$name]}"
                log "$name: its port was taken meanwhile; trying ${!var}"
            fi
            continue
        fi
        if (( status == 2 )); then
            log "$name exited during start-up; last lines of $logfile:"
        else
            log "$name did not become ready within ${FLEET_READY_TIMEOUT:-60}s; last lines of $logfile:"
        fi
        tail -n 20 "$logfile" >&2 || true
        return 1
    done
    return 1
}

# _fleet_balancer_config — HAProxy's configuration: one frontend per service on its URL port,
# over its replicas.
_fleet_balancer_config() {
    local entry name i
    cat <<CFG
global
    maxconn 4000
defaults
    mode http
    option http-server-close
    # A connection refused (a replica just killed) is tried again on the other replica. Only
    # connection failures are retried: a request a replica received is never sent twice.
    retries 3
    option redispatch 1
    timeout connect 1s
    timeout client 120s
    timeout server 120s
    # Server-Sent Events (the seat map's stream) stay open.
    timeout tunnel 1h
    default-server inter 500ms fall 2 rise 1
CFG
    for entry in "${FLEET_SERVICES[@]}"; do
        name="${entry%%:*}"
        printf 'frontend %s\n    bind 127.0.0.1:%s\n    default_backend %s\n' \
            "$name" "${_FLEET_PORT[$name]}" "$name"
        printf 'backend %s\n    balance roundrobin\n    option httpchk GET /ready\n    http-check expect status 200\n' "$name"
        for (( i = 1; i <= FLEET_REPLICAS; i++ )); do
            printf '    server %s-%s 127.0.0.1:%s check\n' "$name" "$i" "${_FLEET_REPLICA_PORT[$name/$i]}"
        done
    done
}

# _fleet_balancer_install — HAProxy from Debian's packages when it is missing (as root).
_fleet_balancer_install() {
    command -v haproxy >/dev/null 2>&1 && return 0
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing haproxy (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null 2>&1; }
    fi
    command -v haproxy >/dev/null 2>&1 ||
        { log "FLEET_REPLICAS needs haproxy (Debian: apt-get install haproxy)"; return 1; }
}

# _fleet_balancer_reload — (re)start HAProxy with the current ports.
_fleet_balancer_reload() {
    local cfg="$FLEET_DIR/haproxy.cfg"
    _fleet_balancer_config >"$cfg"
    haproxy -c -q -f "$cfg" || { log "haproxy refused $cfg"; return 1; }
    if [[ -n "${_FLEET_PID[haproxy]:-}" ]]; then
        kill -TERM "${_FLEET_PID[haproxy]}" 2>/dev/null || true
        wait "${_FLEET_PID[haproxy]}" 2>/dev/null || true
    fi
    haproxy -db -f "$cfg" >>"$FLEET_DIR/haproxy.log" 2>&1 </dev/null &
    _FLEET_PID[haproxy]=$!
    local deadline=$(( SECONDS + 10 ))
    until ! _fleet_port_free "${_FLEET_PORT[user-service]}"; do
        (( SECONDS < deadline )) || { log "haproxy did not start; see $FLEET_DIR/haproxy.log"; return 1; }
        sleep 0.1
    done
}

# fleet_kill NAME I [SIGNAL] — kill replica I of NAME (SIGKILL: no graceful shutdown).
fleet_kill() {
    local key="$1/$2" pid
    pid="${_FLEET_PID[$key]:-}"
    [[ -n "$pid" ]] || { log "fleet_kill: no replica $key"; return 1; }
    kill "-${3:-KILL}" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "_FLEET_PID[$key]"
    log "$key (pid $pid) killed with SIG${3:-KILL}"
}

# fleet_restart NAME I — start replica I of NAME again, on its port.
fleet_restart() {
    local entry name db var
    for entry in "${FLEET_SERVICES[@]}"; do
        IFS=: read -r name db var <<<"$entry"
        if [[ "$name" == "$1" ]]; then
            _fleet_start_one "$name" "$db" "$var" "$2"
            return
        fi
    done
    log "fleet_restart: no service $1"
    return 1
}

fleet_start() {
    local bin_dir="$1" entry name db var upper i
    [[ -n "$bin_dir" ]] || { log "fleet_start: binary directory required"; return 1; }
    _FLEET_BIN_DIR="$(cd "$bin_dir" && pwd)" || return 1
    for entry in "${FLEET_SERVICES[@]}"; do
        name="${entry%%:*}"
        [[ -x "$_FLEET_BIN_DIR/$name" ]] || { log "$_FLEET_BIN_DIR/$name not found"; return 1; }
    done
    command -v curl >/dev/null 2>&1 || { log "curl is required"; return 1; }
    ensure_postgres || return 1

    export FLEET_RUN_ID="${FLEET_RUN_ID:-$(date +%s)_$$}"
    export FLEET_DIR="${FLEET_DIR:-$REPO/log/fleet-$FLEET_RUN_ID}"
    mkdir -p "$FLEET_DIR/mail"
    export FLEET_ADMIN_EMAIL="admin-$FLEET_RUN_ID@fleet.ticketing.test"
    export FLEET_ADMIN_PASSWORD
    FLEET_ADMIN_PASSWORD="$(_fleet_random 24)"

    # Every port first: catalog and seating call each other, order calls four services.
    FLEET_REPLICAS="${FLEET_REPLICAS:-1}"
    for entry in "${FLEET_SERVICES[@]}"; do
        IFS=: read -r name db var <<<"$entry"
        _FLEET_PORT[$name]="$(_fleet_pick_port)" || return 1
        export "$var=http://127.0.0.1:${_FLEET_PORT[$name]}"
        if (( FLEET_REPLICAS > 1 )); then
            for (( i = 1; i <= FLEET_REPLICAS; i++ )); do
                _FLEET_REPLICA_PORT[$name/$i]="$(_fleet_pick_port)" || return 1
                FLEET_REPLICA_URL[$name/$i]="http://127.0.0.1:${_FLEET_REPLICA_PORT[$name/$i]}"
            done
        fi
        if [[ "$name" != user-service ]]; then
            _FLEET_SECRET[$name]="$(_fleet_random 32)"
            upper="${name^^}"
            export "FLEET_CLIENT_SECRET_${upper//-/_}=${_FLEET_SECRET[$name]}"
        fi
        _FLEET_DATABASES+=("ticketing_${FLEET_NAME:-fleet}_${FLEET_RUN_ID}_$db")
    done
    log "starting the fleet from $_FLEET_BIN_DIR (run $FLEET_RUN_ID, logs in ${FLEET_DIR#"$REPO"/})"
    if (( FLEET_REPLICAS > 1 )); then
        _fleet_balancer_install || return 1
        _fleet_balancer_reload || return 1
        log "haproxy balances each service over $FLEET_REPLICAS replicas (pid ${_FLEET_PID[haproxy]})"
    fi
    for entry in "${FLEET_SERVICES[@]}"; do
        IFS=: read -r name db var <<<"$entry"
        if (( FLEET_REPLICAS > 1 )); then
            # One after the other: the first runs the migrations, the second finds them done.
            for (( i = 1; i <= FLEET_REPLICAS; i++ )); do
                _fleet_start_one "$name" "$db" "$var" "$i" || return 1
            done
        else
            _fleet_start_one "$name" "$db" "$var" || return 1
        fi
    done
}

# fleet_start_storefront — the storefront (crates/storefront) in front of the fleet fleet_start
# started, on a free port, with a random cookie key; exports STOREFRONT_URL. fleet_stop stops it.
fleet_start_storefront() {
    local port url logfile="$FLEET_DIR/storefront.log" pid status=0
    [[ -x "$_FLEET_BIN_DIR/storefront" ]] || { log "$_FLEET_BIN_DIR/storefront not found"; return 1; }
    port="$(_fleet_pick_port)" || return 1
    url="http://127.0.0.1:$port"
    env -i PATH="$PATH" HOME="${HOME:-/tmp}" PORT="$port" LOG_FORMAT=json \
        RUST_LOG="${FLEET_RUST_LOG:-info}" STOREFRONT_COOKIE_KEY="$(head -c 64 /dev/urandom | base64 -w0)" \
        USER_SERVICE_URL="$USER_SERVICE_URL" CATALOG_SERVICE_URL="$CATALOG_SERVICE_URL" \
        SEATING_SERVICE_URL="$SEATING_SERVICE_URL" ORDER_SERVICE_URL="$ORDER_SERVICE_URL" \
        "$_FLEET_BIN_DIR/storefront" >>"$logfile" 2>&1 </dev/null &
    pid=$!
    _FLEET_PID[storefront]=$pid
    _fleet_ready "$url" "$pid" "${FLEET_READY_TIMEOUT:-60}" || status=$?
    if (( status != 0 )); then
        log "the storefront did not become ready; last lines of $logfile:"
        tail -n 20 "$logfile" >&2 || true
        return 1
    fi
    export STOREFRONT_URL="$url"
    log "storefront ready on $url (pid $pid)"
}

# fleet_pid NAME — the pid of a running service (or "storefront"), for a benchmark that reads
# its CPU time; fails when it is not running.
fleet_pid() {
    [[ -n "${_FLEET_PID[$1]:-}" ]] || { log "fleet_pid: $1 is not running"; return 1; }
    printf '%s\n' "${_FLEET_PID[$1]}"
}

# fleet_binaries — the directory of the six binaries: FLEET_BIN_DIR when set, otherwise the
# services built here in debug (cargo build --locked; its output on stderr).
fleet_binaries() {
    if [[ -n "${FLEET_BIN_DIR:-}" ]]; then
        printf '%s\n' "$FLEET_BIN_DIR"
        return 0
    fi
    log "building the six services (cargo build --locked, debug)"
    cargo build --locked -p user-service -p catalog-service -p seating-service \
        -p payment-service -p order-service -p notification-service -p storefront >&2 ||
        { log "cargo build failed"; return 1; }
    printf '%s\n' "${CARGO_TARGET_DIR:-$REPO/target}/debug"
}

# fleet_exit [STATUS] — for `trap fleet_exit EXIT`: stops the fleet, drops its logs after a
# success and keeps them (saying where) after a failure, and exits with the script's status (or
# STATUS, for a trap that does more first).
# shellcheck disable=SC2317  # run by the EXIT trap
fleet_exit() {
    local status=${1:-$?}
    fleet_stop
    if [[ -n "${FLEET_DIR:-}" && -d "$FLEET_DIR" ]]; then
        if (( status == 0 )); then
            rm -rf "$FLEET_DIR"
        else
            log "the fleet's logs are kept in ${FLEET_DIR#"$REPO"/}"
        fi
    fi
    exit "$status"
}

fleet_stop() {
    local name pid deadline db psql
    for name in "${!_FLEET_PID[@]}"; do
        kill -TERM "${_FLEET_PID[$name]}" 2>/dev/null || true
    done
    deadline=$(( SECONDS + ${FLEET_STOP_TIMEOUT:-15} ))
    for name in "${!_FLEET_PID[@]}"; do
        pid="${_FLEET_PID[$name]}"
        while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) did not stop; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        unset "_FLEET_PID[$name]"
    done
    (( ${#_FLEET_DATABASES[@]} > 0 )) || return 0
    if [[ "${FLEET_KEEP_DATABASES:-0}" == 1 ]]; then
        log "keeping the databases ${_FLEET_DATABASES[*]} (FLEET_KEEP_DATABASES=1)"
    elif psql="$(_pg_find_tool psql)"; then
        for db in "${_FLEET_DATABASES[@]}"; do
            PGCONNECT_TIMEOUT=5 "$psql" "$(db_url_for postgres)" -qc \
                "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
                log "could not drop database $db"
        done
    else
        log "psql not found: the databases ${_FLEET_DATABASES[*]} were left behind"
    fi
    _FLEET_DATABASES=()
}
