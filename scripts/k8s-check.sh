#!/usr/bin/env bash
# scripts/k8s-check.sh — the Kubernetes manifests, proven offline (CI via .ci/run).
#
#   scripts/k8s-check.sh
#
# For each overlay of k8s/ (development, production):
#   1. renders it with `kubectl kustomize` (kubectl is on the machine);
#   2. validates every object strictly (unknown fields are errors) against the JSON schemas of
#      Kubernetes $K8S_VERSIONS (default: 1.33.0, the oldest we support, and 1.37.0, the newest
#      kubernetes-validate knows) with kubernetes-validate;
# then runs scripts/k8s_check.py on the renders: probes, limits, non-root read-only pods, the grace
# period, every variable each service and the storefront needs (derived from the code and the
# contract), NetworkPolicies from the fleet's call graph, the Ingress's routes, replicas, the
# database connection budget; and its self-test, which breaks the renders in fourteen ways and
# expects each to be caught.
#
# kubernetes-validate and PyYAML are pinned in a virtualenv of the tools cache
# (${TICKETING_TOOLS_DIR:-/var/tmp/ticketing-tools}/k8s-venv, scripts/lib/tools.sh), installed
# from PyPI on the first run on a machine.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the checkout

SCRIPT_NAME="scripts/k8s-check.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/tools.sh
source "$REPO/scripts/lib/tools.sh"

K8S_VERSIONS="${K8S_VERSIONS:-1.33.0 1.37.0}"
started=$SECONDS

command -v kubectl >/dev/null 2>&1 || die "kubectl not found (it renders the kustomizations)"
ensure_k8s_venv || die "cannot install kubernetes-validate"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

args=()
for overlay in development production; do
    kubectl kustomize "k8s/overlays/$overlay" > "$out/$overlay.yaml" \
        || die "kubectl kustomize k8s/overlays/$overlay failed"
    objects=$(grep -c '^kind:' "$out/$overlay.yaml" || true)
    for version in $K8S_VERSIONS; do
        # --quiet prints only failures and warnings; the exit code says whether all passed.
        if ! "$K8S_VENV/bin/kubernetes-validate" --strict --quiet -k "$version" \
            "$out/$overlay.yaml"; then
            die "k8s/overlays/$overlay does not validate against Kubernetes $version"
        fi
        log "$overlay: $objects objects valid (strict) for Kubernetes $version"
    done
    args+=("$overlay=$out/$overlay.yaml")
done

"$K8S_VENV/bin/python" scripts/k8s_check.py --self-test "${args[@]}"
log "done in $((SECONDS - started))s"
