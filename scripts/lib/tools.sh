#!/usr/bin/env bash
# shellcheck shell=bash
#
# scripts/lib/tools.sh — developer tools the checks need that are not part of the toolchain.
# Sourced by scripts/deny.sh:
#
#     source "$REPO/scripts/lib/tools.sh"
#     ensure_cargo_deny || exit 1     # puts cargo-deny on PATH
#
# Tools live in a cache outside the clone, like CI's target dir (/var/tmp/ticketing-target):
# ${TICKETING_TOOLS_DIR:-/var/tmp/ticketing-tools}/bin. The first run on a machine builds them
# from crates.io with `cargo install --locked` (pinned version, the crate's own lockfile); every
# later run, and every later clone, finds the binary there and costs nothing. The build uses its
# own target dir under the tools dir, removed afterwards (the binary is all that is kept).
#
# Sourced, so no `set -euo pipefail` here (see scripts/lib/postgres.sh, which it sources for log
# and die).

if [[ -n "${_TICKETING_TOOLS_LIB_LOADED:-}" ]]; then
    return 0
fi
_TICKETING_TOOLS_LIB_LOADED=1

REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

TOOLS_DIR="${TICKETING_TOOLS_DIR:-/var/tmp/ticketing-tools}"

# The version deny.toml is written for. Changing it rebuilds the cache on the next run.
CARGO_DENY_VERSION="0.20.2"

# _tool_version BIN — the version a `NAME --version` prints as "NAME X.Y.Z", or nothing.
_tool_version() {
    "$1" --version 2>/dev/null | awk '{ print $2; exit }'
}

# ensure_cargo_deny — make the pinned cargo-deny the one on PATH, building it into the tools
# cache when it is missing or another version. The cold build (141 crates, downloads included)
# took 3 min 34 s on the 2-core CI machine while other builds ran; a warm run costs nothing.
ensure_cargo_deny() {
    local bin="$TOOLS_DIR/bin/cargo-deny" started=$SECONDS
    if [[ -x "$bin" && "$(_tool_version "$bin")" == "$CARGO_DENY_VERSION" ]]; then
        export PATH="$TOOLS_DIR/bin:$PATH"
        return 0
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        log "cargo not found (install Rust via https://rustup.rs)"
        return 1
    fi
    log "building cargo-deny $CARGO_DENY_VERSION into $TOOLS_DIR (once per machine; takes minutes)"
    mkdir -p "$TOOLS_DIR"
    # --force: replaces another version left in the cache.
    if ! CARGO_TARGET_DIR="$TOOLS_DIR/build" cargo install cargo-deny --locked --force \
        --version "$CARGO_DENY_VERSION" --root "$TOOLS_DIR"; then
        rm -rf "$TOOLS_DIR/build"
        log "cargo install cargo-deny $CARGO_DENY_VERSION failed"
        return 1
    fi
    rm -rf "$TOOLS_DIR/build"
    log "cargo-deny $CARGO_DENY_VERSION installed in $((SECONDS - started))s"
    export PATH="$TOOLS_DIR/bin:$PATH"
}
