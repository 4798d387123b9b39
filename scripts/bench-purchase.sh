#!/usr/bin/env bash
# scripts/bench-purchase.sh — the purchase figures of docs/performance.md.
#
#   scripts/bench-purchase.sh [SECONDS_PER_RUN] [CONCURRENCIES] [ONSALE_BUYERS] [ONSALE_SEATS]
#
# Builds the release binaries and starts user, catalog, seating, payment and order-service on
# fresh databases (ports 18080, 13002, 14000, 13004, 13007), and a sink in notification-service's
# place (13005). Then, with the simulated gateway answering at once and after 50 ms:
#
#   - `loadtest purchase` at each concurrency (default "8 32 64"): buyers ordering 2 seats of a
#     20 000-seat event with the payment in the call; confirmed orders/s, latency, and the
#     fleet-wide invariant afterwards; the CPU seconds each process spent during the run;
#   - beside it, the same concurrency against seating alone (`loadtest seating`, hold and release)
#     and payment alone (`loadtest payments`), so the reader sees where the time goes.
#
# Last, the hot on-sale: `loadtest onsale`, ONSALE_BUYERS (2000) buyers at once for ONSALE_SEATS
# (500) seats, every 10th card declined; exactly the seats sold, each once, no 5xx.
# GATEWAY_LATENCIES ("0 50") picks the gateway latencies; ONSALE_BUYERS=0 skips the on-sale.
set -euo pipefail
# The load generator plays many buyers with a few accounts from one address: no per-address or
# per-buyer rate limits here (the held-seat limit per buyer stays on).
export REGISTRATIONS_PER_ADDRESS_PER_MINUTE=0 HOLDS_PER_USER_PER_MINUTE=0 ORDERS_PER_USER_PER_MINUTE=0

SCRIPT_NAME="scripts/bench-purchase.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

SECONDS_PER_RUN="${1:-10}"
CONCURRENCIES="${2:-8 32 64}"
ONSALE_BUYERS="${3:-2000}"
ONSALE_SEATS="${4:-500}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
export ADMIN_EMAIL="bench-admin@ticketing.local" ADMIN_PASSWORD="bench admin password"

ensure_postgres
# The on-sale opens a connection per buyer.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
cargo build --release --locked -p user-service -p catalog-service -p seating-service \
    -p payment-service -p order-service -p loadtest
DBS=(users catalog seating payments orders)
for db in "${DBS[@]}"; do
    psql "$(db_url_for postgres)" -qc "DROP DATABASE IF EXISTS ticketing_bench_$db WITH (FORCE)"
done

export USER_SERVICE_URL=http://127.0.0.1:18080 CATALOG_SERVICE_URL=http://127.0.0.1:13002 \
    SEATING_SERVICE_URL=http://127.0.0.1:14000 PAYMENT_SERVICE_URL=http://127.0.0.1:13004 \
    ORDER_SERVICE_URL=http://127.0.0.1:13007 NOTIFICATION_SERVICE_URL=http://127.0.0.1:13005 \
    RUST_LOG=warn
declare -A pid_of=()
trap 'kill "${pid_of[@]}" 2>/dev/null || true' EXIT
start() { # NAME PORT DB [VAR=VALUE...]
    local name=$1 port=$2 db=$3
    shift 3
    env "$@" PORT="$port" DATABASE_URL="$(db_url_for "ticketing_bench_$db")" \
        "$TARGET/release/$name" > "/tmp/bench-$name.log" 2>&1 &
    pid_of[$name]=$!
    for _ in $(seq 1 600); do
        curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && return 0
        kill -0 "${pid_of[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    cat "/tmp/bench-$name.log"
    die "$name did not become ready"
}
stop() { # NAME
    kill "${pid_of[$1]}" 2>/dev/null || true
    wait "${pid_of[$1]}" 2>/dev/null || true
    unset "pid_of[$1]"
}

# CPU ticks (user + system) of a process, and of all of PostgreSQL's.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
    local total=0 pid
    for pid in $(pgrep -u postgres postgres 2>/dev/null || pgrep postgres); do
        total=$(( total + $(ticks "$pid") ))
    done
    echo "$total"
}
HZ=$(getconf CLK_TCK)
declare -A before=()
cpu_mark() {
    local name
    for name in "${!pid_of[@]}"; do before[$name]=$(ticks "${pid_of[$name]}"); done
    before[postgres]=$(pg_ticks)
}
cpu_report() { # SECONDS
    local name line="CPU seconds per process over the run:"
    for name in user-service catalog-service seating-service payment-service order-service; do
        [[ -n "${pid_of[$name]:-}" ]] || continue
        line+=" ${name%-service} $(awk -v t=$(( $(ticks "${pid_of[$name]}") - ${before[$name]} )) -v hz="$HZ" 'BEGIN{printf "%.1f", t/hz}')"
    done
    line+=" postgres $(awk -v t=$(( $(pg_ticks) - ${before[postgres]} )) -v hz="$HZ" 'BEGIN{printf "%.1f", t/hz}')"
    echo "$line (of $(( $1 * $(nproc) )) available)"
}

# notification-service's place: a sink that accepts the order.* messages (202), so the relay
# delivers as it does in the fleet without the e-mails' work in the figures
# (scripts/bench-notification.sh measures that).
python3 - <<'PY' > /tmp/bench-sink.log 2>&1 &
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", 13005), Sink).serve_forever()
PY
pid_of[sink]=$!

# The machine's PostgreSQL runs without autovacuum: without statistics the planner scans all of
# an event's seats where an index would do. Each run creates a 20 000-seat event, so keep the
# statistics fresh in the background, as autovacuum would.
analyze_urls=()
for db in "${DBS[@]}"; do analyze_urls+=("$(db_url_for "ticketing_bench_$db")"); done
analyze_every 2 "${analyze_urls[@]}"
pid_of[analyze]=$ANALYZE_PID

start user-service 18080 users
start seating-service 14000 seating
start catalog-service 13002 catalog
start order-service 13007 orders

for latency in ${GATEWAY_LATENCIES:-0 50}; do
    echo "== simulated gateway latency ${latency} ms"
    start payment-service 13004 payments SIMULATED_GATEWAY_LATENCY_MS="$latency"
    for c in $CONCURRENCIES; do
        echo "-- ${c} buyers"
        cpu_mark
        "$TARGET/release/loadtest" purchase --user-url "$USER_SERVICE_URL" \
            --catalog-url "$CATALOG_SERVICE_URL" --seating-url "$SEATING_SERVICE_URL" \
            --payment-url "$PAYMENT_SERVICE_URL" --order-url "$ORDER_SERVICE_URL" \
            -c "$c" -d "$SECONDS_PER_RUN" -n 20000
        cpu_report "$SECONDS_PER_RUN"
        "$TARGET/release/loadtest" seating --seating-url "$SEATING_SERVICE_URL" \
            --user-url "$USER_SERVICE_URL" -c "$c" -d "$SECONDS_PER_RUN" -n 20000 | tail -n 2
        "$TARGET/release/loadtest" payments --payment-url "$PAYMENT_SERVICE_URL" \
            --user-url "$USER_SERVICE_URL" -c "$c" -d "$SECONDS_PER_RUN" | tail -n 1
    done
    stop payment-service
    echo
done

(( ONSALE_BUYERS > 0 )) || exit 0
# Statistics for the planner after the runs' writes (autovacuum may be off).
for db in "${DBS[@]}"; do
    psql "$(db_url_for "ticketing_bench_$db")" -qc "ANALYZE" >/dev/null
done
echo "== hot on-sale"
start payment-service 13004 payments
"$TARGET/release/loadtest" onsale --user-url "$USER_SERVICE_URL" \
    --catalog-url "$CATALOG_SERVICE_URL" --seating-url "$SEATING_SERVICE_URL" \
    --payment-url "$PAYMENT_SERVICE_URL" --order-url "$ORDER_SERVICE_URL" \
    --buyers "$ONSALE_BUYERS" -n "$ONSALE_SEATS" --decline-every 10
