"""scripts/fuzz_api.py — the part of scripts/fuzz-api.sh that talks to the fleet: it seeds data,
fetches tokens, writes one schemathesis configuration per service and runs `st run` on each
service's /openapi.json with every check. Run by fuzz-api.sh with the schemathesis venv's python,
against the fleet it started (the *_SERVICE_URL, FLEET_ADMIN_* and FLEET_CLIENT_SECRET_*
variables of scripts/lib/fleet.sh).

    python fuzz_api.py ST [SERVICE...]
"""

import json
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import requests

ST = sys.argv[1]
ONLY = sys.argv[2:]
REPORT_DIR = os.environ["FUZZ_REPORT_DIR"]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
SEED = os.environ.get("FUZZ_SEED", "1")
WORKERS = os.environ.get("FUZZ_WORKERS", "2")

URLS = {
    "user-service": os.environ["USER_SERVICE_URL"],
    "catalog-service": os.environ["CATALOG_SERVICE_URL"],
    "seating-service": os.environ["SEATING_SERVICE_URL"],
    "order-service": os.environ["ORDER_SERVICE_URL"],
    "payment-service": os.environ["PAYMENT_SERVICE_URL"],
    "notification-service": os.environ["NOTIFICATION_SERVICE_URL"],
}
PASSWORD = "correct horse battery"


def log(message):
    print(f"fuzz-api: {message}", file=sys.stderr, flush=True)


def call(method, url, token=None, expect=(200, 201), **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = requests.request(method, url, headers=headers, timeout=30, **kwargs)
    if response.status_code not in expect:
        raise SystemExit(
            f"fuzz-api: seeding failed: {method} {url} answered {response.status_code}: {response.text[:500]}"
        )
    return response.json() if response.content else None


def login(email, password):
    pair = call("POST", f"{URLS['user-service']}/v1/auth/login",
                json={"email": email, "password": password})
    return pair["accessToken"], pair


def service_token(client):
    secret = os.environ["FLEET_CLIENT_SECRET_" + client.upper().replace("-", "_")]
    return call("POST", f"{URLS['user-service']}/v1/auth/service-token",
                json={"clientId": client, "clientSecret": secret})["accessToken"]


def seed():
    """Accounts, tokens, and things that exist (an event on sale, a draft, a hold, a paid order
    with its payment and ticket): their ids are offered to the fuzzer beside random ones, so that
    requests also reach what lies behind "not found"."""
    users = URLS["user-service"]
    email = f"fuzz-{uuid.uuid4().hex[:12]}@example.com"
    call("POST", f"{users}/v1/users", json={"name": "Fuzz Customer", "email": email, "password": PASSWORD})
    customer, pair = login(email, PASSWORD)
    admin, _ = login(os.environ["FLEET_ADMIN_EMAIL"], os.environ["FLEET_ADMIN_PASSWORD"])
    tokens = {
        "customer": customer,
        "admin": admin,
        "order-service": service_token("order-service"),
        "catalog-service": service_token("catalog-service"),
        "seating-service": service_token("seating-service"),
    }

    catalog = URLS["catalog-service"]
    venue = call("POST", f"{catalog}/v1/venues", admin,
                 json={"name": "Fuzz Hall", "city": "Lisbon", "capacity": 500})
    starts = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = call("POST", f"{catalog}/v1/events", admin,
                 json={"title": "Fuzz Night", "eventType": "concert", "venueId": venue["id"],
                       "startsAt": starts, "currency": "EUR", "basePrice": "20.00"})
    call("PUT", f"{catalog}/v1/events/{event['id']}/seats", admin,
         json={"layout": [{"section": "A", "rows": 4, "seatsPerRow": 10}]})
    call("POST", f"{catalog}/v1/events/{event['id']}/publish", admin)
    seats = [s["seatId"] for s in call("GET", f"{catalog}/v1/events/{event['id']}/seats?limit=100")["items"]]
    draft = call("POST", f"{catalog}/v1/events", admin,
                 json={"title": "Fuzz Draft", "eventType": "theatre", "venueId": venue["id"],
                       "startsAt": starts, "currency": "EUR", "basePrice": "15.00"})
    call("PUT", f"{catalog}/v1/events/{draft['id']}/seats", admin,
         json={"seats": [{"section": "B", "row": "A", "number": 1}]})
    order = call("POST", f"{URLS['order-service']}/v1/orders", customer,
                 headers={"Idempotency-Key": uuid.uuid4().hex},
                 json={"eventId": event["id"], "seatIds": [seats[0]],
                       "payment": {"method": "card", "token": "tok_visa"}})
    hold = call("POST", f"{URLS['seating-service']}/v1/seats/reserve", tokens["order-service"],
                json={"eventId": event["id"], "seatIds": [seats[1]], "holderId": pair["user"]["id"]})
    log(f"seeded: customer {pair['user']['id']}, event {event['id']} on sale, draft {draft['id']}, "
        f"hold {hold['holdId']}, order {order['id']} {order['status']}")
    known = {
        "users": [pair["user"]["id"]],
        "catalog": [event["id"], draft["id"], venue["id"]],
        "venues": [venue["id"]],
        "events": [event["id"]],
        "seats": seats[2:],
        "holds": [hold["holdId"]],
        "orders": [order["id"]],
        "tickets": [t["code"] for t in order["tickets"]],
        "payments": [order["paymentId"]],
    }
    return tokens, known


# Who calls what: the default token of each service, and per operation (schemathesis's name,
# "METHOD /path") the token of the caller the contract names, so that valid requests reach the
# handlers. `accept`: answers a schema-valid request may also get because of a rule no JSON
# Schema can state (a date in the future, ids of things that exist, a field depending on
# another); each is documented on the operation. Nothing else is waived.
def INBOX(producer):
    """`POST /v1/messages` as the producer of what the service consumes; the shape of `data`
    depends on `type` (422 for another)."""
    return {"token": producer, "accept": [422]}


PLAN = {
    "user-service": ("customer", {
        "PATCH /v1/users/{id}/role": {"token": "admin"},
        # Admins see every user (a customer sees only themself: the users the fuzzer
        # registers would be 404 to it).
        "GET /v1/users/{id}": {"token": "admin"},
    }),
    "catalog-service": ("admin", {
        "POST /v1/messages": INBOX("seating-service"),
        # startsAt in the future; venueId of a venue that exists.
        "POST /v1/events": {"accept": [422]},
        "PATCH /v1/events/{id}": {"accept": [422]},
        # Either `seats` or `layout`; no place twice; 100 000 seats at most in all.
        "PUT /v1/events/{id}/seats": {"accept": [422]},
        # `to` after `from`.
        "GET /v1/events": {"accept": [422]},
    }),
    "seating-service": ("order-service", {
        "POST /v1/messages": INBOX("catalog-service"),
        "PUT /v1/events/{eventId}/inventory": {"token": "catalog-service",
                                               # no place twice; `open` only with `publicationId`.
                                               "accept": [422]},
        # Seats of the event named (422 names the others); a key reused with another body (422).
        "POST /v1/seats/reserve": {"accept": [422]},
    }),
    "order-service": ("customer", {
        "POST /v1/messages": INBOX("catalog-service"),
        "POST /v1/tickets/{code}/check-in": {"token": "admin"},
        # A card token the gateway does not know is declined (402); seats of the event (422);
        # an Idempotency-Key reused with another body (422), as the contract says.
        "POST /v1/orders": {"accept": [402, 422]},
        "POST /v1/orders/{id}/pay": {"accept": [402, 422]},
    }),
    "payment-service": ("order-service", {
        # Declined (402) for an unknown token; whole amounts in a currency without cents (422);
        # an Idempotency-Key reused with another body (422).
        "POST /v1/payments/charge": {"accept": [402, 422]},
        "POST /v1/payments/{id}/refund": {"accept": [422]},
    }),
    "notification-service": ("admin", {
        "POST /v1/messages": INBOX("order-service"),
    }),
}

# The ids of things that exist, per service: parameter (schemathesis's "location.name") and the
# seeded list it draws from, half of the time (the other half stays random).
KNOWN = {
    "user-service": {"path.id": "users"},
    "catalog-service": {"path.id": "catalog", "query.venueId": "venues", "body.venueId": "venues"},
    "seating-service": {"path.eventId": "events", "query.eventId": "events", "body.eventId": "events",
                        "body.seatIds[*]": "seats", "path.holdId": "holds", "body.holdId": "holds"},
    "order-service": {"path.id": "orders", "path.code": "tickets", "body.eventId": "events",
                      "body.seatIds[*]": "seats"},
    "payment-service": {"path.id": "payments", "query.orderId": "orders", "body.orderId": "orders"},
    "notification-service": {"query.orderId": "orders", "query.userId": "users"},
}

# What positive_data_acceptance accepts by default (schemathesis 4): success, and the answers
# that depend on who asks and what exists.
POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


def toml_string(value):
    return json.dumps(value)


def write_config(service, tokens, known):
    default, operations = PLAN[service]
    lines = [
        f"seed = {SEED}",
        # Nothing kept in the clone between runs (a run is reproducible from its seed).
        "[cache]",
        "enabled = false",
        # Text never holds NUL (docs/api.md: the kit refuses it everywhere, PostgreSQL cannot
        # store it); a rule of the whole API that no schema repeats on every string.
        "[generation]",
        f"max-examples = {EXAMPLES}",
        "allow-x00 = false",
        'database = "none"',
        "[phases.stateful]",
        f"max-steps = {EXAMPLES * 2}",
        "[headers]",
        f"Authorization = {toml_string('Bearer ' + tokens[default])}",
    ]
    bindings = KNOWN[service]
    for name in sorted(set(bindings.values())):
        lines += [f"[dictionaries.{name}]", f"values = {toml_string(known[name])}"]
    lines.append("[parameters]")
    for parameter, name in bindings.items():
        lines.append(f"{toml_string(parameter)} = {{ dictionary = {toml_string(name)}, probability = 0.5 }}")
    for name, rules in operations.items():
        lines += ["[[operations]]", f"include-name = {toml_string(name)}"]
        if "token" in rules:
            lines += ["[operations.headers]",
                      f"Authorization = {toml_string('Bearer ' + tokens[rules['token']])}"]
        if "accept" in rules:
            statuses = POSITIVE + [str(code) for code in rules["accept"]]
            lines += ["[operations.checks.positive_data_acceptance]",
                      f"expected-statuses = {toml_string(statuses)}"]
    path = os.path.join(REPORT_DIR, f"{service}.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run(service, config):
    url = URLS[service]
    junit = os.path.join(REPORT_DIR, f"{service}.junit.xml")
    args = [ST, "--config-file", config, "--no-color", "run", f"{url}/openapi.json",
            "--url", url, "--checks", "all", "--workers", WORKERS,
            "--report", "junit", "--report-junit-path", junit,
            "--request-timeout", "20",
            # The seat map's Server-Sent Events never end by design: each case would wait out
            # the request timeout. Its events are checked by seating's API tests instead.
            "--exclude-path-regex", "/seatmap/stream$"]
    started = time.monotonic()
    process = subprocess.run(args, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    output = process.stdout + process.stderr
    with open(os.path.join(REPORT_DIR, f"{service}.txt"), "w", encoding="utf-8") as f:
        f.write(output)
    print(output, flush=True)
    return process.returncode, elapsed, output


def figures(output):
    """(operations, cases, failures) as schemathesis's summary states them."""
    operations = re.search(r"Selected:\s*(\d+)", output)
    cases = re.search(r"(\d+) generated", output)
    failures = re.search(r"found (\d+) unique failure", output)
    return tuple(int(m.group(1)) if m else 0 for m in (operations, cases, failures))


def main():
    started = time.monotonic()
    tokens, known = seed()
    services = ONLY or list(URLS)
    results = []
    for service in services:
        config = write_config(service, tokens, known)
        log(f"{service}: schemathesis, all checks, {EXAMPLES} examples per operation and phase")
        status, elapsed, output = run(service, config)
        results.append((service, status, elapsed, *figures(output)))
    total = time.monotonic() - started
    print()
    failed = False
    for service, status, elapsed, operations, cases, failures in results:
        verdict = "ok" if status == 0 else "FAILED"
        failed |= status != 0
        print(f"fuzz-api: {service:21} {operations:3} operations {cases:6} cases "
              f"{failures:3} failures {elapsed:6.1f} s  {verdict}")
    cases = sum(r[4] for r in results)
    print(f"fuzz-api: {len(results)} services, {cases} cases in {total:.0f} s; reports in log/fuzz-api/")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
