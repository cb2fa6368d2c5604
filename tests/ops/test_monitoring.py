"""The alert rules and the Grafana dashboard in deploy/ read only metrics and labels that
/metrics exports, and the metrics they rely on move when the thing they measure happens."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import yaml
from campaign_world import BUYERS, seed_campaign
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics
from scheduler.backlog import delivery_backlog, export

ROOT = Path(__file__).resolve().parents[2]
# Labels Prometheus adds to every scraped series, its `up` metric, and histograms' bucket label.
TARGET_LABELS = {"instance", "job"}
BUILTIN = {"up"}

SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text(encoding="utf-8"))
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((ROOT / "deploy/grafana/laoke.json").read_text(encoding="utf-8"))
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def exported(metrics_text: str) -> dict[str, set[str]]:
    """Every series name /metrics exports (counters with _total, histograms' _bucket/_sum/
    _count) and the labels of its family."""
    labels = {name.removesuffix("_total"): set(ls) for name, ls in Metrics().label_names().items()}
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics_text):
        own = labels.get(family.name, set())
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        for suffix in suffixes.get(family.type, [""]):
            names[family.name + suffix] = own | ({"le"} if suffix == "_bucket" else set())
    return names


def problems(expr: str, names: dict[str, set[str]]) -> list[str]:
    found = []
    used = [(m.group(1), m.group(2) or "") for m in SELECTOR.finditer(expr)]
    metrics = [(n, sel) for n, sel in used if n.startswith("laoke_") or n in BUILTIN]
    for name, selector in metrics:
        if name in BUILTIN:
            continue
        if name not in names:
            found.append(f"{name} is not exported")
            continue
        for label in MATCHER.findall(selector):
            if label not in names[name] | TARGET_LABELS:
                found.append(f"{name} has no label {label!r}")
    known = set().union(*(names.get(n, set()) for n, _ in metrics)) | TARGET_LABELS
    for group in GROUPING.findall(expr):
        for label in filter(None, (x.strip() for x in group.split(","))):
            if label not in known:
                found.append(f"no metric in the expression has the label {label!r}")
    return found


async def test_alerts_and_dashboard_use_only_exported_metrics_and_labels(wechat):
    await wechat.send_text("oBuyer1", "会员")  # a message, so labelled series exist too
    resp = await wechat.http.get("/metrics")
    names = exported(await resp.text())
    expressions = alert_expressions() + dashboard_expressions()
    assert len(expressions) > 25
    used = {n for e in expressions for n in re.findall(r"\blaoke_[a-z_]+", e)}
    assert {"laoke_webhook_responses_total", "laoke_scheduler_leader",
            "laoke_wechat_token_fetches_total"} <= used  # fmt: skip
    wrong = {e: p for e in expressions if (p := problems(e, names))}
    assert wrong == {}


def test_the_check_catches_an_unknown_metric_or_label():
    names = {"laoke_messages_total": {"type"}}
    assert problems('rate(laoke_mesages_total{type="text"}[5m])', names) == [
        "laoke_mesages_total is not exported"
    ]
    assert problems('sum by (kind) (rate(laoke_messages_total{kind="x"}[5m]))', names) == [
        "laoke_messages_total has no label 'kind'",
        "no metric in the expression has the label 'kind'",
    ]


async def test_webhook_answers_are_counted_by_status(wechat):
    await wechat.send_text("oBuyer1", "你好")
    status, _ = await wechat.request({"signature": "forged", "timestamp": "1", "nonce": "n"}, b"")
    assert status == 403
    resp = await wechat.http.get("/metrics")
    text = await resp.text()
    assert 'laoke_webhook_responses_total{status="200"} 1.0' in text
    assert 'laoke_webhook_responses_total{status="403"} 1.0' in text
    assert "laoke_webhook_seconds_count 2.0" in text


async def test_the_leader_exports_the_delivery_backlog_and_drops_it_when_it_loses_the_lease(
    make_config, fake_wechat, clock
):
    config = make_config(wechat={**fake_wechat.wechat_config(), "busy_retries": 0})
    sender, scheduler, closers = await seed_campaign(config, clock, fake_wechat)
    metrics = scheduler.services.metrics
    assert "laoke_scheduler_leader 1.0" in metrics.render().decode()
    clock.advance(minutes=20)
    async with scheduler.sessionmaker() as session:
        backlog = await delivery_backlog(session, clock.now())
    assert (backlog.due, backlog.oldest_due_s) == (BUYERS, 20 * 60)
    export(metrics, backlog)
    await sender.run_once()  # one batch sent
    async with scheduler.sessionmaker() as session:
        assert (await delivery_backlog(session, clock.now())).due < BUYERS
    text = metrics.render().decode()
    assert f"laoke_deliveries_due {float(BUYERS)}" in text
    assert "laoke_deliveries_oldest_due_seconds 1200.0" in text

    # Another process takes the lease over (this one stopped renewing it for 30 s).
    from bot.leases import acquire_lease
    from scheduler.loop import LEASE_NAME

    clock.advance(seconds=31)
    assert await acquire_lease(
        scheduler.sessionmaker, LEASE_NAME, "scheduler:other", clock.now(), timedelta(seconds=30)
    )
    assert not await scheduler.tick()
    text = metrics.render().decode()
    assert "laoke_scheduler_leader 0.0" in text
    assert "laoke_deliveries_due NaN" in text
    for closer in closers:
        await (closer.dispose() if hasattr(closer, "dispose") else closer.close())
