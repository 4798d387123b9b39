#!/usr/bin/env python3
"""Checks the rendered Kubernetes manifests (kubectl kustomize of an overlay) against the code.

    k8s_check.py OVERLAY=RENDERED.yaml [OVERLAY=RENDERED.yaml ...]   (development, production)
    k8s_check.py --self-test OVERLAY=RENDERED.yaml ...               (each check can fail)

scripts/k8s-check.sh renders the overlays and runs this with the venv's Python (PyYAML).

What is checked, for every overlay:

- every Deployment and StatefulSet: a readiness and a liveness probe (the six services and the
  storefront: readiness GET /ready, liveness GET /health, on their port), requests and limits for CPU and
  memory, a non-root pod (runAsNonRoot, a non-zero uid), no privilege escalation, a read-only
  root file system, all capabilities dropped; terminationGracePeriodSeconds longer than the
  preStop pause + REQUEST_TIMEOUT_SECONDS + the background tasks' stop (10 s, service-kit's
  tasks.rs);
- the six services and the storefront run one image, chosen by the command;
- every variable a service (or the storefront) must be given is set (the list, and where it
  comes from, is `required_variables` below: derived from the code, cross-checked against the
  contract's Configuration table);
- NetworkPolicies: each service is reachable from exactly its callers (derived from the code's
  map of the fleet, crates/service-kit/src/fleet.rs, and the storefront's configuration,
  crates/storefront/src/config.rs), the Ingress controller when the Ingress routes to it, and
  Prometheus; payment-service never from the Ingress; PostgreSQL from exactly the six; each may
  call (egress) each service it calls;
- the Ingress, read as ingress-nginx does (longest expression first): the shop at /, the API's
  paths to their services, and no /health, /ready or /metrics;
- the database connection budget: pods x DB_MAX_CONNECTIONS < PostgreSQL's max_connections (the
  storefront has no database).

development: one replica of each service and of the storefront, no autoscaler, every Secret a
pod needs rendered.
production: APP_ENV=production, no Secret rendered (they come from outside), no placeholder,
an autoscaler with at least 2 replicas and a disruption budget for each service and the
storefront.
"""

from __future__ import annotations

import copy
import os
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SERVICES = [
    "user-service",
    "catalog-service",
    "seating-service",
    "order-service",
    "payment-service",
    "notification-service",
]
# The web shop: deployed like a service (probes, image, Secret, policies, scaling), but not in
# fleet.rs (nothing calls it, it has no database and no service client): what it calls is read
# from its own config.rs.
STOREFRONT = "storefront"
APPS = SERVICES + [STOREFRONT]
# service-kit/src/tasks.rs RestartPolicy::default().shutdown_grace: the tasks' stop after the
# server's.
TASKS_STOP_SECONDS = 10
DEFAULT_REQUEST_TIMEOUT = 30  # service-kit/src/config.rs CommonConfig
DEFAULT_POOL = 10  # DB_MAX_CONNECTIONS default, service-kit/src/config.rs
INGRESS_CONTROLLER = {"kubernetes.io/metadata.name": "ingress-nginx"}
PROMETHEUS = {"kubernetes.io/metadata.name": "monitoring"}


# ---------------------------------------------------------------------------------------------
# What the code says
# ---------------------------------------------------------------------------------------------


def read(path: str) -> str:
    return (REPO / path).read_text()


def without_tests(source: str) -> str:
    """The source up to its `#[cfg(test)]` module."""
    return source.split("#[cfg(test)]", 1)[0]


def fn_body(source: str, name: str) -> str:
    """The text of `fn name` up to the next top-level item (good enough for these files)."""
    start = source.index(f"fn {name}")
    end = re.search(r"\n(pub )?(fn|impl|struct|enum|mod|const|#\[)", source[start + 1 :])
    return source[start : start + 1 + end.start()] if end else source[start:]


VAR = r'"([A-Z][A-Z0-9_]+)"'


def defaulted_reads(source: str) -> set[str]:
    """Variables read with `Env::string`/`Env::secret`: a development default that
    APP_ENV=production refuses (service-kit/src/config.rs).
    """
    return set(re.findall(r"\.\s*(?:string|secret)\(\s*" + VAR, source))


def url_reads(source: str) -> set[str]:
    """Variables read with `service_url(env, VAR, port)`: `Env::string`, so required in
    production (service-kit/src/config.rs)."""
    return set(re.findall(r"service_url\(\s*\w+\s*,\s*" + VAR, source))


def safe_reads(source: str) -> set[str]:
    """Variables read with `parse_or` (a default allowed in production), `optional`, or
    `signing_key` (required in production only: CONDITIONAL)."""
    return set(re.findall(
        r"\.\s*(?:parse_or(?:::<[^>]+>)?|optional|signing_key)\(\s*" + VAR, source))


class Fleet:
    """crates/service-kit/src/fleet.rs, read: names, URL variables, links, consumers."""

    def __init__(self) -> None:
        src = without_tests(read("crates/service-kit/src/fleet.rs"))
        variant_names = dict(re.findall(r'Self::(\w+) => "([a-z-]+-service)"', fn_body(src, "name")))
        self.name = {v: n for v, n in variant_names.items()}
        self.url_var = {
            self.name[v]: var
            for v, var in re.findall(r'Self::(\w+) => \("([A-Z_]+_SERVICE_URL)"', src)
        }
        self.links: dict[str, dict] = {}
        for arms, auth, calls, produces in re.findall(
            r"((?:Self::\w+\s*\|?\s*)+)=>\s*Links\s*\{\s*auth:\s*Auth::(\w+),\s*"
            r"calls:\s*&\[([^\]]*)\],\s*produces:\s*&\[([^\]]*)\]",
            fn_body(src, "links"),
        ):
            for variant in re.findall(r"Self::(\w+)", arms):
                self.links[self.name[variant]] = {
                    "auth": auth,
                    "calls": [self.name[c] for c in re.findall(r"Self::(\w+)", calls)],
                    "produces": re.findall(r"types::(\w+)", produces),
                }
        self.consumers: dict[str, list[str]] = {}
        for types_, services in re.findall(
            r"((?:types::\w+\s*\|?\s*)+)=>\s*&\[([^\]]*)\]", fn_body(src, "consumers_of")
        ):
            for t in re.findall(r"types::(\w+)", types_):
                self.consumers[t] = [self.name[s] for s in re.findall(r"Service::(\w+)", services)]
        missing = set(SERVICES) - set(self.links)
        if missing or len(self.url_var) != 6:
            raise SystemExit(f"k8s_check: could not read fleet.rs (links of {missing or 'all'})")
        # The storefront calls whichever services its config reads an address of.
        service_of = {var: name for name, var in self.url_var.items()}
        storefront = url_reads(without_tests(read("crates/storefront/src/config.rs")))
        self.storefront_calls = sorted(service_of[v] for v in storefront if v in service_of)
        if not self.storefront_calls:
            raise SystemExit("k8s_check: could not read the storefront's service URLs")

    def delivers_to(self, service: str) -> list[str]:
        out: list[str] = []
        for t in self.links[service]["produces"]:
            out += [c for c in self.consumers.get(t, []) if c not in out]
        return out

    def needs_token(self, service: str) -> bool:
        return bool(self.links[service]["calls"] or self.delivers_to(service))

    def peers(self, service: str) -> list[str]:
        """The services it reaches over HTTP: FleetConfig::from_env's `needed`; for the
        storefront, the URLs its config reads."""
        if service == STOREFRONT:
            return list(self.storefront_calls)
        peers = list(self.links[service]["calls"])
        peers += [c for c in self.delivers_to(service) if c not in peers]
        if (self.links[service]["auth"] == "Jwks" or self.needs_token(service)) and (
            "user-service" not in peers
        ):
            peers.append("user-service")
        return sorted(peers)

    def callers(self, service: str) -> list[str]:
        return sorted(s for s in APPS if service in self.peers(s))


# Variables whose need depends on another's value: (service, variable, value) -> required.
# From crates/payment-service/src/config.rs (STRIPE_API_KEY "required when
# PAYMENT_GATEWAY=stripe"); `conditional_requirements` checks the code still says so.
CONDITIONAL = {
    ("payment-service", "PAYMENT_GATEWAY", "stripe"): ["STRIPE_API_KEY"],
    # `Env::signing_key`: production refuses to generate the key unless
    # ALLOW_GENERATED_SIGNING_KEY=true, which this deployment does not set.
    ("user-service", "APP_ENV", "production"): ["JWT_SIGNING_KEY"],
    ("order-service", "APP_ENV", "production"): ["TICKET_SIGNING_KEY"],
}


def conditional_requirements() -> list[str]:
    src = read("crates/payment-service/src/config.rs")
    if '"STRIPE_API_KEY"' not in src or "required when PAYMENT_GATEWAY=stripe" not in src:
        return ["payment-service/src/config.rs no longer says STRIPE_API_KEY is required with "
                "PAYMENT_GATEWAY=stripe: update CONDITIONAL in scripts/k8s_check.py"]
    return []


def required_variables(fleet: Fleet) -> dict[str, dict[str, set[str]]]:
    """Per service: `required` (the service refuses to start without them under
    APP_ENV=production, or, in a cluster, would take a development default that points at
    localhost) and `known` (every variable its code reads).

    Where the list comes from:
    - the kit: `CommonConfig::from_env` (DATABASE_URL, and PORT, LOG_FORMAT,
      DB_MAX_CONNECTIONS, REQUEST_TIMEOUT_SECONDS with production-safe defaults),
      `RelayPolicy::from_env` (OUTBOX_*), telemetry (RUST_LOG), `Env` (APP_ENV);
    - the fleet's map: the URL variable of every peer (`FleetConfig::from_env`), and
      SERVICE_CLIENT_ID / SERVICE_CLIENT_SECRET when the service calls or delivers to others
      (`service_credentials`);
    - the service's own crates/<service>/src/config.rs: `env.string` / `env.secret` reads
      (required) and `parse_or` / `optional` reads (known, with a default);
    - CONDITIONAL above;
    - and the contract's Configuration table, cross-checked in `contract_cross_check`.
    Additionally required by this deployment's policy: APP_ENV, PORT, LOG_FORMAT,
    REQUEST_TIMEOUT_SECONDS (the grace period is computed from it) and DB_MAX_CONNECTIONS (the
    connection budget is computed from it).

    The storefront uses none of the kit's CommonConfig (no database, no service client): its
    crates/storefront/src/config.rs alone, whose `service_url` reads are the addresses of the
    services it calls; the same policy, less DB_MAX_CONNECTIONS.
    """
    kit = without_tests(read("crates/service-kit/src/config.rs"))
    common = fn_body(kit, "from_env")
    credentials = fn_body(kit, "service_credentials")
    relay = safe_reads(without_tests(read("crates/service-kit/src/messages/outbox.rs")))
    policy = {"APP_ENV", "PORT", "LOG_FORMAT", "REQUEST_TIMEOUT_SECONDS", "DB_MAX_CONNECTIONS"}
    out = {}
    for service in SERVICES:
        own = without_tests(read(f"crates/{service}/src/config.rs"))
        required = defaulted_reads(common) | defaulted_reads(own) | policy
        required |= {fleet.url_var[p] for p in fleet.peers(service)}
        if fleet.needs_token(service):
            required |= defaulted_reads(credentials)
        known = required | safe_reads(common) | safe_reads(own) | {"RUST_LOG"}
        if fleet.links[service]["produces"]:
            known |= relay
        for (svc, _var, _value), needs in CONDITIONAL.items():
            if svc == service:
                known |= set(needs)
        out[service] = {"required": required, "known": known}
    own = without_tests(read("crates/storefront/src/config.rs"))
    required = defaulted_reads(own) | url_reads(own) | (policy - {"DB_MAX_CONNECTIONS"})
    out[STOREFRONT] = {"required": required, "known": required | safe_reads(own) | {"RUST_LOG"}}
    return out


def contract_cross_check(needed: dict[str, dict[str, set[str]]], fleet: Fleet) -> list[str]:
    """Every variable the contract's Configuration table names for a service is read by its
    code (else the derivation above, or the contract, is out of date)."""
    path = Path(os.environ.get("API_CONTRACT", REPO.parent / "shared" / "api-contract.md"))
    if not path.is_file():
        print(f"note: {path} not found; the contract cross-check is skipped")
        return []
    text = path.read_text()
    section = text.split("## Configuration", 1)[1]
    errors = []
    short = {s.split("-")[0]: s for s in SERVICES}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        variables = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        who = cells[1]
        if who == "all":
            services = SERVICES
        elif who == "all but user":
            services = [s for s in SERVICES if s != "user-service"]
        elif who == "all that call them":
            services = SERVICES
        else:
            services = [short[w] for w in re.findall(r"[a-z]+", who) if w in short]
        for var in variables:
            for service in services:
                if who == "all that call them":
                    callee = next(s for s, v in fleet.url_var.items() if v == var)
                    if callee not in fleet.peers(service):
                        continue
                if who == "all but user" and not fleet.needs_token(service):
                    # SERVICE_CLIENT_*: read only by services that call or deliver (fleet.rs).
                    continue
                if var not in needed[service]["known"]:
                    errors.append(f"the contract names {var} for {service}, which its code "
                                  "does not read (scripts/k8s_check.py derivation out of date?)")
    return errors


# ---------------------------------------------------------------------------------------------
# What the render says
# ---------------------------------------------------------------------------------------------


def load(path: str) -> list[dict]:
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}


def effective_env(container: dict, docs: list[dict]) -> dict[str, dict]:
    """Variable -> where its value comes from: {"value": ...}, {"configMap": ...} or
    {"secret": name, "key": ..., "optional": bool}."""
    maps = by_kind(docs, "ConfigMap")
    env: dict[str, dict] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref and ref["name"] in maps:
            for k, v in (maps[ref["name"]].get("data") or {}).items():
                env[k] = {"value": v, "configMap": ref["name"]}
        elif ref:
            env[f"<configMap {ref['name']} missing>"] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = {"value": item["value"]}
        elif "secretKeyRef" in item.get("valueFrom", {}):
            r = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = {
                "secret": r["name"],
                "key": r["key"],
                "optional": bool(r.get("optional", False)),
            }
        elif "configMapKeyRef" in item.get("valueFrom", {}):
            r = item["valueFrom"]["configMapKeyRef"]
            value = (maps.get(r["name"], {}).get("data") or {}).get(r["key"])
            env[item["name"]] = {"value": value, "configMap": r["name"]}
    return env


def check_workloads(overlay: str, docs: list[dict], errors: list[str]) -> None:
    for kind in ("Deployment", "StatefulSet"):
        for name, d in by_kind(docs, kind).items():
            pod = d["spec"]["template"]["spec"]
            where = f"{overlay}: {kind} {name}"
            psc = pod.get("securityContext", {})
            for c in pod["containers"]:
                at = f"{where} container {c['name']}"
                csc = c.get("securityContext", {})
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in c:
                        errors.append(f"{at}: no {probe}")
                if name in APPS:
                    port = next((p["containerPort"] for p in c.get("ports", [])), None)
                    for probe, path in (("readinessProbe", "/ready"), ("livenessProbe", "/health")):
                        got = c.get(probe, {}).get("httpGet", {})
                        if got.get("path") != path or got.get("port") not in ("http", port):
                            errors.append(f"{at}: {probe} is not GET {path} on its port")
                res = c.get("resources", {})
                for level in ("requests", "limits"):
                    for r in ("cpu", "memory"):
                        if r not in res.get(level, {}):
                            errors.append(f"{at}: no {level}.{r}")
                non_root = csc.get("runAsNonRoot", psc.get("runAsNonRoot"))
                uid = csc.get("runAsUser", psc.get("runAsUser"))
                if non_root is not True:
                    errors.append(f"{at}: runAsNonRoot is not true")
                if uid in (None, 0):
                    errors.append(f"{at}: no non-zero runAsUser")
                if csc.get("allowPrivilegeEscalation") is not False:
                    errors.append(f"{at}: allowPrivilegeEscalation is not false")
                if csc.get("readOnlyRootFilesystem") is not True:
                    errors.append(f"{at}: readOnlyRootFilesystem is not true")
                if "ALL" not in csc.get("capabilities", {}).get("drop", []):
                    errors.append(f"{at}: capabilities are not all dropped")
                if name in APPS:
                    env = effective_env(c, docs)
                    timeout = int(env.get("REQUEST_TIMEOUT_SECONDS", {}).get("value")
                                  or DEFAULT_REQUEST_TIMEOUT)
                    pause = (c.get("lifecycle", {}).get("preStop", {}).get("sleep", {})
                             .get("seconds", 0))
                    grace = pod.get("terminationGracePeriodSeconds", 30)
                    if grace <= pause + timeout + TASKS_STOP_SECONDS:
                        errors.append(f"{at}: terminationGracePeriodSeconds {grace} is not "
                                      f"longer than preStop {pause} + REQUEST_TIMEOUT_SECONDS "
                                      f"{timeout} + tasks' stop {TASKS_STOP_SECONDS}")
                    if c.get("command") != [name]:
                        errors.append(f"{at}: command is not [{name}]")


def check_environment(overlay: str, docs: list[dict], needed, errors: list[str]) -> None:
    deployments = by_kind(docs, "Deployment")
    secrets = by_kind(docs, "Secret")
    images = set()
    for service in APPS:
        if service not in deployments:
            errors.append(f"{overlay}: no Deployment {service}")
            continue
        container = deployments[service]["spec"]["template"]["spec"]["containers"][0]
        images.add(container["image"])
        env = effective_env(container, docs)
        required = set(needed[service]["required"])
        for (svc, var, value), needs in CONDITIONAL.items():
            if svc == service and env.get(var, {}).get("value") == value:
                required |= set(needs)
        for var in sorted(required):
            source = env.get(var)
            if source is None:
                errors.append(f"{overlay}: {service} does not set {var}")
            elif source.get("optional"):
                errors.append(f"{overlay}: {service} takes {var} from an optional Secret key")
            elif "value" in source and not str(source["value"]).strip():
                errors.append(f"{overlay}: {service} sets {var} blank (a blank counts as unset)")
        for var, source in env.items():
            if var not in needed[service]["known"] and not var.endswith("_SERVICE_URL") and \
                    source.get("configMap") is None:
                errors.append(f"{overlay}: {service} sets {var}, which its code does not read")
            if "secret" in source and overlay != "production":
                s = secrets.get(source["secret"])
                data = {**(s or {}).get("data", {}), **(s or {}).get("stringData", {})}
                if not source["optional"] and source["key"] not in data:
                    errors.append(f"{overlay}: {service} needs key {source['key']} of Secret "
                                  f"{source['secret']}, which the render does not have")
        app_env = env.get("APP_ENV", {}).get("value")
        want = "production" if overlay == "production" else "development"
        if app_env != want:
            errors.append(f"{overlay}: {service} runs with APP_ENV={app_env}, not {want}")
        admin = [v for v in ("ADMIN_EMAIL", "ADMIN_PASSWORD") if v in env]
        if service == "user-service" and len(admin) == 1:
            errors.append(f"{overlay}: user-service sets {admin[0]} alone (both or neither)")
    if len(images) > 1:
        errors.append(f"{overlay}: the services and the storefront run different images: "
                      f"{sorted(images)}")
    text = yaml.safe_dump_all(docs)
    if overlay == "production":
        if secrets:
            errors.append(f"production: Secrets are rendered ({', '.join(sorted(secrets))}); they "
                          "must come from outside")
        if "CHANGE-ME" in text:
            errors.append("production: a CHANGE-ME placeholder is rendered")


def check_scaling(overlay: str, docs: list[dict], errors: list[str]) -> None:
    deployments = by_kind(docs, "Deployment")
    hpas = {d["spec"]["scaleTargetRef"]["name"]: d["spec"]
            for d in docs if d.get("kind") == "HorizontalPodAutoscaler"}
    pdbs = {tuple(d["spec"]["selector"]["matchLabels"].items())
            for d in docs if d.get("kind") == "PodDisruptionBudget"}
    pool = {}
    maxima = {}
    for service in APPS:
        d = deployments.get(service)
        if not d:
            continue
        c = d["spec"]["template"]["spec"]["containers"][0]
        # The storefront has no database: the ConfigMap's DB_MAX_CONNECTIONS is not its.
        pool[service] = 0 if service == STOREFRONT else int(
            effective_env(c, docs).get("DB_MAX_CONNECTIONS", {}).get("value") or DEFAULT_POOL)
        if (("app.kubernetes.io/name", service),) not in pdbs:
            errors.append(f"{overlay}: no PodDisruptionBudget for {service}")
        if overlay == "production":
            h = hpas.get(service)
            if not h:
                errors.append(f"production: no HorizontalPodAutoscaler for {service}")
                continue
            if h.get("minReplicas", 1) < 2:
                errors.append(f"production: {service} may run fewer than 2 replicas")
            surge = d["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxSurge", 1)
            maxima[service] = h["maxReplicas"] + int(surge)
        else:
            if service in hpas:
                errors.append(f"{overlay}: {service} has an autoscaler (one replica wanted)")
            if d["spec"].get("replicas") != 1:
                errors.append(f"{overlay}: {service} does not run exactly one replica")
            maxima[service] = 1 + int(
                d["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxSurge", 1))
    pg = by_kind(docs, "StatefulSet").get("postgres")
    if pg:
        args = " ".join(pg["spec"]["template"]["spec"]["containers"][0].get("args", []))
        m = re.search(r"max_connections=(\d+)", args)
        limit = int(m.group(1)) if m else 100
        # A few for the migrations' and an operator's sessions.
        budget = sum(maxima[s] * pool[s] for s in maxima)
        if budget > limit - 10:
            errors.append(f"{overlay}: up to {budget} database connections (pods x "
                          f"DB_MAX_CONNECTIONS) but PostgreSQL allows {limit} (minus 10 spare)")


def selects(peer: dict) -> tuple[str, str | None]:
    """A NetworkPolicy peer as (kind, name): ("pod", service) or ("namespace", ns)."""
    if "namespaceSelector" in peer:
        ns = peer["namespaceSelector"].get("matchLabels", {}).get("kubernetes.io/metadata.name")
        return ("namespace", ns)
    if "podSelector" in peer:
        return ("pod", peer["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name"))
    return ("other", None)


def check_network(overlay: str, docs: list[dict], fleet: Fleet, errors: list[str]) -> None:
    policies = [d for d in docs if d.get("kind") == "NetworkPolicy"]
    ingress = by_kind(docs, "Ingress")
    routed = {p["backend"]["service"]["name"]
              for i in ingress.values() for r in i["spec"]["rules"] for p in r["http"]["paths"]}
    if not any(p["spec"]["podSelector"] == {} and set(p["spec"].get("policyTypes", [])) ==
               {"Ingress", "Egress"} and not p["spec"].get("ingress") and
               not p["spec"].get("egress") for p in policies):
        errors.append(f"{overlay}: no default-deny NetworkPolicy")
    if "payment-service" in routed:
        errors.append(f"{overlay}: the Ingress routes to payment-service")
    for target in APPS + ["postgres"]:
        mine = [p for p in policies
                if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
                == target]
        sources, namespaces = set(), set()
        for p in mine:
            for rule in p["spec"].get("ingress", []):
                for peer in rule.get("from", []):
                    kind, name = selects(peer)
                    (sources if kind == "pod" else namespaces).add(name)
        if target == "postgres":
            if sources != set(SERVICES) or namespaces:
                errors.append(f"{overlay}: PostgreSQL is reachable from {sorted(sources)} "
                              f"{sorted(namespaces)}, not exactly the six services")
            continue
        want = set(fleet.callers(target))
        if sources != want:
            errors.append(f"{overlay}: {target} is reachable from {sorted(sources)}; its callers "
                          f"are {sorted(want)}")
        want_ns = {PROMETHEUS["kubernetes.io/metadata.name"]}
        if target in routed:
            want_ns.add(INGRESS_CONTROLLER["kubernetes.io/metadata.name"])
        if namespaces != want_ns:
            errors.append(f"{overlay}: {target} admits namespaces {sorted(namespaces)}, not "
                          f"{sorted(want_ns)}")
        allowed = set()
        for p in mine:
            for rule in p["spec"].get("egress", []):
                for peer in rule.get("to", []):
                    kind, name = selects(peer)
                    if kind == "pod":
                        allowed.add(name)
        databases = ["postgres"] if target in SERVICES else []
        for callee in fleet.peers(target) + databases:
            if callee not in allowed:
                errors.append(f"{overlay}: {target} may not call {callee} (egress)")
        if target == STOREFRONT and "postgres" in allowed:
            errors.append(f"{overlay}: the storefront may reach PostgreSQL (it has no database)")


# Where a request for each path must end up, and None: nowhere (the probes and /metrics are
# for the kubelet and Prometheus, inside the cluster).
INGRESS_ROUTES = {
    "/": STOREFRONT,
    "/events/0190c0de-0000-7000-8000-000000000000": STOREFRONT,
    "/events/0190c0de-0000-7000-8000-000000000000/seatmap/stream": STOREFRONT,
    "/static/app.css": STOREFRONT,
    "/v1/users/me": "user-service",
    "/.well-known/jwks.json": "user-service",
    "/v1/events": "catalog-service",
    "/v1/events/0190c0de-0000-7000-8000-000000000000/seatmap/stream": "seating-service",
    "/v1/orders": "order-service",
    "/v1/messages": None,
    "/health": None,
    "/ready": None,
    "/metrics": None,
}


def check_ingress(overlay: str, docs: list[dict], errors: list[str]) -> None:
    """Each path of INGRESS_ROUTES reaches its backend, read as ingress-nginx does with
    use-regex: the expressions tried longest first, the first that matches the start of the
    path (case-insensitive) wins."""
    paths = sorted(((p["path"], p["backend"]["service"]["name"])
                    for i in by_kind(docs, "Ingress").values() for r in i["spec"]["rules"]
                    for p in r["http"]["paths"]), key=lambda p: -len(p[0]))
    for path, want in INGRESS_ROUTES.items():
        got = next((svc for expr, svc in paths if re.match(expr, path, re.IGNORECASE)), None)
        if got != want:
            errors.append(f"{overlay}: the Ingress routes {path} to {got or 'nothing'}, not "
                          f"{want or 'nothing'}")


def check(overlay: str, docs: list[dict], fleet: Fleet, needed) -> list[str]:
    errors: list[str] = []
    check_workloads(overlay, docs, errors)
    check_environment(overlay, docs, needed, errors)
    check_scaling(overlay, docs, errors)
    check_network(overlay, docs, fleet, errors)
    check_ingress(overlay, docs, errors)
    return errors


# ---------------------------------------------------------------------------------------------
# Self-test: each kind of mistake is caught
# ---------------------------------------------------------------------------------------------


def container_of(docs, name):
    return by_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]


def drop_env(docs, name, var):
    c = container_of(docs, name)
    c["env"] = [e for e in c["env"] if e["name"] != var]


def drop_egress(docs, name, callee):
    spec = by_kind(docs, "NetworkPolicy")[name]["spec"]
    spec["egress"] = [r for r in spec["egress"]
                      if all(selects(peer) != ("pod", callee) for peer in r.get("to", []))]


MUTATIONS = {
    "order-service without a readiness probe":
        (lambda d: container_of(d, "order-service").pop("readinessProbe"), "no readinessProbe"),
    "seating-service's liveness on /ready":
        (lambda d: container_of(d, "seating-service")["livenessProbe"]["httpGet"].update(
            path="/ready"), "livenessProbe is not GET /health"),
    "user-service without a memory limit":
        (lambda d: container_of(d, "user-service")["resources"]["limits"].pop("memory"),
         "no limits.memory"),
    "catalog-service as root":
        (lambda d: container_of(d, "catalog-service")["securityContext"].update(
            runAsNonRoot=False), "runAsNonRoot is not true"),
    "payment-service with a writable root":
        (lambda d: container_of(d, "payment-service")["securityContext"].update(
            readOnlyRootFilesystem=False), "readOnlyRootFilesystem"),
    "notification-service without SMTP_URL":
        (lambda d: drop_env(d, "notification-service", "SMTP_URL"),
         "notification-service does not set SMTP_URL"),
    "order-service without DATABASE_URL":
        (lambda d: drop_env(d, "order-service", "DATABASE_URL"),
         "order-service does not set DATABASE_URL"),
    "catalog-service's secret optional":
        (lambda d: next(e for e in container_of(d, "catalog-service")["env"]
                        if e["name"] == "SERVICE_CLIENT_SECRET")["valueFrom"]["secretKeyRef"]
         .update(optional=True), "optional Secret key"),
    "no ORDER_SERVICE_URL in the ConfigMap (catalog delivers event.cancelled to order)":
        (lambda d: by_kind(d, "ConfigMap")["ticketing-config"]["data"].pop("ORDER_SERVICE_URL"),
         "catalog-service does not set ORDER_SERVICE_URL"),
    "a grace period shorter than the request timeout":
        (lambda d: by_kind(d, "Deployment")["seating-service"]["spec"]["template"]["spec"]
         .update(terminationGracePeriodSeconds=30), "terminationGracePeriodSeconds 30"),
    "payment-service reachable from seating-service":
        (lambda d: next(p for p in by_kind(d, "NetworkPolicy").values()
                        if p["metadata"]["name"] == "payment-service")["spec"]["ingress"][0]
         ["from"].append({"podSelector": {"matchLabels": {
             "app.kubernetes.io/name": "seating-service"}}}),
         "payment-service is reachable from"),
    "storefront without its cookie key":
        (lambda d: drop_env(d, STOREFRONT, "STOREFRONT_COOKIE_KEY"),
         "storefront does not set STOREFRONT_COOKIE_KEY"),
    "storefront not allowed to reach seating-service (its seat map)":
        (lambda d: drop_egress(d, STOREFRONT, "seating-service"),
         "storefront may not call seating-service"),
    "the shop's Ingress path catching everything, /metrics included":
        (lambda d: next(p for i in by_kind(d, "Ingress").values() for r in i["spec"]["rules"]
                        for p in r["http"]["paths"]
                        if p["backend"]["service"]["name"] == STOREFRONT).update(path="/.*"),
         "the Ingress routes /metrics to storefront"),
}


def self_test(rendered: dict[str, list[dict]], fleet: Fleet, needed) -> int:
    failures = 0
    for overlay, docs in rendered.items():
        for what, (mutate, expect) in MUTATIONS.items():
            broken = copy.deepcopy(docs)
            mutate(broken)
            errors = check(overlay, broken, fleet, needed)
            if any(expect in e for e in errors):
                print(f"  caught ({overlay}): {what}")
            else:
                failures += 1
                print(f"  MISSED ({overlay}): {what}; errors were: {errors}")
    return failures


def main(argv: list[str]) -> int:
    selftest = "--self-test" in argv
    pairs = [a.split("=", 1) for a in argv if a != "--self-test"]
    rendered = {overlay: load(path) for overlay, path in pairs}
    fleet = Fleet()
    needed = required_variables(fleet)
    errors = conditional_requirements() + contract_cross_check(needed, fleet)
    print("variables each service is given (required in production; source: the code, "
          "scripts/k8s_check.py required_variables):")
    for service in APPS:
        print(f"  {service}: {' '.join(sorted(needed[service]['required']))}")
    print("callers, from crates/service-kit/src/fleet.rs and crates/storefront/src/config.rs:")
    for service in APPS:
        print(f"  {service} <- {', '.join(fleet.callers(service)) or '(none)'}")
    passed = failed_overlays = 0
    for overlay, docs in rendered.items():
        found = check(overlay, docs, fleet, needed)
        kinds = sorted({d["kind"] for d in docs})
        print(f"{overlay}: {len(docs)} objects ({', '.join(kinds)}): "
              f"{'ok' if not found else f'{len(found)} problem(s)'}")
        errors += found
        if found:
            failed_overlays += 1
        else:
            passed += 1
    for e in errors:
        print(f"FAIL {e}")
    failed = 1 if errors else 0
    if selftest:
        print(f"self-test: {len(MUTATIONS)} mutations per overlay, each must be caught")
        missed = self_test(rendered, fleet, needed)
        total = len(MUTATIONS) * len(rendered)
        print(f"self-test: {total - missed} passed, {missed} failed")
        failed |= 1 if missed else 0
    print(f"k8s overlays: {passed} passed, {failed_overlays} failed")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
