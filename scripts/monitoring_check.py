#!/usr/bin/env python3
"""No dead panel, no dead rule: every PromQL expression of the dashboards and the rules parses,
and, against a running fleet, every metric it names is exported.

    monitoring_check.py            (scripts/monitoring-check.sh runs it with the venv's Python)

1. Collects every expression: each rule of monitoring/rules/*.yml, each query of
   monitoring/grafana/dashboards/*.json, and each dashboard variable's query (label_values(X, l)
   is checked as X). Grafana's variables are replaced first ($__rate_interval by 5m, $instance
   by .*).
2. Parses them all offline: `promtool check rules` on a temporary file with one recording rule
   per expression (promtool has no offline `query`); a failure names the expression's source.
3. Names the metrics each expression reads: its vector selectors, with recording rules
   (level:metric:operation names defined in monitoring/rules) replaced by the metrics their own
   expressions read, and `up` (Prometheus's own) set aside.
4. When USER_SERVICE_URL, CATALOG_SERVICE_URL, SEATING_SERVICE_URL, ORDER_SERVICE_URL,
   PAYMENT_SERVICE_URL, NOTIFICATION_SERVICE_URL and STOREFRONT_URL are set (a running fleet;
   with E2E_FLOW set to the e2e-flow binary, the journey is walked first, so that the metrics of
   a purchase, a decline, a conflict and a refund exist), scrapes /metrics of the six and of the
   storefront and fails for every metric an expression names that the service it selects
   (job="...") does not export. It also
   lists, without failing:
   - series an expression selects by an exact label value that the scrape does not have yet
     (e.g. a reason that has not happened);
   - metric families the code registers (crates/*/src) that the scrape does not show: a
     labelled family has no series until its first event, so a dashboard or an alert cannot
     see it until then (and rate() misses that first event).
   Without the URLs, step 4 is skipped with a note. Where a URL is a load balancer in front of
   replicas (Compose's), METRICS_SCRAPES=N scrapes it N times and takes the union: each replica
   exports the series of the requests it served, and the dashboards sum over replicas.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
MON = REPO / "monitoring"
URL_VARS = {
    "user-service": "USER_SERVICE_URL",
    "catalog-service": "CATALOG_SERVICE_URL",
    "seating-service": "SEATING_SERVICE_URL",
    "order-service": "ORDER_SERVICE_URL",
    "payment-service": "PAYMENT_SERVICE_URL",
    "notification-service": "NOTIFICATION_SERVICE_URL",
    # Its own job and dashboard (monitoring/prometheus.yml): the HTTP metrics only.
    "storefront": "STOREFRONT_URL",
}
# Series Prometheus makes itself, not the services.
PROMETHEUS_OWN = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds",
                  "scrape_samples_scraped", "scrape_series_added"}
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "inf", "nan", "atan2"}
GRAFANA = [
    (re.compile(r"\$__rate_interval|\$\{__rate_interval\}"), "5m"),
    (re.compile(r"\$__interval|\$\{__interval\}"), "1m"),
    (re.compile(r"\$__range|\$\{__range\}"), "1h"),
    (re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}?"), ".*"),
]


def grafana_to_promql(expr: str) -> str:
    for pattern, value in GRAFANA:
        expr = pattern.sub(value, expr)
    return expr


def collect() -> tuple[list[tuple[str, str]], dict[str, str]]:
    """[(source, expression)] and the recording rules {name: expression}."""
    exprs: list[tuple[str, str]] = []
    records: dict[str, str] = {}
    for path in sorted((MON / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("record") or rule.get("alert")
                exprs.append((f"{path.relative_to(REPO)}: {name}", str(rule["expr"]).strip()))
                if "record" in rule:
                    records[rule["record"]] = str(rule["expr"])
    for path in sorted((MON / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        rel = path.relative_to(REPO)
        for var in board.get("templating", {}).get("list", []):
            query = var.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            if var.get("type") == "query" and query:
                m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", query)
                exprs.append((f"{rel}: variable {var['name']}",
                              grafana_to_promql(m.group(1) if m else query)))
        panels = list(board.get("panels", []))
        while panels:
            panel = panels.pop(0)
            panels += panel.get("panels", [])
            for target in panel.get("targets", []):
                if target.get("expr"):
                    exprs.append((f"{rel}: panel '{panel.get('title')}' {target.get('refId')}",
                                  grafana_to_promql(target["expr"])))
    return exprs, records


def parse_all(exprs: list[tuple[str, str]]) -> list[str]:
    """promtool check rules on one recording rule per expression; the failures, by source."""
    rules = {"groups": [{"name": "monitoring-check", "rules": [
        {"record": f"check:expression_{i}", "expr": e} for i, (_, e) in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(rules, f, sort_keys=False)
        name = f.name
    try:
        result = subprocess.run(["promtool", "check", "rules", name], capture_output=True,
                                text=True, check=False)
    finally:
        os.unlink(name)
    if result.returncode == 0:
        return []
    failures = []
    output = result.stdout + result.stderr
    for i, (source, expr) in enumerate(exprs):
        if re.search(rf"\bcheck:expression_{i}\b", output):
            failures.append(f"does not parse: {source}: {expr}")
    return failures or [f"promtool check rules failed:\n{output}"]


def selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """The vector selectors of an expression: (metric name, {label: value} of its `=` matchers)."""
    strings: list[str] = []

    def keep(m: re.Match) -> str:
        strings.append(m.group(0)[1:-1])
        return f"\x00{len(strings) - 1}\x00"

    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', keep, expr)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\boffset\s+-?\w+", " ", text)
    found = []
    pattern = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*(\{[^}]*\})|(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)")
    for m in pattern.finditer(text):
        name = m.group(1) or m.group(3)
        block = m.group(2) or ""
        rest = text[m.end():].lstrip()
        if m.group(3) and (rest.startswith("(") or name in KEYWORDS or
                           re.fullmatch(r"[0-9.eE+-]+", name)):
            continue
        matchers = {}
        for label, op, idx in re.findall(r"(\w+)\s*(=~|!=|!~|=)\s*\x00(\d+)\x00", block):
            if op == "=":
                matchers[label] = strings[int(idx)]
        if not name:
            name = matchers.pop("__name__", None)
            if not name:
                continue
        found.append((name, matchers))
    return found


def metrics_of(expr: str, records: dict[str, str], seen: frozenset = frozenset()):
    """(metric, matchers) the expression reads, through recording rules."""
    out = []
    for name, matchers in selectors(expr):
        if name in records and name not in seen:
            for inner, inner_matchers in metrics_of(records[name], records, seen | {name}):
                out.append((inner, {**inner_matchers, **{k: v for k, v in matchers.items()
                                                         if k == "job"}}))
        else:
            out.append((name, matchers))
    return out


def scrape(url: str) -> tuple[set[str], set[str], list[tuple[str, dict[str, str]]]]:
    """Families (# TYPE), sample names, and samples with their labels; METRICS_SCRAPES times
    (a balancer's round robin answers each from the next replica), united."""
    lines = []
    for _ in range(max(1, int(os.environ.get("METRICS_SCRAPES", "1")))):
        with urllib.request.urlopen(f"{url.rstrip('/')}/metrics", timeout=10) as r:
            lines.extend(r.read().decode().splitlines())
    families, names, samples, seen = set(), set(), [], set()
    for line in lines:
        if line.startswith("# TYPE "):
            families.add(line.split()[2])
        elif line and not line.startswith("#"):
            m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s", line)
            if m:
                names.add(m.group(1))
                labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
                key = (m.group(1), tuple(sorted(labels.items())))
                if key not in seen:
                    seen.add(key)
                    samples.append((m.group(1), labels))
    return families, names, samples


def registered_in_code() -> dict[str, str]:
    """Metric family -> file:line of its registration in the services' code."""
    pattern = re.compile(r'(?:counter_vec|counter|gauge|float_gauge|histogram_vec|histogram|'
                         r'Opts::new|HistogramOpts::new|IntGauge::new|Gauge::new|'
                         r'IntCounter::new)\(\s*"([a-z_][a-z0-9_]*)"')
    found = {}
    for path in sorted(REPO.glob("crates/*/src/**/*.rs")):
        if path.parts[-3] in ("loadtest", "e2e-flow", "test-support"):
            continue
        text = path.read_text()
        for m in pattern.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.setdefault(m.group(1), f"{path.relative_to(REPO)}:{line}")
    return found


def live_check(exprs, records) -> tuple[list[str], list[str]]:
    urls = {s: os.environ.get(v, "").strip() for s, v in URL_VARS.items()}
    if not all(urls.values()):
        missing = [v for s, v in URL_VARS.items() if not urls[s]]
        print(f"note: no running fleet given ({', '.join(missing)} unset): the metric names are "
              "not checked against /metrics. Start a fleet, walk the e2e journey, and run again "
              "with the six *_SERVICE_URL variables and STOREFRONT_URL (E2E_FLOW=<e2e-flow "
              "binary> walks it here).")
        return [], []
    e2e = os.environ.get("E2E_FLOW", "").strip()
    before = {}
    if e2e:
        before = {service: scrape(url) for service, url in urls.items()}
        print(f"walking the e2e journey first: {e2e}")
        subprocess.run([e2e, "--log", os.devnull], check=True)
    scraped = {}
    for service, url in urls.items():
        scraped[service] = scrape(url)
        print(f"scraped {url}/metrics ({service}): {len(scraped[service][0])} families, "
              f"{len(scraped[service][2])} samples")
    errors, notes = [], []
    for source, expr in exprs:
        for name, matchers in metrics_of(expr, records):
            if name in PROMETHEUS_OWN:
                continue
            job = matchers.get("job")
            services = [job] if job in scraped else list(scraped)
            where = [s for s in services if name in scraped[s][1]]
            if not where:
                errors.append(f"{source}: {name} is not exported by "
                              f"{job or 'any service of the fleet'}")
                continue
            wanted = {k: v for k, v in matchers.items() if k not in ("job", "instance")}
            if wanted and not any(n == name and all(l.get(k) == v for k, v in wanted.items())
                                  for s in where for n, l in scraped[s][2]):
                notes.append(f"{source}: no {name}{{{', '.join(f'{k}={v!r}' for k, v in wanted.items())}}}"
                             " series yet")
    code = registered_in_code()
    for service, (families, _, _) in before.items():
        for family in sorted(scraped[service][0] - families):
            if not family.startswith("http_"):
                notes.append(f"{service}: {family} ({code.get(family, '?')}) had no series before "
                             "the journey: it appears at its first event")
    exported = set().union(*(s[0] for s in scraped.values()))
    for family, where in sorted(code.items()):
        if family not in exported:
            notes.append(f"registered in {where} but not in any /metrics: {family} (a labelled "
                         "family shows no series until its first event)")
    return errors, notes


def github_anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def check_alerts() -> list[str]:
    """Each alert has a severity, a summary and a runbook section that exists, and its unit
    tests make it fire at least once and stay silent at least once."""
    errors = []
    doc = (REPO / "docs" / "operations.md").read_text()
    anchors = {github_anchor(h) for h in re.findall(r"^#+ (.+)$", doc, re.M)}
    fired, silent = set(), set()
    for path in sorted((MON / "rules" / "tests").glob("*.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (fired if case.get("exp_alerts") else silent).add(case["alertname"])
    alerts = set()
    for path in sorted((MON / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                name = rule["alert"]
                alerts.add(name)
                where = f"{path.relative_to(REPO)}: {name}"
                if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
                    errors.append(f"{where}: no severity critical, warning or info")
                notes = rule.get("annotations", {})
                if not notes.get("summary"):
                    errors.append(f"{where}: no summary")
                runbook = notes.get("runbook_url", "")
                m = re.fullmatch(r"docs/operations\.md#([a-z0-9_-]+)", runbook)
                if not m or m.group(1) not in anchors:
                    errors.append(f"{where}: runbook {runbook!r} is no section of "
                                  "docs/operations.md")
    for name in sorted(alerts):
        if name not in fired:
            errors.append(f"{name}: no unit test makes it fire (monitoring/rules/tests)")
        if name not in silent:
            errors.append(f"{name}: no unit test checks it stays silent (monitoring/rules/tests)")
    print(f"alerts: {len(alerts)}, each with severity, summary, runbook section, and tests that "
          f"fire it ({len(fired & alerts)}) and keep it silent ({len(silent & alerts)})")
    return errors


def main() -> int:
    exprs, records = collect()
    sources = {s.split(":")[0] for s, _ in exprs}
    print(f"{len(exprs)} expressions from {len(sources)} files "
          f"({sum('/rules/' in s for s, _ in exprs)} rules, "
          f"{sum('/dashboards/' in s for s, _ in exprs)} dashboard queries and variables)")
    alert_errors = check_alerts()
    errors = parse_all(exprs)
    print(f"parse (promtool check rules): {len(exprs) - len(errors)} of {len(exprs)} parse")
    names = sorted({n for _, e in exprs for n, _ in metrics_of(e, records)})
    print(f"metrics named ({len(names)}): {' '.join(names)}")
    live_errors, notes = live_check(exprs, records)
    errors += live_errors
    for note in sorted(set(notes)):
        print(f"note: {note}")
    for error in errors:
        print(f"FAIL {error}")
    checks = 2 if any(os.environ.get(v) for v in URL_VARS.values()) else 1
    errors += alert_errors
    for error in alert_errors:
        print(f"FAIL {error}")
    checks += 1
    failed = ((1 if len(errors) - len(live_errors) - len(alert_errors) else 0)
              + (1 if live_errors else 0) + (1 if alert_errors else 0))
    print(f"monitoring checks: {checks - failed} passed, {failed} failed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
