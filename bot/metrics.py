"""Prometheus metrics, one registry per application (tests build many apps in one process).

Served at /metrics by ``bot/ops.py``. Counters are incremented where the thing happens:
the webhook (answers by status, latency, messages, dedup hits, handler latency), the API
client (calls, errors by code, token fetches), the senders (deliveries by result and
channel), the scheduler (whether this process leads; the delivery backlog, which only the
leader exports). The alert rules and the dashboard in ``deploy/`` read these names; a test
checks that every name and label they use is here.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "laoke_messages_total",
            "Inbound messages and events by type",
            ["type"],
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            "laoke_handler_seconds",
            "Time to produce a reply, by handler",
            ["handler"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 4, 10),
            registry=self.registry,
        )
        self.dedup_hits = Counter(
            "laoke_dedup_hits_total",
            "Retries answered from the stored reply",
            registry=self.registry,
        )
        self.deferred_replies = Counter(
            "laoke_deferred_replies_total",
            "Replies that missed the deadline and went by the CS API",
            registry=self.registry,
        )
        self.spooled = Counter(
            "laoke_spooled_messages_total",
            "Messages kept in the spool because the database could not store them",
            registry=self.registry,
        )
        self.spool_pending = Gauge(
            "laoke_spool_pending",
            "Spooled messages waiting for the database (as of the last look, every second)",
            registry=self.registry,
        )
        self.api_errors = Counter(
            "laoke_wechat_api_errors_total",
            "WeChat API errors by errcode",
            ["code"],
            registry=self.registry,
        )
        self.autoreply_budget_spent = Counter(
            "laoke_autoreply_budget_spent_total",
            "Messages whose auto-reply matching ran out of its time budget (later rules skipped)",
            registry=self.registry,
        )
        self.deliveries = Counter(
            "laoke_deliveries_total",
            "Campaign deliveries by result and channel",
            ["result", "channel"],
            registry=self.registry,
        )

        self.webhook_responses = Counter(
            "laoke_webhook_responses_total",
            "Answers of the webhook by HTTP status",
            ["status"],
            registry=self.registry,
        )
        self.webhook_seconds = Histogram(
            "laoke_webhook_seconds",
            "Time from a callback's arrival to its answer",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 4.5, 5, 10),
            registry=self.registry,
        )
        self.api_calls = Counter(
            "laoke_wechat_api_calls_total",
            "WeChat API calls made (each retry counts)",
            registry=self.registry,
        )
        self.token_fetches = Counter(
            "laoke_wechat_token_fetches_total",
            "access_token fetches from WeChat by result (ok, error)",
            ["result"],
            registry=self.registry,
        )
        self.scheduler_leader = Gauge(
            "laoke_scheduler_leader",
            "1 while this process holds the scheduler lease",
            registry=self.registry,
        )
        self.deliveries_due = Gauge(
            "laoke_deliveries_due",
            "Pending deliveries of running campaigns that are due (exported by the leader)",
            registry=self.registry,
        )
        self.deliveries_oldest_due_seconds = Gauge(
            "laoke_deliveries_oldest_due_seconds",
            "How long the oldest due delivery has waited (exported by the leader)",
            registry=self.registry,
        )
        self.deliveries_in_flight = Gauge(
            "laoke_deliveries_in_flight",
            "Deliveries claimed by a sender or being sent, by status (exported by the leader)",
            ["status"],
            registry=self.registry,
        )
        self.deliveries_uncertain = Counter(
            "laoke_deliveries_uncertain_total",
            "Deliveries whose sender died mid-send (uncertain whether WeChat got them)",
            registry=self.registry,
        )

        # Series that alerts take a rate of exist from the start, at zero.
        for result in ("ok", "error"):
            self.token_fetches.labels(result=result)

    def label_names(self) -> dict[str, tuple[str, ...]]:
        """Every metric this registry exports and its labels (names as scraped, without
        the _total/_bucket suffixes)."""
        return {
            m._name: tuple(m._labelnames)  # prometheus-client keeps no public accessor
            for m in vars(self).values()
            if isinstance(m, Counter | Gauge | Histogram)
        }

    def render(self) -> bytes:
        return generate_latest(self.registry)
