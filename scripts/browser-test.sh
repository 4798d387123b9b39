#!/usr/bin/env bash
# scripts/browser-test.sh — the storefront in a real browser (crates/storefront/tests/browser.rs).
#
#   scripts/browser-test.sh [TEST_FILTER]
#
# Starts the six services and the storefront on free ports with fresh databases
# (scripts/lib/fleet.sh; binaries from FLEET_BIN_DIR or a debug build), and chromedriver; then runs
# the browser scenarios (ignored by a plain test run) with cargo-nextest (or cargo test). Debian's
# chromium and chromium-driver are installed with apt-get when missing (as root; otherwise it says
# what to install). Screenshots of every page land in log/browser/. CI runs it from .ci/run.
set -euo pipefail

SCRIPT_NAME="scripts/browser-test.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/fleet.sh
source "$REPO/scripts/lib/fleet.sh"
STARTED=$SECONDS

ensure_chromium() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        return 0
    fi
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        die "chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)"
    fi
    log "installing chromium and chromium-driver (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; } ||
        die "apt-get could not install chromium and chromium-driver"
}

ensure_chromium
bin_dir="$(fleet_binaries)" || die "no binaries to run"
# The test binary, built before the fleet starts (no compilation while the clock runs).
cargo build --locked -p storefront --tests >&2

driver_pid=""
on_exit() {
    local status=$?
    [[ -n "$driver_pid" ]] && kill "$driver_pid" 2>/dev/null
    fleet_exit "$status"
}
trap on_exit EXIT

FLEET_NAME=browser fleet_start "$bin_dir" || die "the fleet did not start"
fleet_start_storefront || die "the storefront did not start"

driver_port="$(_fleet_pick_port)"
chromedriver --port="$driver_port" >"$FLEET_DIR/chromedriver.log" 2>&1 &
driver_pid=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$driver_port/status" >/dev/null 2>&1 && break
    sleep 0.1
done
export WEBDRIVER_URL="http://127.0.0.1:$driver_port"
export SCREENSHOT_DIR="$REPO/log/browser"
rm -rf "$SCREENSHOT_DIR"
mkdir -p "$SCREENSHOT_DIR"
log "chromedriver on $WEBDRIVER_URL ($(chromium --version 2>/dev/null || echo chromium))"

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked -p storefront --test browser --run-ignored only \
        --no-fail-fast --test-threads 2 --success-output final "$@"
else
    cargo test --locked -p storefront --test browser -- --ignored --test-threads 2 "$@"
fi
log "browser scenarios passed in $((SECONDS - STARTED))s; screenshots in ${SCREENSHOT_DIR#"$REPO"/}"
