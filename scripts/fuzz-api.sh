#!/usr/bin/env bash
# scripts/fuzz-api.sh — fuzz each service's OpenAPI document with schemathesis, all checks, against
# a fleet of its own; fails on any failure. CI runs it after scripts/postman.sh.
#
#   scripts/fuzz-api.sh                     the six services, one after the other
#   scripts/fuzz-api.sh user-service ...    only these services (the fleet starts whole)
#
# What it proves: every document is exact. Every status a route answers is documented, with its
# content type (`application/problem+json` for every error) and schema; every field rule the
# server applies is in the request schemas, so that what the schema allows is accepted
# (`positive_data_acceptance`) and what it forbids is refused (`negative_data_rejection`); no
# answer is a 5xx; a route that needs a token refuses none (`ignored_auth`); undocumented methods
# answer 405 with `Allow`. Stateful: schemathesis follows the links between operations (an id
# one answer returns, used by the next).
#
# The fleet: scripts/lib/fleet.sh starts the six services on free ports with fresh databases from
# the binaries of FLEET_BIN_DIR, or builds them (`cargo build --locked`, debug, what
# scripts/test.sh already built) and takes ${CARGO_TARGET_DIR:-target}/debug. Before fuzzing,
# scripts/fuzz_api.py creates a customer, a published event with seats, a draft, a hold and a
# paid order, and fetches tokens: the customer's, the fleet's admin (ADMIN_EMAIL/ADMIN_PASSWORD),
# and service tokens (order-service, catalog-service). Each operation is called with the token
# of who the contract lets call it, and the seeded ids are offered half of the time in place of
# random ones, so that valid requests reach the handlers and what lies behind a 404.
#
# schemathesis is pinned (scripts/lib/tools.sh) and installed from PyPI into
# ${TICKETING_TOOLS_DIR:-/var/tmp/ticketing-tools}/schemathesis-venv once per machine.
#
# Tunables: FUZZ_EXAMPLES (examples per operation and phase, 40), FUZZ_SEED (1: a run is
# reproducible), FUZZ_WORKERS (2). Output: schemathesis's report of each service, then one line per
# service (operations, cases, failures) and the total time; the reports (JUnit, and every failing
# request as a cURL command in the text output) are in log/fuzz-api/. The fleet's logs
# (log/fleet-<run>/) are kept when something failed.
set -euo pipefail

SCRIPT_NAME="scripts/fuzz-api.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/fleet.sh
source "$REPO/scripts/lib/fleet.sh"
# shellcheck source=scripts/lib/tools.sh
source "$REPO/scripts/lib/tools.sh"

case "${1:-}" in
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
esac

ensure_schemathesis || die "schemathesis could not be installed"

bin_dir="$(fleet_binaries)" || die "no binaries to run"
trap fleet_exit EXIT
trap 'exit 130' INT TERM
export FLEET_NAME=fuzz
# The fuzzer's garbage makes services log warnings by the thousand; errors are what matter.
export FLEET_RUST_LOG="${FLEET_RUST_LOG:-warn}"
fleet_start "$bin_dir" || die "the fleet did not start"

export FUZZ_REPORT_DIR="$REPO/log/fuzz-api"
rm -rf "$FUZZ_REPORT_DIR"
mkdir -p "$FUZZ_REPORT_DIR"
"$(dirname "$SCHEMATHESIS")/python" "$REPO/scripts/fuzz_api.py" "$SCHEMATHESIS" "$@"
