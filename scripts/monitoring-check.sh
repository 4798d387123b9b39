#!/usr/bin/env bash
# scripts/monitoring-check.sh — Prometheus configuration, rules and Grafana dashboards, proven
# (CI via .ci/run).
#
#   scripts/monitoring-check.sh
#   USER_SERVICE_URL=... CATALOG_SERVICE_URL=... SEATING_SERVICE_URL=... ORDER_SERVICE_URL=... \
#   PAYMENT_SERVICE_URL=... NOTIFICATION_SERVICE_URL=... STOREFRONT_URL=... \
#   [E2E_FLOW=path/to/e2e-flow] scripts/monitoring-check.sh
#
# 1. promtool check config monitoring/prometheus.yml (and the rule files it names);
# 2. promtool check rules monitoring/rules/*.yml;
# 3. promtool test rules monitoring/rules/tests/*.yml: every alert fires, and stays silent;
# 4. the dashboards are what monitoring/grafana/generate.py writes, and the provisioning names
#    the data source the dashboards use;
# 5. no dead panel (scripts/monitoring_check.py): every expression of the rules and dashboards
#    parses, and, given the URLs of a running fleet (after the e2e journey; E2E_FLOW walks it
#    first), every metric it names is exported by the service it selects. Without the URLs this
#    step says so and checks the parsing only.
#
# promtool comes from Debian's `prometheus` package, installed here when missing (root, apt;
# its daemon is not started). PyYAML from the tools cache's virtualenv (scripts/lib/tools.sh).
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the checkout

SCRIPT_NAME="scripts/monitoring-check.sh"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/lib/tools.sh
source "$REPO/scripts/lib/tools.sh"
started=$SECONDS

ensure_promtool || die "promtool is not available"
ensure_k8s_venv || die "cannot install PyYAML"
PY="$K8S_VENV/bin/python"

log "promtool check config"
promtool check config monitoring/prometheus.yml
log "promtool check rules"
promtool check rules monitoring/rules/*.yml
log "promtool test rules"
promtool test rules monitoring/rules/tests/*.yml

log "dashboards up to date with monitoring/grafana/generate.py"
"$PY" monitoring/grafana/generate.py --check || die "dashboards out of date"
"$PY" - <<'PY' || die "Grafana provisioning does not match the dashboards"
import json, pathlib, sys, yaml
root = pathlib.Path("monitoring/grafana")
sources = yaml.safe_load((root / "provisioning/datasources/prometheus.yml").read_text())
uids = {d["uid"] for d in sources["datasources"]}
yaml.safe_load((root / "provisioning/dashboards/ticketing.yml").read_text())["providers"][0]
bad = []
for path in sorted((root / "dashboards").glob("*.json")):
    board = json.loads(path.read_text())
    for panel in board["panels"]:
        uid = panel.get("datasource", {}).get("uid")
        if uid and uid not in uids:
            bad.append(f"{path}: panel {panel['title']} uses data source {uid}")
print("\n".join(bad) or f"provisioning: data source {sorted(uids)} serves every panel")
sys.exit(1 if bad else 0)
PY

log "no dead panel: expressions parse, metrics exported"
"$PY" scripts/monitoring_check.py
log "done in $((SECONDS - started))s"
