#!/usr/bin/env bash
# scripts/bench-storefront.sh — the storefront's event page under an on-sale (issue 16,
# docs/performance.md "storefront: the event page under an on-sale").
#
#   scripts/bench-storefront.sh [SEATS] [SECONDS_PER_RUN]        defaults: 2000 seats, 10 s
#
# Builds the release binaries (unless FLEET_BIN_DIR names a directory of them), starts the six
# services and the storefront through scripts/lib/fleet.sh on fresh databases, and makes a
# published SEATS-seat event (rows of 50) with `loadtest event`. Then, with wrk at CONNECTIONS
# (32) connections, each run SECONDS_PER_RUN long:
#   1. the on-sale alone: `loadtest holds`, BUYERS (32) buyers holding 2 random seats of the event
#      and releasing them at once (the holds/s every other figure is set beside);
#   2. the storefront's event page `GET /events/{id}` (the event and its whole seat map as HTML)
#      alone, then while the on-sale's holds run;
#   3. seating's `GET /v1/events/{id}/seatmap` (the JSON map the page shows) alone, then with
#      the holds; `GET /v1/events/{id}/seatmap/status` (the compact status) alone, for reference.
# wrk sends `Accept-Encoding: gzip` and a returning visitor's session cookie, as a browser does.
# Each run prints req/s, p99, the holds/s beside it, and the CPU milliseconds storefront, seating
# and catalog spent per request. Last, the page's weight: its HTML raw and gzipped, and its CSS
# and script. Needs PostgreSQL (scripts/lib/postgres.sh) and wrk (installed from Debian's
# packages when missing, as root).
set -euo pipefail

SCRIPT_NAME="scripts/bench-storefront.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/fleet.sh
source "$REPO/scripts/lib/fleet.sh"
# shellcheck source=scripts/lib/tools.sh
source "$REPO/scripts/lib/tools.sh"

SEATS="${1:-2000}"
SECONDS_PER_RUN="${2:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
BUYERS="${BUYERS:-32}"

ensure_wrk || die "wrk is required"
BIN_DIR="${FLEET_BIN_DIR:-}"
if [[ -z "$BIN_DIR" ]]; then
    log "building the release binaries"
    cargo build --release --locked -p user-service -p seating-service -p catalog-service \
        -p payment-service -p order-service -p notification-service -p storefront -p loadtest
    BIN_DIR="${CARGO_TARGET_DIR:-$REPO/target}/release"
fi

ANALYZE_PID=""
OUT="$(mktemp -d)"
cleanup() {
    local status=$?
    [[ -n "$ANALYZE_PID" ]] && kill "$ANALYZE_PID" 2>/dev/null || true
    rm -rf "$OUT"
    fleet_exit "$status"
}
trap cleanup EXIT

export FLEET_NAME=storefront FLEET_RUST_LOG="${FLEET_RUST_LOG:-warn}"
# The services' pools: 10 each (six pools, 60 connections, under PostgreSQL's 100).
export FLEET_DB_MAX_CONNECTIONS="${FLEET_DB_MAX_CONNECTIONS:-10}"
# The load comes from one address and one service token: the abuse limits are off, as in the
# other benchmarks.
export FLEET_EXTRA_ENV="REGISTRATIONS_PER_ADDRESS_PER_MINUTE=0 HOLDS_PER_USER_PER_MINUTE=0 \
ORDERS_PER_USER_PER_MINUTE=0"
fleet_start "$BIN_DIR" || die "the fleet did not start"
fleet_start_storefront || die "the storefront did not start"

event="$("$BIN_DIR/loadtest" event --user-url "$USER_SERVICE_URL" \
    --catalog-url "$CATALOG_SERVICE_URL" --seating-url "$SEATING_SERVICE_URL" \
    --admin-email "$FLEET_ADMIN_EMAIL" --admin-password "$FLEET_ADMIN_PASSWORD" -n "$SEATS")" ||
    die "the event could not be made"
# Publishing hands the inventory to seating; the map is there once its status answers.
deadline=$(( SECONDS + 30 ))
until curl -fsS -o /dev/null "$SEATING_SERVICE_URL/v1/events/$event/seatmap/status"; do
    (( SECONDS < deadline )) || die "seating has no seat map for event $event after 30 s"
    sleep 0.2
done
log "event $event: $SEATS seats, on sale"

# PostgreSQL may run without autovacuum (this machine's does): fresh statistics for the
# planner now and every few seconds while the holds churn, as autovacuum would.
analyze_every 4 "$(db_url_for "ticketing_storefront_${FLEET_RUN_ID}_seating")" \
    "$(db_url_for "ticketing_storefront_${FLEET_RUN_ID}_catalog")"

PAGE="$STOREFRONT_URL/events/$event"
MAP="$SEATING_SERVICE_URL/v1/events/$event/seatmap"
# A returning visitor: the session cookie of a first visit (a page without one makes a session
# and sets its cookie on every answer).
COOKIE="$(curl -fsS -o /dev/null -c - "$PAGE" | awk '$6 == "storefront_session" { print $6 "=" $7 }')"
[[ -n "$COOKIE" ]] || die "the event page set no session cookie"

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$1/stat"
}
PIDS=("$(fleet_pid storefront)" "$(fleet_pid seating-service)" "$(fleet_pid catalog-service)")

# run NAME URL HOLDS — wrk on URL (HOLDS=1: while the buyers hold and release); one line of
# results appended to $OUT/table.
run() {
    local name="$1" url="$2" holds="$3" load="" i requests rps p99 errors held="-"
    local -a before after cost
    for i in "${!PIDS[@]}"; do before[i]="$(cpu_seconds "${PIDS[i]}")"; done
    if (( holds )); then
        # A second longer than wrk: the buyers get their token and the seat ids first.
        "$BIN_DIR/loadtest" holds --seating-url "$SEATING_SERVICE_URL" \
            --user-url "$USER_SERVICE_URL" --event "$event" -c "$BUYERS" \
            -d $(( SECONDS_PER_RUN + 1 )) >"$OUT/holds.txt" 2>&1 &
        load=$!
        sleep 0.5
    fi
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -H 'Accept-Encoding: gzip' \
        -H "Cookie: $COOKIE" "$url" >"$OUT/wrk.txt"
    for i in "${!PIDS[@]}"; do after[i]="$(cpu_seconds "${PIDS[i]}")"; done
    if [[ -n "$load" ]]; then
        wait "$load" || { cat "$OUT/holds.txt" >&2; die "the holds failed"; }
        held="$(awk '/^holds\/s/ { print $2 }' "$OUT/holds.txt")"
    fi
    requests="$(awk '/requests in/ { print $1 }' "$OUT/wrk.txt")"
    rps="$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$OUT/wrk.txt")"
    # wrk prints "99%  12.34ms" (or us, or s): in milliseconds.
    p99="$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
        printf "%.1f", v * (u == "us" ? 0.001 : u == "s" ? 1000 : 1) }' "$OUT/wrk.txt")"
    errors="$(awk '/Non-2xx|Socket errors/' "$OUT/wrk.txt")"
    [[ -z "$errors" ]] || { cat "$OUT/wrk.txt" >&2; die "$name: $errors"; }
    for i in "${!PIDS[@]}"; do
        cost[i]="$(awk -v a="${after[i]}" -v b="${before[i]}" -v n="$requests" \
            'BEGIN { printf "%.2f", (a - b) * 1000 / n }')"
    done
    printf '%-38s %8s %8s %9s %8s %8s %8s\n' "$name" "$rps" "$p99" "$held" \
        "${cost[0]}" "${cost[1]}" "${cost[2]}" | tee -a "$OUT/table"
}

START=$SECONDS
log "$CONNECTIONS connections, ${SECONDS_PER_RUN}s per run, $BUYERS buyers holding 2 seats"
# Warm-up: the storefront's layout cache and connections, seating's map.
wrk -t2 -c"$CONNECTIONS" -d2s -H 'Accept-Encoding: gzip' -H "Cookie: $COOKIE" "$PAGE" >/dev/null
"$BIN_DIR/loadtest" holds --seating-url "$SEATING_SERVICE_URL" --user-url "$USER_SERVICE_URL" \
    --event "$event" -c "$BUYERS" -d "$SECONDS_PER_RUN" >"$OUT/alone.txt" ||
    { cat "$OUT/alone.txt" >&2; die "the holds failed"; }
alone="$(awk '/^holds\/s/ { print $2 }' "$OUT/alone.txt")"

printf '%-38s %8s %8s %9s %8s %8s %8s\n' "GET, $CONNECTIONS connections" "req/s" "p99 ms" \
    "holds/s" "front" "seating" "catalog" >"$OUT/table"
run "event page (HTML)" "$PAGE" 0
run "event page (HTML), with holds" "$PAGE" 1
run "seatmap (JSON)" "$MAP" 0
run "seatmap (JSON), with holds" "$MAP" 1
run "seatmap/status" "$MAP/status" 0

size() { # URL [curl options...]: bytes of the body as sent
    curl -fsS -o /dev/null -w '%{size_download}' -H "Cookie: $COOKIE" "$@"
}
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1024 }'; }
html="$(size "$PAGE")" html_gz="$(size "$PAGE" -H 'Accept-Encoding: gzip')"
css="$(size "$STOREFRONT_URL/static/app.css")"
css_gz="$(size "$STOREFRONT_URL/static/app.css" -H 'Accept-Encoding: gzip')"
js="$(size "$STOREFRONT_URL/static/seatmap.js")"
js_gz="$(size "$STOREFRONT_URL/static/seatmap.js" -H 'Accept-Encoding: gzip')"
json="$(size "$MAP")" status="$(size "$MAP/status")"

echo
echo "== storefront: the event page of a $SEATS-seat event under an on-sale"
echo "on-sale alone: $BUYERS buyers, $alone holds/s (hold + release of 2 seats)"
echo "CPU ms per request of the storefront, seating-service and catalog-service (user + system):"
cat "$OUT/table"
awk '/^event page \(HTML\) / { page = $(NF-5) } /^seatmap \(JSON\) / { map = $(NF-5) }
    END { if (map > 0) printf "event page ÷ seatmap JSON, req/s: %.2f\n", page / map }' "$OUT/table"
echo "weight of the event page: HTML $(kb "$html") raw, $(kb "$html_gz") gzip;" \
    "app.css $(kb "$css") ($(kb "$css_gz") gzip); seatmap.js $(kb "$js") ($(kb "$js_gz") gzip)"
echo "seating's answers: JSON map $(kb "$json"), status $(kb "$status") (not compressed)"
echo "bench-storefront.sh: done in $((SECONDS - START))s"
