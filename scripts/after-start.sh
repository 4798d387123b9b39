#!/usr/bin/env bash
# scripts/after-start.sh — run by ./setup-local.sh once the services are ready.
#
# Seeds a demo catalogue (15 venues, 60 events of 120 seats, published to seating) when the
# catalogue is empty, so that a newcomer finds events on sale. Deterministic (seed 42); a
# catalogue that has events is left alone.
set -euo pipefail

SCRIPT_NAME="scripts/after-start.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
CATALOG="$TARGET/release/catalog-service"
if [[ ! -x "$CATALOG" ]]; then
    log "no catalog-service binary; no demo catalogue"
    exit 0
fi
[[ -n "${PG_ADMIN_URL:-}" ]] || ensure_postgres

DATABASE_URL="${CATALOG_SERVICE_DATABASE_URL:-$(db_url_for ticketing_catalog)}" \
    LOG_FORMAT=pretty RUST_LOG=warn \
    "$CATALOG" seed-demo --venues 15 --events 60 --seats 120 --seed 42 --if-empty
