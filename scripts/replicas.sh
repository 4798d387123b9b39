#!/usr/bin/env bash
# scripts/replicas.sh — two of everything, behind a real load balancer, under fire.
#
#   scripts/replicas.sh [BUYERS] [SECONDS]       defaults: 16 buyers, 15 s per phase
#
# Starts the fleet through scripts/lib/fleet.sh with FLEET_REPLICAS=2: two processes of each of
# the six services (their own ports, the same databases) and HAProxy in front, one port per
# service, health-checking each replica's /ready; every *_SERVICE_URL is the balancer's. Then:
#   1. the e2e journey (e2e-flow) through the balancer;
#   2. `loadtest purchase` with one replica of each service (the second ones stopped) and then
#      with two, the same load: orders per second, side by side;
#   3. the kill test: `loadtest purchase` again, and during it one replica of seating, order and
#      payment each is killed with SIGKILL and restarted 2 s later. Buyers send an order that got
#      no decision (a 502 from the balancer, a dropped connection, its key in flight at a dead
#      replica) again with the same Idempotency-Key. Afterwards the fleet-wide invariant (every
#      CONFIRMED order has one successful charge equal to its total and exactly its seats sold,
#      no seat sold twice, no other order kept a charge) and every confirmed order's receipt
#      SENT are checked, waiting for orders a dead replica left mid-saga to be resumed.
# Release binaries (cargo build --release) unless FLEET_BIN_DIR names a directory of binaries.
# Needs PostgreSQL (scripts/lib/postgres.sh finds or starts one) and haproxy (installed from
# Debian's packages when missing, as root). Exits non-zero when any step fails.
set -euo pipefail

SCRIPT_NAME="scripts/replicas.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() { log "$*"; exit 1; }

BUYERS="${1:-16}"
SECONDS_PER_PHASE="${2:-15}"

# shellcheck source=scripts/lib/fleet.sh
source "$REPO/scripts/lib/fleet.sh"

BIN_DIR="${FLEET_BIN_DIR:-}"
if [[ -z "$BIN_DIR" ]]; then
    log "building the release binaries"
    cargo build --release --locked -p user-service -p seating-service -p catalog-service \
        -p payment-service -p order-service -p notification-service -p e2e-flow -p loadtest
    BIN_DIR="${CARGO_TARGET_DIR:-$REPO/target}/release"
fi

ANALYZE_PID=""
cleanup() {
    local status=$?
    [[ -n "$ANALYZE_PID" ]] && kill "$ANALYZE_PID" 2>/dev/null || true
    fleet_exit "$status"
}
trap cleanup EXIT

export FLEET_NAME=replicas FLEET_REPLICAS=2
# 12 processes × 6 connections stay under PostgreSQL's 100.
export FLEET_DB_MAX_CONNECTIONS="${FLEET_DB_MAX_CONNECTIONS:-6}"
export FLEET_RUST_LOG="${FLEET_RUST_LOG:-warn}"
# The load comes from one address and a few buyers: the abuse limits are off, as in the other
# benchmarks. A step or an idempotency claim left by a killed replica is taken over after 10 s
# (ORDER_STEP_LEASE_SECONDS; REQUEST_TIMEOUT_SECONDS × 2) instead of the default minute, so the
# run does not wait a minute per kill; both still exceed the longest a step or request takes here.
export FLEET_EXTRA_ENV="REGISTRATIONS_PER_ADDRESS_PER_MINUTE=0 HOLDS_PER_USER_PER_MINUTE=0 \
ORDERS_PER_USER_PER_MINUTE=0 ORDER_STEP_LEASE_SECONDS=10 REQUEST_TIMEOUT_SECONDS=5 \
ORDER_RECOVERY_INTERVAL_MS=1000"
fleet_start "$BIN_DIR" || die "the replicated fleet did not start"

# PostgreSQL may run without autovacuum (this machine's does): keep the planner's statistics
# fresh while the runs create their events, as autovacuum would.
(
    while true; do
        for db in users seating catalog payments orders notifications; do
            psql "$(db_url_for "ticketing_replicas_${FLEET_RUN_ID}_$db")" -qc ANALYZE \
                >/dev/null 2>&1 || true
        done
        sleep 2
    done
) &
ANALYZE_PID=$!

loadtest() {
    "$BIN_DIR/loadtest" purchase --user-url "$USER_SERVICE_URL" \
        --catalog-url "$CATALOG_SERVICE_URL" --seating-url "$SEATING_SERVICE_URL" \
        --payment-url "$PAYMENT_SERVICE_URL" --order-url "$ORDER_SERVICE_URL" \
        --notification-url "$NOTIFICATION_SERVICE_URL" \
        --admin-email "$FLEET_ADMIN_EMAIL" --admin-password "$FLEET_ADMIN_PASSWORD" \
        -n 20000 -c "$BUYERS" -d "$SECONDS_PER_PHASE" "$@"
}

SERVICES=(user-service seating-service catalog-service payment-service order-service
    notification-service)
START=$SECONDS

echo "== 1. the journey, through the balancer"
ADMIN_EMAIL="$FLEET_ADMIN_EMAIL" ADMIN_PASSWORD="$FLEET_ADMIN_PASSWORD" \
    E2E_MAIL_DIR="$FLEET_DIR/mail" "$BIN_DIR/e2e-flow" --log "$FLEET_DIR/e2e-run.log" ||
    die "the journey failed through the balancer"

echo "== 2. one replica of each service, then two: $BUYERS buyers, ${SECONDS_PER_PHASE}s each"
for name in "${SERVICES[@]}"; do
    fleet_kill "$name" 2 TERM
done
sleep 2 # the balancer's checks (every 500 ms, down after 2) take them out
loadtest --retry-unavailable 20 --settle-seconds 30 | tee "$FLEET_DIR/one-replica.txt"
for name in "${SERVICES[@]}"; do
    fleet_restart "$name" 2 || die "$name/2 did not start again"
done
sleep 1
loadtest --retry-unavailable 20 --settle-seconds 30 | tee "$FLEET_DIR/two-replicas.txt"

echo "== 3. two replicas, one of seating, order and payment each killed (SIGKILL) during the run"
# The load runs in the background and the kills here: the restarted replicas stay this shell's
# children, which fleet_stop stops.
loadtest --retry-unavailable 200 --settle-seconds 90 --check-emails >"$FLEET_DIR/kill.txt" 2>&1 &
load=$!
sleep 3
for name in seating-service order-service payment-service; do
    fleet_kill "$name" 1 KILL
    sleep 2
    fleet_restart "$name" 1 || die "$name/1 did not start again"
    sleep 1
done
status=0
wait "$load" || status=$?
cat "$FLEET_DIR/kill.txt"
(( status == 0 )) || die "the kill test failed (see above)"

rate() { awk '/^confirmed orders\/s/ {print $3}' "$1"; }
echo
echo "== summary"
echo "confirmed orders/s, $BUYERS buyers: one replica $(rate "$FLEET_DIR/one-replica.txt"), two replicas $(rate "$FLEET_DIR/two-replicas.txt"), two with kills $(rate "$FLEET_DIR/kill.txt")"
echo "the journey passed; under the kills the invariant held and every confirmed order's receipt was sent"
echo "replicas.sh: done in $((SECONDS - START))s"
