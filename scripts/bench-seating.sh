#!/usr/bin/env bash
# scripts/bench-seating.sh — the seating figures of docs/performance.md.
#
#   scripts/bench-seating.sh [SEATS] [SECONDS_PER_RUN] [SEATS_PER_HOLD]
#
# Builds the release binaries, starts user-service (tokens) and seating-service on fresh
# databases (ports 18080 and 14000), and runs crates/loadtest's seating scenario for 8, 32 and
# 64 concurrent buyers, then for the last 1 % of an almost sold-out event. Each run prints HTTP
# holds/s, conflict rate and latency percentiles (every 50th hold is sold, the others released);
# then seating-service's example raw_holds runs the same statements as raw SQL by as many
# connections on the service's database and checks the invariant there; last, the ratio of the two.
set -euo pipefail
# The load generator plays many buyers with a few accounts from one address: no per-address or
# per-buyer rate limits here (the held-seat limit per buyer stays on).
export REGISTRATIONS_PER_ADDRESS_PER_MINUTE=0 HOLDS_PER_USER_PER_MINUTE=0 ORDERS_PER_USER_PER_MINUTE=0

SCRIPT_NAME="scripts/bench-seating.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

SEATS="${1:-2000}"
SECONDS_PER_RUN="${2:-10}"
PER_HOLD="${3:-2}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"

ensure_postgres
cargo build --release --locked -p user-service -p seating-service -p loadtest
cargo build --release --locked -p seating-service --example raw_holds
for db in ticketing_bench_users ticketing_bench_seating; do
    psql "$(db_url_for postgres)" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() { # NAME PORT DB
    PORT=$2 DATABASE_URL="$(db_url_for "$3")" RUST_LOG=warn USER_SERVICE_URL=http://127.0.0.1:18080 \
        "$TARGET/release/$1" > "/tmp/bench-$1.log" 2>&1 &
    pids+=($!)
    until curl -fsS "http://127.0.0.1:$2/ready" >/dev/null 2>&1; do sleep 0.05; done
}
start user-service 18080 ticketing_bench_users
start seating-service 14000 ticketing_bench_seating

http_out="$(mktemp)" raw_out="$(mktemp)"
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -f "$http_out" "$raw_out"' EXIT
# holds_and_conflicts FILE — "<holds/s> <conflict %>" from a run's summary line.
holds_and_conflicts() {
    sed -nE 's/^(HTTP|raw SQL) holds\/s ([0-9.]+), conflict rate ([0-9.]+)%$/\2 \3/p' "$1"
}
run() {
    "$TARGET/release/loadtest" seating --seating-url http://127.0.0.1:14000 \
        --user-url http://127.0.0.1:18080 \
        -n "$SEATS" -k "$PER_HOLD" -d "$SECONDS_PER_RUN" "$@" | tee "$http_out"
    "$TARGET/release/examples/raw_holds" --database-url "$(db_url_for ticketing_bench_seating)" \
        -n "$SEATS" -k "$PER_HOLD" -d "$SECONDS_PER_RUN" "$@" | tee "$raw_out"
    local http raw
    http="$(holds_and_conflicts "$http_out")" raw="$(holds_and_conflicts "$raw_out")"
    [[ -n "$http" && -n "$raw" ]] || die "a run printed no summary line"
    # shellcheck disable=SC2086  # "<holds/s> <conflict %>" each: four numbers, split on purpose
    awk 'BEGIN {
        ratio = ARGV[3] > 0 ? sprintf("%.2f", ARGV[1] / ARGV[3]) : "n/a"
        printf "HTTP holds/s %.0f, raw SQL holds/s %.0f, ratio %s; conflict rate HTTP %.1f%%, raw %.1f%%\n",
            ARGV[1], ARGV[3], ratio, ARGV[2], ARGV[4]
    }' $http $raw
    echo
}
for c in 8 32 64; do
    run -c "$c"
done
# The last 1 %: nothing sold during the run, or the few seats would be gone in a second.
run -c 32 --sold-fraction 0.99 --sell-every 0
