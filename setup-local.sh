#!/usr/bin/env bash
# setup-local.sh — run the whole fleet locally (README: "run the fleet").
#
#   ./setup-local.sh          build and start every service (idempotent)
#   ./setup-local.sh stop     stop them (and the private PostgreSQL, if we started it)
#   ./setup-local.sh status   show what is running and whether it answers /ready
#   ./setup-local.sh e2e      walk the buying journey (crates/e2e-flow) against what runs
#
# Services log to log/<binary>.log; pid files live in .local/<binary>.pid.
# notification-service writes its e-mails as .eml files into log/mail/ (MAIL_DIR) unless
# SMTP_URL names a mail server (a mail catcher such as Mailpit: SMTP_URL=smtp://localhost:1025).
# Per-service database override: <BINARY_UPPER_SNAKE>_DATABASE_URL
# (e.g. USER_SERVICE_DATABASE_URL). READY_TIMEOUT (seconds, default 60) bounds the wait.
set -euo pipefail

# binary:port:dbname, in start order (dbname "-": no database, the storefront). Entries whose crates/<binary> does not exist yet
# are skipped, so the list can run ahead of the code.
SERVICES=(
    user-service:8080:users
    seating-service:4000:seating
    catalog-service:3002:catalog
    payment-service:3004:payments
    order-service:3007:orders
    notification-service:3005:notifications
    storefront:8000:-
)

SCRIPT_NAME="setup-local.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$REPO"

# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

RUN_DIR="$REPO/.local"
LOG_DIR="$REPO/log"
READY_TIMEOUT="${READY_TIMEOUT:-60}"
STOP_TIMEOUT=15

# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

# existing_services — print the SERVICES entries whose crate exists, in list order.
existing_services() {
    local entry binary
    for entry in "${SERVICES[@]}"; do
        binary="${entry%%:*}"
        if [[ -d "crates/$binary" ]]; then
            printf '%s\n' "$entry"
        fi
    done
}

pid_file() {
    printf '%s/%s.pid\n' "$RUN_DIR" "$1"
}

# live_pid BINARY — print the pid from the pid file if that process is alive and is
# still our binary (guards against a stale file whose pid was reused).
live_pid() {
    local binary="$1" file pid cmdline
    file="$(pid_file "$binary")"
    [[ -f "$file" ]] || return 1
    pid="$(<"$file")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r "/proc/$pid/cmdline" ]]; then
        cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
        [[ "$cmdline" == *"$binary"* ]] || return 1
    fi
    printf '%s\n' "$pid"
}

# http_status URL — print the HTTP status code of a GET (000 when nothing answers).
http_status() {
    local url="$1"
    if command -v curl >/dev/null 2>&1; then
        curl -sS -o /dev/null --max-time 2 -w '%{http_code}' "$url" 2>/dev/null || true
        return 0
    fi
    http_status_devtcp "$url"
}

# Fallback without curl: a minimal HTTP/1.0 GET over bash's /dev/tcp, in a child bash
# under `timeout` so a dead or silent port cannot hang us.
http_status_devtcp() {
    local url="$1" hostport path host port code
    hostport="${url#http://}"
    path="/${hostport#*/}"
    hostport="${hostport%%/*}"
    host="${hostport%%:*}"
    port="${hostport##*:}"
    # shellcheck disable=SC2016  # expanded by the inner bash, on purpose.
    code="$(timeout 3 bash -c '
        exec 3<>"/dev/tcp/$1/$2" || exit 1
        printf "GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n" "$3" "$1" "$2" >&3
        IFS=" " read -r _ status _ <&3
        printf "%s" "$status"
    ' _ "$host" "$port" "$path" 2>/dev/null)" || code=""
    printf '%s' "${code:-000}"
}

http_ok() {
    [[ "$(http_status "$1")" == 2* ]]
}

# port_in_use PORT — does anything accept TCP connections on localhost:PORT?
port_in_use() {
    # shellcheck disable=SC2016  # $1 is expanded by the inner bash, on purpose.
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# db_override_var BINARY — user-service -> USER_SERVICE_DATABASE_URL
db_override_var() {
    local name="${1^^}"
    printf '%s_DATABASE_URL\n' "${name//-/_}"
}

# ---------------------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------------------

build_services() {
    local -a packages=()
    local entry
    for entry in "$@"; do
        packages+=(-p "${entry%%:*}")
    done
    # The journey's client too, so `./setup-local.sh e2e` needs no build of its own.
    packages+=(-p e2e-flow)
    log "building ${packages[*]} (release)"
    cargo build --release --locked "${packages[@]}" || die "cargo build failed"
}

# wait_ready BINARY PORT PID — poll /ready every 0.5 s; true once it answers 2xx.
wait_ready() {
    local binary="$1" port="$2" pid="$3" tries
    tries=$(( READY_TIMEOUT * 2 ))
    while (( tries > 0 )); do
        if http_ok "http://localhost:$port/ready"; then
            return 0
        fi
        # No point waiting for a process that already exited.
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$binary exited during startup"
            return 1
        fi
        sleep 0.5
        tries=$(( tries - 1 ))
    done
    log "$binary did not become ready within ${READY_TIMEOUT}s"
    return 1
}

start_service() {
    local binary="$1" port="$2" dbname="$3" target_dir exe pid override db_url logfile
    target_dir="${CARGO_TARGET_DIR:-target}"
    exe="$target_dir/release/$binary"
    logfile="$LOG_DIR/$binary.log"

    if pid="$(live_pid "$binary")"; then
        log "$binary already running (pid $pid)"
        return 0
    fi
    rm -f "$(pid_file "$binary")"
    [[ -x "$exe" ]] || die "$exe not found after the build"
    if port_in_use "$port"; then
        die "port $port is already in use by another process; cannot start $binary"
    fi

    local -a db_env=()
    if [[ "$dbname" != - ]]; then
        override="$(db_override_var "$binary")"
        db_url="${!override:-}"
        if [[ -z "$db_url" ]]; then
            db_url="$(db_url_for "ticketing_$dbname")"
        fi
        db_env=(DATABASE_URL="$db_url")
    fi

    # Keep the previous run's log for post-mortems.
    if [[ -f "$logfile" ]]; then
        mv -f "$logfile" "$logfile.1"
    fi

    log "starting $binary on port $port"
    # setsid: own session, so a Ctrl-C in this terminal later does not reach the service.
    # setsid/nohup/env all exec, so $! is the service's own pid.
    local -a detach=(nohup)
    if command -v setsid >/dev/null 2>&1; then
        detach=(setsid nohup)
    fi
    env PORT="$port" "${db_env[@]}" LOG_FORMAT="${LOG_FORMAT:-json}" \
        "${detach[@]}" "$exe" >"$logfile" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$(pid_file "$binary")"

    if ! wait_ready "$binary" "$port" "$pid"; then
        log "last 30 lines of $logfile:"
        tail -n 30 "$logfile" >&2 || true
        # Do not leave a half-started service behind a pid file that says "running".
        stop_pid "$binary" "$pid"
        rm -f "$(pid_file "$binary")"
        exit 1
    fi
    log "$binary ready (pid $pid)"
}

run_after_start_hook() {
    if [[ -f scripts/after-start.sh ]]; then
        log "running scripts/after-start.sh"
        bash scripts/after-start.sh || die "scripts/after-start.sh failed"
    fi
}

# Where notification-service's e-mails go: an SMTP server when SMTP_URL is set, else .eml files
# in MAIL_DIR (log/mail/ by default).
setup_mail() {
    if [[ -z "${SMTP_URL:-}" ]]; then
        export MAIL_DIR="${MAIL_DIR:-$LOG_DIR/mail}"
        mkdir -p "$MAIL_DIR"
    fi
}

print_mail() {
    if [[ -n "${SMTP_URL:-}" ]]; then
        # Credentials in the URL are not printed.
        printf 'Mail: sent to the SMTP server at %s\n' "$(sed -E 's#//[^@/]*@#//#; s#\?.*##' <<<"$SMTP_URL")"
    else
        printf 'Mail: written as .eml files into %s (set SMTP_URL to send it)\n' "$MAIL_DIR"
    fi
}

print_summary() {
    local entry binary port mail=0
    printf '\n%-24s %-26s %s\n' SERVICE URL LOG
    for entry in "$@"; do
        IFS=: read -r binary port _ <<<"$entry"
        printf '%-24s %-26s %s\n' "$binary" "http://localhost:$port" "log/$binary.log"
        if [[ "$binary" == notification-service ]]; then
            mail=1
        fi
    done
    if (( mail )); then
        printf '\n'
        print_mail
    fi
    if [[ "${ADMIN_EMAIL:-}" == "$DEV_ADMIN_EMAIL" ]]; then
        printf '\nAdmin (development default): %s / %s\n' "$DEV_ADMIN_EMAIL" "$DEV_ADMIN_PASSWORD"
    elif [[ -n "${ADMIN_EMAIL:-}" ]]; then
        printf '\nAdmin: %s (ADMIN_EMAIL / ADMIN_PASSWORD as set)\n' "$ADMIN_EMAIL"
    fi
    if [[ -d crates/storefront ]]; then
        printf '\nThe shop: http://localhost:8000  (open it in a browser; organizers: log in as the admin)\n'
    fi
    printf '\nTry:  ./setup-local.sh e2e     (the buying journey, narrated)\n'
    printf '      curl http://localhost:8080/health\n'
    printf 'Stop: ./setup-local.sh stop\n'
}

# The admin the fleet gets in development when ADMIN_EMAIL/ADMIN_PASSWORD are unset, so that
# the journey (e2e-flow, whose defaults they are too) works out of the box. Never with
# APP_ENV=production: there the operator sets both or there is no admin.
DEV_ADMIN_EMAIL="admin@ticketing.local"
DEV_ADMIN_PASSWORD="development admin password"
if [[ "${APP_ENV:-}" != production && -z "${ADMIN_EMAIL:-}" && -z "${ADMIN_PASSWORD:-}" ]]; then
    export ADMIN_EMAIL="$DEV_ADMIN_EMAIL" ADMIN_PASSWORD="$DEV_ADMIN_PASSWORD"
fi

cmd_e2e() {
    local target_dir exe
    target_dir="${CARGO_TARGET_DIR:-target}"
    exe="$target_dir/release/e2e-flow"
    if [[ ! -x "$exe" ]]; then
        cargo build --release --locked -p e2e-flow || die "cargo build failed"
    fi
    mkdir -p "$LOG_DIR"
    local -a mail=()
    if [[ -z "${SMTP_URL:-}" ]]; then
        mail=(--mail-dir "$LOG_DIR/mail")
    fi
    "$exe" --log "$LOG_DIR/e2e-run.log" "${mail[@]}"
}

cmd_start() {
    local -a services
    local entry binary port dbname
    mapfile -t services < <(existing_services)
    (( ${#services[@]} > 0 )) || die "no service crates found under crates/"

    mkdir -p "$RUN_DIR" "$LOG_DIR"
    setup_mail
    ensure_postgres || die "PostgreSQL is required"
    build_services "${services[@]}"

    for entry in "${services[@]}"; do
        IFS=: read -r binary port dbname <<<"$entry"
        start_service "$binary" "$port" "$dbname"
    done

    run_after_start_hook
    print_summary "${services[@]}"
}

# ---------------------------------------------------------------------------------------
# stop / status
# ---------------------------------------------------------------------------------------

# stop_pid NAME PID — SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL.
stop_pid() {
    local name="$1" pid="$2" tries
    kill -TERM "$pid" 2>/dev/null || return 0
    tries=$(( STOP_TIMEOUT * 2 ))
    while (( tries > 0 )) && kill -0 "$pid" 2>/dev/null; do
        sleep 0.5
        tries=$(( tries - 1 ))
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) did not exit within ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

cmd_stop() {
    local file binary pid
    shopt -s nullglob
    for file in "$RUN_DIR"/*.pid; do
        binary="$(basename "$file" .pid)"
        if pid="$(live_pid "$binary")"; then
            log "stopping $binary (pid $pid)"
            stop_pid "$binary" "$pid"
        else
            log "$binary not running (stale pid file)"
        fi
        rm -f "$file"
    done
    shopt -u nullglob

    # Only a private cluster this tooling started; a system PostgreSQL is left alone.
    if private_postgres_started_by_script; then
        stop_private_postgres
    fi
}

cmd_status() {
    local entry binary port pid state ready all_ok=0
    printf '%-24s %-18s %s\n' SERVICE STATE "READY (http://localhost:PORT/ready)"
    while IFS= read -r entry; do
        IFS=: read -r binary port _ <<<"$entry"
        if pid="$(live_pid "$binary")"; then
            state="running ($pid)"
        else
            state="stopped"
            all_ok=3
        fi
        ready="$(http_status "http://localhost:$port/ready")"
        if [[ "$ready" == 000 ]]; then
            ready="no answer"
            all_ok=3
        fi
        printf '%-24s %-18s %s\n' "$binary" "$state" "$ready"
    done < <(existing_services)

    if [[ -d "$PG_PRIVATE_DIR/data" ]]; then
        if _pg_private_running; then
            printf '\nprivate PostgreSQL: running on 127.0.0.1:%s\n' "$PG_PRIVATE_PORT"
        else
            printf '\nprivate PostgreSQL: stopped\n'
        fi
    fi
    # LSB convention: 3 = not (fully) running.
    return "$all_ok"
}

usage() {
    printf 'usage: %s [start|stop|status|e2e]\n' "$0" >&2
}

main() {
    case "${1:-start}" in
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        e2e) cmd_e2e ;;
        -h | --help | help) usage ;;
        *) usage; exit 2 ;;
    esac
}

main "$@"
