#!/usr/bin/env bash
# scripts/bench-user-service.sh — the user-service figures of docs/performance.md.
#
#   scripts/bench-user-service.sh [CONCURRENCY] [SECONDS_PER_PHASE]
#
# Builds the release binaries, starts user-service on a fresh database (port 18080), and prints:
# start-up time to /ready, idle RSS, register/login//me//health throughput and latency
# (crates/loadtest), RSS after the load, and the in-process cost of verifying a token
# (user-service's example verify_token).
set -euo pipefail
# The load generator plays many buyers with a few accounts from one address: no per-address or
# per-buyer rate limits here (the held-seat limit per buyer stays on).
export REGISTRATIONS_PER_ADDRESS_PER_MINUTE=0 HOLDS_PER_USER_PER_MINUTE=0 ORDERS_PER_USER_PER_MINUTE=0

SCRIPT_NAME="scripts/bench-user-service.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

CONCURRENCY="${1:-8}"
SECONDS_PER_PHASE="${2:-10}"
PORT=18080
DB=ticketing_bench_users
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"

ensure_postgres
cargo build --release --locked -p user-service -p loadtest
cargo build --release --locked -p user-service --example verify_token
psql "$(db_url_for postgres)" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

started=$(date +%s%N)
PORT=$PORT DATABASE_URL="$(db_url_for $DB)" RUST_LOG=warn LOG_FORMAT=json \
    "$TARGET/release/user-service" > /tmp/bench-user-service.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1; do
    kill -0 $pid 2>/dev/null || { cat /tmp/bench-user-service.log; die "user-service died"; }
    sleep 0.01
done
ready=$(date +%s%N)
echo "start-up to /ready (fresh database: create + migrate + key generation): $(( (ready - started) / 1000000 )) ms"
sleep 2
echo "idle RSS: $(( $(rss_kib $pid) / 1024 )) MiB"

"$TARGET/release/loadtest" users --base-url "http://127.0.0.1:$PORT" -c "$CONCURRENCY" -d "$SECONDS_PER_PHASE"
echo "RSS after load: $(( $(rss_kib $pid) / 1024 )) MiB"
# The hashing queue under a registration flood (64 clients; the per-address throttle is off
# here, as for a flood from many addresses): logins beside it must still answer within 1 s.
"$TARGET/release/loadtest" flood --base-url "http://127.0.0.1:$PORT" -c 64 -d "$SECONDS_PER_PHASE"
echo "RSS after the flood: $(( $(rss_kib $pid) / 1024 )) MiB"
"$TARGET/release/examples/verify_token" --iterations 20000

kill -TERM $pid
wait $pid || true
trap - EXIT
echo "stopped cleanly on SIGTERM"
