#!/usr/bin/env bash
# scripts/postman.sh — run the Postman collection (postman/) with newman, against a fleet of its own
# or one that already runs. CI runs it after scripts/test.sh.
#
#   scripts/postman.sh              start the six services on free ports with fresh databases
#                                   (scripts/lib/fleet.sh), run the collection, stop them, drop
#                                   the databases
#   scripts/postman.sh --running    use a fleet that runs: the URLs in USER_SERVICE_URL,
#                                   CATALOG_SERVICE_URL, … (each defaults to the port of
#                                   ./setup-local.sh); also chosen when USER_SERVICE_URL is set
#   scripts/postman.sh [--running] -- NEWMAN_ARGS...     extra arguments for `newman run`
#                                   (e.g. --bail: stop at the first failure; the folders build
#                                   on each other, so the collection runs whole)
#
# Its own fleet: the binaries of FLEET_BIN_DIR when set, otherwise it builds them
# (`cargo build --locked`, debug profile: what scripts/test.sh already built, so it costs little)
# and takes them from ${CARGO_TARGET_DIR:-target}/debug. The fleet's own admin and service client
# secrets (random, one run only) are handed to the collection.
# A running fleet: ADMIN_EMAIL / ADMIN_PASSWORD name its admin; unset, the environment file's
# development defaults (those of ./setup-local.sh) are used, for the services' client secrets too
# (other ones: -- --env-var orderServiceClientSecret=… and so on).
#
# newman is pinned in package.json / package-lock.json and installed with `npm ci` when missing.
# Output: newman's CLI report, its JSON report in log/postman/report.json (secrets masked), then
# one line with the counts; the exit code is non-zero on any failed request or assertion. The
# fleet's logs (log/fleet-<run>/) are kept when something failed, removed otherwise.
set -euo pipefail

SCRIPT_NAME="scripts/postman.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/fleet.sh
source "$REPO/scripts/lib/fleet.sh"

COLLECTION="postman/ticketing.postman_collection.json"
ENVIRONMENT="postman/local.postman_environment.json"
REPORT_DIR="$REPO/log/postman"
REPORT="$REPORT_DIR/report.json"
STARTED=$SECONDS

running=""
if [[ -n "${USER_SERVICE_URL:-}" ]]; then
    running=1
fi
newman_args=()
while (( $# > 0 )); do
    case "$1" in
        --running) running=1 ;;
        --) shift; newman_args=("$@"); break ;;
        -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

# ---------------------------------------------------------------------------------------
# newman, as pinned
# ---------------------------------------------------------------------------------------

ensure_newman() {
    local pinned installed=""
    command -v node >/dev/null 2>&1 || die "node is required (Node.js 16 or newer, with npm)"
    command -v npm >/dev/null 2>&1 || die "npm is required"
    pinned="$(node -p 'require("./package.json").dependencies.newman')"
    if [[ -x node_modules/.bin/newman ]]; then
        installed="$(node -p 'require("./node_modules/newman/package.json").version' 2>/dev/null || true)"
    fi
    if [[ "$installed" != "$pinned" ]]; then
        log "installing newman $pinned (npm ci)"
        npm ci --no-audit --no-fund --loglevel=error >/dev/null || die "npm ci failed"
    fi
}

# ---------------------------------------------------------------------------------------
# The fleet
# ---------------------------------------------------------------------------------------

own_fleet() {
    local bin_dir
    bin_dir="$(fleet_binaries)" || die "no binaries to run"
    trap fleet_exit EXIT
    trap 'exit 130' INT TERM
    export FLEET_NAME=postman
    fleet_start "$bin_dir" || die "the fleet did not start"
    run_vars=("adminEmail=$FLEET_ADMIN_EMAIL" "adminPassword=$FLEET_ADMIN_PASSWORD"
        "orderServiceClientSecret=$FLEET_CLIENT_SECRET_ORDER_SERVICE"
        "catalogServiceClientSecret=$FLEET_CLIENT_SECRET_CATALOG_SERVICE"
        "seatingServiceClientSecret=$FLEET_CLIENT_SECRET_SEATING_SERVICE")
}

running_fleet() {
    : "${USER_SERVICE_URL:=http://localhost:8080}" "${CATALOG_SERVICE_URL:=http://localhost:3002}"
    : "${SEATING_SERVICE_URL:=http://localhost:4000}" "${ORDER_SERVICE_URL:=http://localhost:3007}"
    : "${PAYMENT_SERVICE_URL:=http://localhost:3004}" "${NOTIFICATION_SERVICE_URL:=http://localhost:3005}"
    log "using the running fleet at $USER_SERVICE_URL, $CATALOG_SERVICE_URL, $SEATING_SERVICE_URL," \
        "$ORDER_SERVICE_URL, $PAYMENT_SERVICE_URL, $NOTIFICATION_SERVICE_URL"
    if [[ -n "${ADMIN_EMAIL:-}" && -n "${ADMIN_PASSWORD:-}" ]]; then
        run_vars=("adminEmail=$ADMIN_EMAIL" "adminPassword=$ADMIN_PASSWORD")
    fi
}

# ---------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------

ensure_newman
run_vars=()    # name=value pairs for the collection's environment, beside the file's
if [[ -n "$running" ]]; then
    running_fleet
else
    own_fleet
fi

args=(run "$COLLECTION" --environment "$ENVIRONMENT"
    --env-var "userUrl=$USER_SERVICE_URL" --env-var "catalogUrl=$CATALOG_SERVICE_URL"
    --env-var "seatingUrl=$SEATING_SERVICE_URL" --env-var "orderUrl=$ORDER_SERVICE_URL"
    --env-var "paymentUrl=$PAYMENT_SERVICE_URL" --env-var "notificationUrl=$NOTIFICATION_SERVICE_URL"
    --timeout-request 15000
    --reporters 'cli,json' --reporter-json-export "$REPORT")
for pair in "${run_vars[@]}"; do
    args+=(--env-var "$pair")
done
# CI logs: every request and every failure in full, not every passing assertion.
if [[ -n "${CI:-}" ]]; then
    args+=(--reporter-cli-no-success-assertions --color off)
fi

mkdir -p "$REPORT_DIR"
rm -f "$REPORT"
newman_status=0
node_modules/.bin/newman "${args[@]}" "${newman_args[@]}" || newman_status=$?

# The counts, from the JSON report; secrets (passwords, client secrets) masked in it.
if [[ -f "$REPORT" ]]; then
    SECRETS="$(printf '%s\n' "${run_vars[@]#*=}")" \
        node - "$REPORT" "$ENVIRONMENT" "$(( SECONDS - STARTED ))" <<'JS'
const fs = require('fs');
const [report, environment, elapsed] = process.argv.slice(2);
const env = JSON.parse(fs.readFileSync(environment, 'utf8'));
// The run's passwords and client secrets, and the file's secrets; not the e-mail address.
const secrets = (process.env.SECRETS || '').split('\n').filter((s) => !s.includes('@'))
  .concat(env.values.filter((v) => v.type === 'secret').map((v) => v.value))
  .filter((s) => s.length >= 6);
let text = fs.readFileSync(report, 'utf8');
for (const s of secrets) text = text.split(JSON.stringify(s).slice(1, -1)).join('***');
const data = JSON.parse(text);
// Answers as text (their first 4 KB) rather than newman's byte arrays: a tenth of the size.
for (const e of data.run.executions) {
  if (e.response && e.response.stream) {
    let body = Buffer.from(e.response.stream.data || []).toString('utf8');
    for (const s of secrets) body = body.split(s).join('***');
    e.response.body = body.length > 4096 ? body.slice(0, 4096) + '…' : body;
    delete e.response.stream;
  }
}
fs.writeFileSync(report, JSON.stringify(data, null, 1) + '\n');
const { stats, timings, executions } = data.run;
const requests = new Set(executions.map((e) => e.item.id)).size;
console.log(`postman: ${stats.requests.total} requests sent (${requests} distinct, the rest polling), ` +
  `${stats.assertions.total} assertions, ${stats.requests.failed} failed requests, ` +
  `${stats.assertions.failed} failed assertions; newman ${((timings.completed - timings.started) / 1000).toFixed(1)} s, ` +
  `script ${elapsed} s; report: log/postman/report.json`);
JS
fi
exit "$newman_status"
