"""A bounded schemathesis run over every operation of the operator API: no server errors, and
answers that match the OpenAPI document (status codes, content type, declared schemas).

The application runs on a real aiohttp server on 127.0.0.1 in a thread of its own (with the
test's SQLite database, a few buyers and a saved segment), and schemathesis sends requests
generated from ``/api/openapi.json`` with the right token. The number of examples per
operation is kept small so the whole run takes well under a minute.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.api import openapi_document
from bot.appkeys import CLOCK, SESSIONMAKER
from bot.config import parse_config
from bot.models import Buyer
from laoke.app import api_route_sets, create_app
from scheduler.saved_segments import create_segment

TOKEN = "schemathesis-token"
EXAMPLES = 10  # per operation and phase; the whole run stays well under a minute on 2 cores
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(openapi_document(api_route_sets()))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory, sqlite_template) -> Iterator[str]:
    """The app served on a free port of 127.0.0.1 from a thread; its URL."""
    folder = tmp_path_factory.mktemp("schemathesis")
    db = folder / "laoke.db"
    shutil.copy(sqlite_template, db)
    server = {"port": 0, "run_scheduler": False, "run_senders": False}
    config = parse_config(
        {
            "server": server | {"spool_dir": str(folder / "spool")},
            "wechat": {
                "appid": "wx1234567890abcdef",
                "secret": "s",
                "token": "t",
                "api_base_url": "http://127.0.0.1:9/",  # nothing answers: sends fail fast
                "timeout_s": 0.5,
            },
            "database": {"url": f"sqlite+aiosqlite:///{db}"},
            "api": {"token": TOKEN},
            "tiers": {"levels": [{"key": "gold", "name": "金卡", "rank": 1, "min_spend": 100}]},
        },
        env={},
    )
    loop = asyncio.new_event_loop()
    started = threading.Event()
    url: list[str] = []
    stop = asyncio.Event()

    async def serve() -> None:
        app = create_app(config)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        now = app[CLOCK].now()
        async with app[SESSIONMAKER].begin() as session:
            for i in range(3):
                session.add(
                    Buyer(
                        openid=f"oBuyer{i}",
                        tier_key="gold" if i else None,
                        first_seen_at=now,
                        subscribed_at=now,
                        last_interaction_at=now - timedelta(days=10 * i),
                        tags=[],
                        channels=[],
                        interests=["女装"],
                    )
                )
            await create_segment(
                session, "gold", {"field": "tier", "op": "eq", "value": "gold"}, now
            )
        url.append(f"http://127.0.0.1:{port}")
        started.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30), "the server did not start"
    yield url[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    loop.close()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_operation_answers_a_server_error(case, base_url):
    case.call_and_validate(
        base_url=base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=CHECKS,
        timeout=10,
    )
