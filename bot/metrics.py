"""Prometheus metrics, one registry per application (tests build many apps in one process).

Served at /metrics by ``bot/ops.py``. Counters are incremented where the thing happens:
the webhook (messages, dedup hits, handler latency), the API client (errors by code), the
senders (deliveries by result and channel).
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

    def render(self) -> bytes:
        return generate_latest(self.registry)
