#!/usr/bin/env bash
# scripts/bench-notification.sh — the notification figures of docs/performance.md.
#
#   scripts/bench-notification.sh [NOTIFICATIONS] [CONCURRENCIES] [OUTAGE_SECONDS]
#
# Builds notification-service's example `drain` (release) and runs it on a fresh database: for
# each send concurrency (default 8 and 32), a backlog of NOTIFICATIONS receipts (default 10 000,
# two QR codes each) written with the consumer's insert and sent by the service's own sender to
# a local SMTP server (the tests' sink, 127.0.0.1): e-mails per second, and that each arrived
# once. Then the outage run: the SMTP server down for OUTAGE_SECONDS (default 30) while the
# sender retries with its default back-off, then up: how long the backlog takes to drain.
set -euo pipefail

SCRIPT_NAME="scripts/bench-notification.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

NOTIFICATIONS="${1:-10000}"
CONCURRENCIES="${2:-8,32}"
OUTAGE_SECONDS="${3:-30}"
DB=ticketing_bench_notifications
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"

ensure_postgres
cargo build --release --locked -p notification-service --example drain
psql "$(db_url_for postgres)" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
RUST_LOG="${RUST_LOG:-error}" "$TARGET/release/examples/drain" \
    --database-url "$(db_url_for $DB)" -n "$NOTIFICATIONS" \
    --concurrency "$CONCURRENCIES" --outage-seconds "$OUTAGE_SECONDS"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
