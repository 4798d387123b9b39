#!/usr/bin/env bash
# scripts/bench-catalog.sh — the catalog figures of docs/performance.md.
#
#   scripts/bench-catalog.sh [EVENTS] [SEATS_PER_EVENT] [CLIENTS] [SECONDS]
#
# Starts user-, seating- and catalog-service on fresh databases (ports 18080, 14000, 13002),
# times the demo generator for EVENTS x SEATS_PER_EVENT seats (published to seating), shows the
# plan of the benchmarked search, runs `loadtest get` on the search (two filters and paging)
# beside /health of the same process, and times the import of the original dataset.
set -euo pipefail
# The load generator plays many buyers with a few accounts from one address: no per-address or
# per-buyer rate limits here (the held-seat limit per buyer stays on).
export REGISTRATIONS_PER_ADDRESS_PER_MINUTE=0 HOLDS_PER_USER_PER_MINUTE=0 ORDERS_PER_USER_PER_MINUTE=0

SCRIPT_NAME="scripts/bench-catalog.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

EVENTS="${1:-10000}"
SEATS="${2:-100}"
CLIENTS="${3:-64}"
SECONDS_PER_RUN="${4:-10}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
DATASET="${ETSR_DATASET_DIR:-$REPO/../shared/etsr-dataset}"

ensure_postgres
cargo build --release --locked -p user-service -p seating-service -p catalog-service -p loadtest
for db in ticketing_bench_users ticketing_bench_seating ticketing_bench_catalog; do
    psql "$(db_url_for postgres)" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done

export USER_SERVICE_URL=http://127.0.0.1:18080 SEATING_SERVICE_URL=http://127.0.0.1:14000 \
    CATALOG_SERVICE_URL=http://127.0.0.1:13002 RUST_LOG=warn
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() { # NAME PORT DB
    PORT=$2 DATABASE_URL="$(db_url_for "$3")" "$TARGET/release/$1" > "/tmp/bench-$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 600); do
        curl -fsS "http://127.0.0.1:$2/ready" >/dev/null 2>&1 && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    cat "/tmp/bench-$1.log"
    die "$1 did not become ready"
}
start user-service 18080 ticketing_bench_users
start seating-service 14000 ticketing_bench_seating
start catalog-service 13002 ticketing_bench_catalog

CATALOG_DB="$(db_url_for ticketing_bench_catalog)"
echo "== generator: $EVENTS events x $SEATS seats, published to seating"
DATABASE_URL="$CATALOG_DB" "$TARGET/release/catalog-service" seed-demo \
    --venues 200 --events "$EVENTS" --seats "$SEATS" --seed 7

QUERY="city=Lisbon&type=concert&page=2&limit=20"
echo
echo "== plan of GET /v1/events?$QUERY (anonymous)"
psql "$CATALOG_DB" -qAt -c "ANALYZE" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
    SELECT e.id FROM events e JOIN venues v ON v.id = e.venue_id
    WHERE TRUE AND e.status <> 'DRAFT' AND e.event_type = 'concert' AND e.city_key = lower('Lisbon')
    ORDER BY e.starts_at, e.id LIMIT 20 OFFSET 20"

echo
echo "== search vs /health, $CLIENTS clients"
"$TARGET/release/loadtest" get -c "$CLIENTS" -d "$SECONDS_PER_RUN" \
    "http://127.0.0.1:13002/v1/events?$QUERY" "http://127.0.0.1:13002/health"

if [[ -d "$DATASET" ]]; then
    echo
    echo "== import of $DATASET"
    DATABASE_URL="$CATALOG_DB" "$TARGET/release/catalog-service" import-etsr "$DATASET"
fi
