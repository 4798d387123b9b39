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
# connections on the service's database and checks the invariant there; then the lean baseline:
# pgbench runs, on the same database and the HTTP run's event, by as many clients, the least a hold
# needs (insert a hold and claim its seats with one conditional UPDATE; then mark it released and
# free them). Each run ends with HTTP, raw and lean holds/s and the ratios HTTP ÷ raw, HTTP ÷ lean.
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
command -v pgbench >/dev/null || die "pgbench is missing (Debian: apt-get install postgresql-client)"
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

SEATING_DB="$(db_url_for ticketing_bench_seating)"
http_out="$(mktemp)" raw_out="$(mktemp)" lean_out="$(mktemp)" lean_sql="$(mktemp)"
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -f "$http_out" "$raw_out" "$lean_out" "$lean_sql"' EXIT
# The lean pair, one pgbench transaction per hold attempt: k random seats of lean_pick (the event's
# unsold seats, numbered), claimed by one conditional UPDATE; short of k, rolled back (a conflict);
# else committed, then released in a second transaction.
cat > "$lean_sql" <<'SQL'
BEGIN;
INSERT INTO holds (id, event_id, holder_id, status, expires_at)
VALUES (gen_random_uuid(), :event, gen_random_uuid(), 'ACTIVE', now() + interval '15 minutes')
RETURNING id AS hold \gset
WITH claimed AS (
    UPDATE seats SET hold_id = :hold, held_until = now() + interval '15 minutes'
    WHERE event_id = :event
      AND id = ANY (ARRAY(SELECT id FROM lean_pick
                          WHERE n IN (SELECT 1 + floor(random() * :free)::int
                                      FROM generate_series(1, :k))))
      AND sold_order_id IS NULL AND (held_until IS NULL OR held_until <= now())
    RETURNING 1)
SELECT count(*) AS claimed FROM claimed \gset
\if :claimed = :k
COMMIT;
BEGIN;
UPDATE holds SET status = 'RELEASED', updated_at = now() WHERE id = :hold;
UPDATE seats SET hold_id = NULL, held_until = NULL WHERE hold_id = :hold AND sold_order_id IS NULL;
COMMIT;
\else
ROLLBACK;
\endif
SQL
# Autovacuum may be off on the benchmark server: each measurement starts on vacuumed tables with
# fresh statistics (the runs before left dead rows behind).
vacuum() { psql "$SEATING_DB" -qc "VACUUM ANALYZE" >/dev/null; }
# ...and the statistics stay fresh while a run churns, as autovacuum would keep them: the HTTP and
# raw runs create their event after the vacuum, so without this they ran on the statistics of the
# tables as they were before it (for the first run, an empty seats table) while the lean run had
# its event's, which cost the HTTP run at 8 buyers about a third of its holds (536 -> 776/s).
analyze_every 1 "$SEATING_DB"
pids+=("$ANALYZE_PID")
# lean CLIENTS EVENT — the lean pair's holds/s on EVENT, by CLIENTS pgbench clients.
lean() {
    local event=$2 free before after
    psql "$SEATING_DB" -qc "DROP TABLE IF EXISTS lean_pick;
        CREATE TABLE lean_pick AS SELECT row_number() OVER (ORDER BY id)::int AS n, id
            FROM seats WHERE event_id = '$event' AND sold_order_id IS NULL;
        ALTER TABLE lean_pick ADD PRIMARY KEY (n)" >/dev/null
    vacuum
    free="$(psql "$SEATING_DB" -Atc "SELECT count(*) FROM lean_pick")"
    before="$(psql "$SEATING_DB" -Atc "SELECT count(*) FROM holds WHERE event_id = '$event' AND status = 'RELEASED'")"
    pgbench -n -M prepared -c "$1" -j 2 -T "$SECONDS_PER_RUN" --max-tries 10 \
        -D event="$event" -D free="$free" -D k="$PER_HOLD" -f "$lean_sql" "$SEATING_DB" \
        | grep -E '^(number of (transactions actually processed|failed)|latency average|tps)'
    after="$(psql "$SEATING_DB" -Atc "SELECT count(*) FROM holds WHERE event_id = '$event' AND status = 'RELEASED'")"
    awk -v n="$((after - before))" -v s="$SECONDS_PER_RUN" 'BEGIN { printf "lean holds/s %.0f\n", n / s }'
}
# holds_and_conflicts FILE — "<holds/s> <conflict %>" from a run's summary line.
holds_and_conflicts() {
    sed -nE 's/^(HTTP|raw SQL) holds\/s ([0-9.]+), conflict rate ([0-9.]+)%$/\2 \3/p' "$1"
}
run() { # CLIENTS [OPTIONS of loadtest seating and raw_holds]
    local clients=$1
    shift
    vacuum
    "$TARGET/release/loadtest" seating --seating-url http://127.0.0.1:14000 \
        --user-url http://127.0.0.1:18080 \
        -n "$SEATS" -k "$PER_HOLD" -d "$SECONDS_PER_RUN" -c "$clients" "$@" | tee "$http_out"
    # The event the HTTP run just created, before raw_holds adds its own.
    local event
    event="$(psql "$SEATING_DB" -Atc "SELECT id FROM events ORDER BY created_at DESC LIMIT 1")"
    vacuum
    "$TARGET/release/examples/raw_holds" --database-url "$SEATING_DB" \
        -n "$SEATS" -k "$PER_HOLD" -d "$SECONDS_PER_RUN" -c "$clients" "$@" | tee "$raw_out"
    local http raw lean_holds
    lean "$clients" "$event" | tee "$lean_out"
    lean_holds="$(sed -nE 's/^lean holds\/s ([0-9.]+)$/\1/p' "$lean_out")"
    http="$(holds_and_conflicts "$http_out")" raw="$(holds_and_conflicts "$raw_out")"
    [[ -n "$http" && -n "$raw" && -n "$lean_holds" ]] || die "a run printed no summary line"
    # shellcheck disable=SC2086  # "<holds/s> <conflict %>" each: four numbers, split on purpose
    awk 'BEGIN {
        ratio = ARGV[3] > 0 ? sprintf("%.2f", ARGV[1] / ARGV[3]) : "n/a"
        lean = ARGV[5] > 0 ? sprintf("%.2f", ARGV[1] / ARGV[5]) : "n/a"
        printf "HTTP holds/s %.0f, raw SQL holds/s %.0f, lean holds/s %.0f; HTTP ÷ raw %s, HTTP ÷ lean %s; conflict rate HTTP %.1f%%, raw %.1f%%\n",
            ARGV[1], ARGV[3], ARGV[5], ratio, lean, ARGV[2], ARGV[4]
    }' $http $raw $lean_holds
    echo
}
for c in 8 32 64; do
    run "$c"
done
# The last 1 %: nothing sold during the run, or the few seats would be gone in a second.
run 32 --sold-fraction 0.99 --sell-every 0
