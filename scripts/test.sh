#!/usr/bin/env bash
# scripts/test.sh — the one command that checks the workspace (README, CI via .ci/run).
#
#   scripts/test.sh [ARGS...]     ARGS go to the test runner, e.g. a test-name filter.
#
# Steps: toolchain check, PostgreSQL, rustfmt, clippy (-D warnings), tests (cargo-nextest
# when installed, else cargo test), doctests. Stops at the first failing step with
# "FAILED: <step>" and a non-zero exit code.
set -euo pipefail

SCRIPT_NAME="scripts/test.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# shellcheck source=scripts/lib/postgres.sh
source "$REPO/scripts/lib/postgres.sh"

# CI may point CARGO_TARGET_DIR outside the clone to reuse earlier builds; keep it if set,
# otherwise cargo uses ./target.
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    export CARGO_TARGET_DIR
fi

# CI logs are plain text.
if [[ -n "${CI:-}" ]]; then
    export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
fi

# Shared data set used by later tests (if the checkout has it next to the repo).
if [[ -z "${ETSR_DATASET_DIR:-}" && -d "$REPO/../shared/etsr-dataset" ]]; then
    ETSR_DATASET_DIR="$(cd "$REPO/../shared/etsr-dataset" && pwd)"
fi
if [[ -n "${ETSR_DATASET_DIR:-}" ]]; then
    export ETSR_DATASET_DIR
fi

START_TIME=$SECONDS

# run_step NAME CMD... — run one step, print its duration, stop everything on failure.
run_step() {
    local name="$1" started=$SECONDS status=0
    shift
    log "==> $name"
    "$@" || status=$?
    if (( status != 0 )); then
        printf '\nFAILED: %s (exit %d after %ds)\n' "$name" "$status" "$((SECONDS - started))" >&2
        exit "$status"
    fi
    log "<== $name ok ($((SECONDS - started))s)"
}

# Fail early with a hint instead of a confusing cargo error.
check_toolchain() {
    local ok=1
    if ! command -v cargo >/dev/null 2>&1; then
        log "cargo not found (install Rust via https://rustup.rs)"
        return 1
    fi
    if ! cargo fmt --version >/dev/null 2>&1; then
        log "rustfmt missing: rustup component add rustfmt"
        ok=0
    fi
    if ! cargo clippy --version >/dev/null 2>&1; then
        log "clippy missing: rustup component add clippy"
        ok=0
    fi
    (( ok == 1 ))
}

start_postgres() {
    ensure_postgres || return 1
    # sqlx::test creates one database per test through this URL.
    export DATABASE_URL
    log "DATABASE_URL=$DATABASE_URL"
}

run_tests() {
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace --locked --no-fail-fast "$@"
    else
        log "cargo-nextest not installed; using cargo test"
        cargo test --workspace --locked --no-fail-fast "$@"
    fi
}

# nextest does not run doctests, so they always get their own (cheap) step. The runner
# arguments are not passed here: they may be nextest-only options.
run_doctests() {
    cargo test --workspace --doc --locked
}

main() {
    run_step "toolchain" check_toolchain
    run_step "postgres" start_postgres
    run_step "cargo fmt" cargo fmt --all -- --check
    run_step "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings

    # Keep test output small; tests that care set their own filters.
    export RUST_LOG="${RUST_LOG:-warn}"
    # Doctests first, so that the last runner summary in the log is the full suite's.
    run_step "doctests" run_doctests
    run_step "tests" run_tests "$@"

    printf 'scripts/test.sh: all checks passed in %ds\n' "$((SECONDS - START_TIME))"
}

main "$@"
