#!/usr/bin/env bash
# scripts/bench-seatmap.sh — the seat map figures of docs/performance.md (issue 14).
#
#   scripts/bench-seatmap.sh [SEATS] [SECONDS_PER_RUN] [SUBSCRIBERS] [STREAM_SECONDS]
#
# Builds the release binaries, starts user-service (tokens) and seating-service on fresh
# databases (ports 18080 and 14000), and runs crates/loadtest's seatmap scenario: 32 buyers
# holding and releasing seats of a SEATS-seat event alone, then beside 64 clients polling
# `GET /v1/events/{id}/seatmap/status` as fast as they can, then beside the same 64 polling at
# 3 500 requests per second in all (the rate issue 14 asks for: what watching costs the buyers
# at that load, rather than at whatever the two shared cores give the readers); the answer
# sizes of a 20 000-seat event; then
# SUBSCRIBERS clients of `GET /v1/events/{id}/seatmap/stream` while the buyers run, each checked
# to end with the service's statuses, with the delay from a probe's request to delivery and the
# service's resident memory.
set -euo pipefail
# The load generator plays many buyers with one service token from one address: no rate limits.
export REGISTRATIONS_PER_ADDRESS_PER_MINUTE=0 HOLDS_PER_USER_PER_MINUTE=0 ORDERS_PER_USER_PER_MINUTE=0

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

SEATS="${1:-2000}"
SECONDS_PER_RUN="${2:-10}"
SUBSCRIBERS="${3:-1000}"
STREAM_SECONDS="${4:-20}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"

ensure_postgres
cargo build --release --locked -p user-service -p seating-service -p loadtest
for db in ticketing_bench_users ticketing_bench_seating; do
    psql "$(db_url_for postgres)" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done
# Each subscriber is a connection on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

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
seating_pid="${pids[1]}"
# Autovacuum may be off on the benchmark server: fresh statistics for the planner, every few
# seconds while the tables fill.
analyze_every 4 "$(db_url_for ticketing_bench_seating)"
pids+=("$ANALYZE_PID")

"$TARGET/release/loadtest" seatmap --seating-url http://127.0.0.1:14000 \
    --user-url http://127.0.0.1:18080 -n "$SEATS" -d "$SECONDS_PER_RUN" \
    --subscribers "$SUBSCRIBERS" --stream-duration "$STREAM_SECONDS" --service-pid "$seating_pid"
