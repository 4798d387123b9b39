#!/usr/bin/env bash
# scripts/bench-payment.sh — the payment figures of docs/performance.md.
#
#   scripts/bench-payment.sh [CLIENTS] [SECONDS]
#
# Starts user-service and payment-service (simulated gateway) on fresh databases, and runs
# `loadtest payments` twice: with the gateway answering at once, and with 50 ms of gateway
# latency (a real card network's order of magnitude).
set -euo pipefail
# The load generator plays many buyers with a few accounts from one address: no per-address or
# per-buyer rate limits here (the held-seat limit per buyer stays on).
export REGISTRATIONS_PER_ADDRESS_PER_MINUTE=0 HOLDS_PER_USER_PER_MINUTE=0 ORDERS_PER_USER_PER_MINUTE=0

SCRIPT_NAME="scripts/bench-payment.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

CLIENTS="${1:-32}"
SECONDS_PER_RUN="${2:-10}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"

ensure_postgres
cargo build --release --locked -p user-service -p payment-service -p loadtest
for db in ticketing_bench_users ticketing_bench_payments; do
    psql "$(db_url_for postgres)" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done

export USER_SERVICE_URL=http://127.0.0.1:18080 RUST_LOG=warn
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() { # NAME PORT DB [VAR=VALUE...]
    local name=$1 port=$2 db=$3
    shift 3
    env "$@" PORT="$port" DATABASE_URL="$(db_url_for "$db")" "$TARGET/release/$name" > "/tmp/bench-$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 600); do
        curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    cat "/tmp/bench-$name.log"
    die "$name did not become ready"
}
start user-service 18080 ticketing_bench_users

for latency in 0 50; do
    echo "== simulated gateway latency ${latency} ms"
    start payment-service 13004 ticketing_bench_payments SIMULATED_GATEWAY_LATENCY_MS="$latency"
    "$TARGET/release/loadtest" payments --payment-url http://127.0.0.1:13004 \
        --user-url http://127.0.0.1:18080 -c "$CLIENTS" -d "$SECONDS_PER_RUN"
    kill "${pids[-1]}"
    wait "${pids[-1]}" 2>/dev/null || true
    unset 'pids[-1]'
    echo
done
