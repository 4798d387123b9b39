#!/usr/bin/env bash
# scripts/deny.sh — the dependency policy in deny.toml, checked with cargo-deny (CI via .ci/run).
#
#   scripts/deny.sh [CHECK...]    default: licenses bans sources
#
# licenses: every crate's licence is one deny.toml allows (compatible with MIT OR Apache-2.0);
# bans: no second version of the heavy crates unless deny.toml skips it with a reason;
# sources: crates come from crates.io only.
#
# `advisories` is not a default: it fetches the RustSec database from GitHub, which these machines
# cannot reach. Where the network allows: `scripts/deny.sh advisories` (or `scripts/deny.sh` with
# every check: `scripts/deny.sh advisories licenses bans sources`).
#
# cargo-deny itself is built once per machine into ${TICKETING_TOOLS_DIR:-/var/tmp/ticketing-tools}
# (scripts/lib/tools.sh); later runs start at once.
set -euo pipefail

SCRIPT_NAME="scripts/deny.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# shellcheck source=scripts/lib/tools.sh
source "$REPO/scripts/lib/tools.sh"

ensure_cargo_deny || die "cargo-deny $CARGO_DENY_VERSION is not available"

checks=("$@")
if (( ${#checks[@]} == 0 )); then
    checks=(licenses bans sources)
fi

# CI logs keep one entry per finding; a developer also sees the graph of who pulls each crate.
options=()
if [[ -n "${CI:-}" ]]; then
    options+=(--hide-inclusion-graph)
fi

log "cargo-deny $CARGO_DENY_VERSION: check ${checks[*]}"
# --locked: check the lockfile as committed, never a re-resolved one.
cargo deny --locked check "${options[@]}" "${checks[@]}"
