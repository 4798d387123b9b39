#!/usr/bin/env python3
"""Writes the Grafana dashboards of monitoring/grafana/dashboards/ (the JSON is kept in the
repository; this is how it is made, so that the service dashboards, the storefront's among them,
stay alike).

    python3 monitoring/grafana/generate.py           # rewrite the JSON files
    python3 monitoring/grafana/generate.py --check   # exit 1 if a file differs from what it writes

One dashboard per service (golden signals: traffic, errors, latency, saturation; then the
service's own metrics) and one for the business. Every query names metrics the services export
(scripts/monitoring-check.sh proves it against a running fleet). What the services do not export
yet is said in a text panel instead of a panel that would stay empty.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DS = {"type": "prometheus", "uid": "prometheus"}
NOT_PROBES = 'route!~"/health|/ready|/metrics"'
PRODUCERS = {"catalog-service", "seating-service", "order-service"}
SERVICES = [
    ("user-service", "Accounts, sessions and tokens"),
    ("catalog-service", "Venues, events and seat maps"),
    ("seating-service", "Seat inventory and holds"),
    ("order-service", "Orders, the purchase saga and tickets"),
    ("payment-service", "Charges and refunds"),
    ("notification-service", "E-mails to buyers"),
    ("storefront", "The web shop: pages, and the seat map's stream relayed from seating"),
]
# No database and no background task: no pool or task panel, which would stay empty.
STATELESS = {"storefront"}
MISSING_POOL = (
    "**Database pool: not exported yet.** The services do not publish their connection pool's "
    "size, idle connections or acquire waits (sqlx's `PgPool::size()` / `num_idle()`): a "
    "service-kit metric is needed (crates/service-kit/src/db.rs or metrics.rs). Until then, "
    "watch the latency panels and PostgreSQL's own `pg_stat_activity`. Pool size: "
    "`DB_MAX_CONNECTIONS` (10)."
)

MISSING_UPSTREAM = (
    "**Calls to the services: not exported yet.** The storefront has no database and no "
    "background task: what it waits on is user, catalog, seating and order, called with the "
    "visitor's token (`UPSTREAM_TIMEOUT_SECONDS`, 10; a failed call is a 502 page here). Their "
    "time and failures per service, and the open seat map streams, are not counted "
    "(crates/storefront/src/client.rs would need a histogram and a gauge); until then, read "
    "those services' dashboards."
)


class Board:
    def __init__(self, uid: str, title: str, description: str, tags: list[str]):
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.panels: list[dict] = []
        self.y = 0
        self.x = 0
        self.row_height = 0
        self.templating: list[dict] = []

    def _place(self, w: int, h: int) -> dict:
        if self.x + w > 24:
            self.y += self.row_height
            self.x, self.row_height = 0, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_height = max(self.row_height, h)
        return pos

    def row(self, title: str) -> None:
        if self.x:
            self.y += self.row_height
        self.x, self.row_height = 0, 0
        self.panels.append({
            "id": len(self.panels) + 1, "type": "row", "title": title, "collapsed": False,
            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": [],
        })
        self.y += 1

    def timeseries(self, title: str, targets: list[tuple[str, str]], unit: str = "short",
                   description: str = "", w: int = 12, h: int = 8, stack: bool = False) -> None:
        self.panels.append({
            "id": len(self.panels) + 1, "type": "timeseries", "title": title,
            "description": description, "datasource": DS, "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": {
                "unit": unit,
                "custom": {"fillOpacity": 10, "lineWidth": 1, "showPoints": "never",
                           "stacking": {"mode": "normal" if stack else "none"}},
            }, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"},
                        "tooltip": {"mode": "multi"}},
            "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": e,
                         "legendFormat": legend, "range": True}
                        for i, (e, legend) in enumerate(targets)],
        })

    def stat(self, title: str, expr: str, unit: str = "short", description: str = "",
             w: int = 6, h: int = 4, thresholds: list[tuple[float | None, str]] | None = None) -> None:
        steps = [{"value": v, "color": c} for v, c in (thresholds or [(None, "green")])]
        self.panels.append({
            "id": len(self.panels) + 1, "type": "stat", "title": title,
            "description": description, "datasource": DS, "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute",
                                                                       "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto"},
            "targets": [{"refId": "A", "datasource": DS, "expr": expr, "instant": False,
                         "range": True}],
        })

    def text(self, title: str, markdown: str, w: int = 12, h: int = 5) -> None:
        self.panels.append({
            "id": len(self.panels) + 1, "type": "text", "title": title,
            "gridPos": self._place(w, h), "options": {"mode": "markdown", "content": markdown},
        })

    def instance_variable(self, job: str) -> None:
        self.templating.append({
            "name": "instance", "label": "instance", "type": "query", "datasource": DS,
            "query": {"query": f'label_values(up{{job="{job}"}}, instance)', "refId": "instance"},
            "definition": f'label_values(up{{job="{job}"}}, instance)',
            "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
        })

    def json(self) -> dict:
        return {
            "uid": self.uid, "title": self.title, "description": self.description,
            "tags": self.tags, "editable": False, "graphTooltip": 1, "schemaVersion": 39,
            "version": 1, "time": {"from": "now-1h", "to": "now"}, "refresh": "30s",
            "timezone": "utc", "templating": {"list": self.templating}, "annotations": {"list": []},
            "links": [{"title": "Ticketing", "type": "dashboards", "tags": ["ticketing"],
                       "asDropdown": True}],
            "panels": self.panels,
        }


def service_board(job: str, about: str) -> Board:
    sel = f'job="{job}", instance=~"$instance"'
    http = f"{sel}, {NOT_PROBES}"
    b = Board(job, job, f"{about}: golden signals and {job}'s own metrics.",
              ["ticketing", "service"])
    b.instance_variable(job)

    b.row("Traffic and errors (probes and /metrics left out)")
    b.stat("Requests/s", f"sum(rate(http_requests_total{{{http}}}[$__rate_interval]))",
           "reqps", w=6)
    b.stat("5xx ratio",
           f'(sum(rate(http_requests_total{{{http}, status=~"5.."}}[$__rate_interval])) or vector(0))'
           f" / sum(rate(http_requests_total{{{http}}}[$__rate_interval]))",
           "percentunit", "Share of answers that were server errors (alert: 5 % for 5 minutes).",
           w=6, thresholds=[(None, "green"), (0.01, "orange"), (0.05, "red")])
    b.stat("p99 latency",
           f"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{http}}}"
           f"[$__rate_interval])))", "s", "Alert: above 1 s for 10 minutes.", w=6,
           thresholds=[(None, "green"), (0.5, "orange"), (1, "red")])
    b.stat("Instances up", f"sum(up{{{sel}}})", "short", w=6,
           thresholds=[(None, "red"), (1, "green")])
    b.timeseries("Requests/s by route",
                 [(f"sum by (route) (rate(http_requests_total{{{http}}}[$__rate_interval]))",
                   "{{route}}")], "reqps")
    b.timeseries("Answers/s by status",
                 [(f"sum by (status) (rate(http_requests_total{{{http}}}[$__rate_interval]))",
                   "{{status}}")], "reqps", stack=True)
    b.timeseries("5xx/s by route",
                 [(f'sum by (route, status) (rate(http_requests_total{{{http}, status=~"5.."}}'
                   f"[$__rate_interval]))", "{{route}} {{status}}")], "reqps",
                 "Empty while no request has failed with a 5xx.")
    b.timeseries("4xx/s by route",
                 [(f'sum by (route, status) (rate(http_requests_total{{{http}, status=~"4.."}}'
                   f"[$__rate_interval]))", "{{route}} {{status}}")], "reqps",
                 "Client errors: 401/403 (tokens), 409 (conflicts), 422 (validation).")

    b.row("Latency")
    b.timeseries("Latency percentiles", [
        (f"histogram_quantile({q}, sum by (le) (rate(http_request_duration_seconds_bucket{{{http}}}"
         f"[$__rate_interval])))", f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)], "s")
    b.timeseries("p99 by route",
                 [(f"histogram_quantile(0.99, sum by (route, le) (rate("
                   f"http_request_duration_seconds_bucket{{{http}}}[$__rate_interval])))",
                   "{{route}}")], "s")

    b.row("Saturation")
    if job in STATELESS:
        b.text("Calls to the services", MISSING_UPSTREAM, w=24)
    else:
        b.timeseries("Background task failures (15 min)",
                     [(f"sum by (task) (increase(background_task_failures_total{{{sel}}}[15m]))",
                       "{{task}}")], "short",
                     "A failed task is restarted with back-off; /ready answers 503 while it is "
                     "down.")
        b.text("Database pool", MISSING_POOL)
    if job in PRODUCERS:
        b.timeseries("Outbox: deliveries waiting, parked", [
            (f"max(outbox_pending{{{sel}}})", "pending"),
            (f"max(outbox_dead{{{sel}}})", "dead (parked)")], "short",
            "Read from the database: every replica reports the same value (max).")
        b.timeseries("Outbox: oldest undelivered message, failures", [
            (f"max(outbox_oldest_pending_age_seconds{{{sel}}})", "oldest pending age"),
            (f"sum(rate(outbox_delivery_failures_total{{{sel}}}[$__rate_interval]))",
             "failed attempts/s")], "s")

    if job == "user-service":
        b.row("Accounts")
        b.timeseries("Logins/s by result",
                     [(f"sum by (result) (rate(user_logins_total{{{sel}}}[$__rate_interval]))",
                       "{{result}}")], "reqps",
                     "success, failure, throttled (each series appears at its first login).")
        b.timeseries("Registrations/s",
                     [(f"sum(rate(user_registrations_total{{{sel}}}[$__rate_interval]))",
                       "registrations")], "reqps")
    elif job == "seating-service":
        b.row("Holds")
        b.timeseries("Reserve requests/s by result",
                     [(f"sum by (result) (rate(seat_reservations_total{{{sel}}}[$__rate_interval]))",
                       "{{result}}")], "reqps")
        b.timeseries("Refused reserves and allocations/s by reason",
                     [(f"sum by (reason) (rate(seat_reservations_failed_total{{{sel}}}"
                       f"[$__rate_interval]))", "{{reason}}")], "reqps",
                     "conflict (seat taken), expired, not_on_sale, invalid, error.")
        b.timeseries("Active holds", [(f"max(seat_holds_active{{{sel}}})", "active holds")],
                     "short", "Holds, not seats: a hold has 1 to 10 seats.")
        b.timeseries("Holds expired/s",
                     [(f"sum(rate(seat_hold_expirations_total{{{sel}}}[$__rate_interval]))",
                       "expired")], "short")
    elif job == "order-service":
        b.row("Orders")
        b.timeseries("Orders/s reaching each status",
                     [(f"sum by (status) (rate(orders_total{{{sel}}}[$__rate_interval]))",
                       "{{status}}")], "short")
        b.timeseries("Saga step p99 by step",
                     [(f"histogram_quantile(0.99, sum by (step, le) (rate("
                       f"order_saga_step_duration_seconds_bucket{{{sel}}}[$__rate_interval])))",
                       "{{step}}")], "s",
                     "The call each step makes: reserve, charge, allocate (seating, payment).")
        b.timeseries("Orders undone/s by reason",
                     [(f"sum by (reason) (rate(orders_compensated_total{{{sel}}}"
                       f"[$__rate_interval]))", "{{reason}}")], "short")
    elif job == "payment-service":
        b.row("Payments")
        b.timeseries("Charges/s by outcome",
                     [(f"sum by (status) (rate(payments_total{{{sel}}}[$__rate_interval]))",
                       "{{status}}")], "short")
        b.timeseries("Failed charges/s by reason",
                     [(f"sum by (reason) (rate(payments_failed_total{{{sel}}}[$__rate_interval]))",
                       "{{reason}}")], "short")
        b.timeseries("Gateway p99 by operation",
                     [(f"histogram_quantile(0.99, sum by (gateway, operation, le) (rate("
                       f"payment_gateway_request_duration_seconds_bucket{{{sel}}}"
                       f"[$__rate_interval])))", "{{gateway}} {{operation}}")], "s")
        b.timeseries("Refunds/s", [(f"sum(rate(refunds_total{{{sel}}}[$__rate_interval]))",
                                    "refunds")], "short")
    elif job == "notification-service":
        b.row("E-mails")
        b.timeseries("Send attempts/s by outcome",
                     [(f"sum by (status) (rate(notifications_sent_total{{{sel}}}"
                       f"[$__rate_interval]))", "{{status}}")], "short",
                     "sent; retry (4xx, no connection, timeout); failed (for good)")
        b.timeseries("Pending e-mails, oldest", [
            (f"max(notifications_pending{{{sel}}})", "pending"),
            (f"max(notifications_oldest_pending_age_seconds{{{sel}}})", "oldest pending (s)")],
            "short", "Read from the database: every replica reports the same value (max).")
        b.timeseries("Send time", [
            (f"histogram_quantile({q}, sum by (le) (rate(notification_send_duration_seconds_bucket"
             f"{{{sel}}}[$__rate_interval])))", f"p{int(q * 100)}") for q in (0.5, 0.99)], "s")
    return b


def business_board() -> Board:
    b = Board("business", "Business", "Orders, money, seats and e-mails across the fleet.",
              ["ticketing", "business"])
    b.row("Orders")
    b.stat("Orders confirmed per minute",
           'sum(rate(orders_total{job="order-service", status="CONFIRMED"}[$__rate_interval])) * 60',
           "short", w=8)
    b.stat("Payment failure ratio", "max(job:payments_failed:ratio_rate5m)", "percentunit",
           "Declines and gateway errors over all charges, 5 minutes (recording rule).", w=8,
           thresholds=[(None, "green"), (0.1, "orange"), (0.25, "red")])
    b.stat("Active holds", 'max(seat_holds_active{job="seating-service"})', "short",
           "Holds of 1 to 10 seats each.", w=8)
    b.timeseries("Orders per minute by status",
                 [('sum by (status) (rate(orders_total{job="order-service"}[$__rate_interval])) * 60',
                   "{{status}}")], "short", w=24)
    b.timeseries("Orders undone per minute by reason",
                 [('sum by (reason) (rate(orders_compensated_total{job="order-service"}'
                   "[$__rate_interval])) * 60", "{{reason}}")], "short")
    b.text("Revenue by currency",
           "**Not exported yet.** No metric carries the amounts charged: payment-service's "
           "`payments_total{status}` counts charges, not money. A counter of the amount charged "
           "(and refunded) by currency, in minor units, is needed in payment-service "
           "(crates/payment-service/src/state.rs, beside `payments_total`). Until then: the "
           "`payments` table (`SELECT currency, sum(amount - refunded_amount) FROM payments "
           "WHERE status IN ('SUCCESS','PARTIALLY_REFUNDED') GROUP BY currency`).", w=12, h=8)
    b.row("Seats")
    b.timeseries("Hold requests per minute by result",
                 [('sum by (result) (rate(seat_reservations_total{job="seating-service"}'
                   "[$__rate_interval])) * 60", "{{result}}")], "short")
    b.timeseries("Active holds",
                 [('max(seat_holds_active{job="seating-service"})', "active holds")], "short")
    b.timeseries("Seats sold: confirmed orders per minute",
                 [('sum(rate(orders_total{job="order-service", status="CONFIRMED"}'
                   "[$__rate_interval])) * 60", "confirmed orders")], "short",
                 "Orders, not seats (1 to 10 seats each): no service counts seats sold yet.")
    b.text("Seats sold",
           "**Seats are not counted yet.** seating-service counts holds "
           "(`seat_reservations_total`) and `seat_holds_active`, not seats held or sold. A "
           "counter of seats sold (in seating-service's allocate, "
           "crates/seating-service/src/state.rs) or a gauge of seats by status is needed. "
           "The panel beside shows confirmed orders instead.", w=12, h=8)
    b.row("Payments")
    b.timeseries("Charges per minute by outcome",
                 [('sum by (status) (rate(payments_total{job="payment-service"}[$__rate_interval]))'
                   " * 60", "{{status}}")], "short")
    b.timeseries("Payment failures per minute by reason",
                 [('sum by (reason) (rate(payments_failed_total{job="payment-service"}'
                   "[$__rate_interval])) * 60", "{{reason}}")], "short",
                 "Declines under their code (card_declined, insufficient_funds, ...), and "
                 "gateway_error.")
    b.timeseries("Refunds per minute",
                 [('sum(rate(refunds_total{job="payment-service"}[$__rate_interval])) * 60',
                   "refunds")], "short")
    b.row("E-mails")
    b.timeseries("E-mails per minute: sent and failed, by type",
                 [('sum by (type, status) (rate(notifications_sent_total{job="notification-service",'
                   ' status=~"sent|failed"}[$__rate_interval])) * 60', "{{type}} {{status}}")],
                 "short")
    b.timeseries("Unsent e-mails", [
        ('max(notifications_pending{job="notification-service"})', "pending"),
        ('max(notifications_oldest_pending_age_seconds{job="notification-service"})',
         "oldest pending (s)")], "short")
    return b


def render() -> dict[str, str]:
    boards = [service_board(job, about) for job, about in SERVICES] + [business_board()]
    return {f"{b.uid}.json": json.dumps(b.json(), indent=2, sort_keys=True) + "\n"
            for b in boards}


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        stale = [name for name, text in files.items()
                 if not (OUT / name).is_file() or (OUT / name).read_text() != text]
        extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in files)
        for name in stale:
            print(f"monitoring/grafana/dashboards/{name} is not what generate.py writes")
        for name in extra:
            print(f"monitoring/grafana/dashboards/{name} is not written by generate.py")
        if stale or extra:
            print("run: python3 monitoring/grafana/generate.py")
            return 1
        return 0
    OUT.mkdir(exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(files)} dashboards to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
