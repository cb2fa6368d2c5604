"""A client that trickles bytes cannot hold a connection of a real ``laoke serve`` open.

The request head must arrive within ``header_timeout_s`` and a callback's body within
``body_timeout_s``; these tests set both to one second, trickle a byte every 0.2 s over raw
sockets, and expect the server to close each connection within a few seconds (it would keep
them open for minutes otherwise), while an ordinary callback is still answered."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from laoke_process import free_port, start_serve, write_serve_config

from demo.simulator.callback import CallbackSigner

TOKEN, APPID = "slowtoken", "wxslowclient00001"
LIMIT_S = 1.0
CLOSED_WITHIN_S = 4.0  # the limit, plus scheduling slack on a busy machine


@pytest.fixture
async def server(tmp_path: Path, sqlite_url: str):
    port = free_port()
    config = write_serve_config(
        tmp_path / "serve.toml", port, sqlite_url, appid=APPID, token=TOKEN,
        spool_dir=tmp_path / "spool", header_timeout_s=LIMIT_S, body_timeout_s=LIMIT_S,
    )  # fmt: skip
    log = tmp_path / "serve.log"
    proc = await start_serve(config, log, f"http://127.0.0.1:{port}")
    try:
        yield port
    finally:
        proc.terminate()
        await proc.wait()


async def trickle(port: int, head: bytes, then: bytes) -> tuple[float, bytes]:
    """Send `head` at once, then `then` a byte every 0.2 s; how long until the server closed
    the connection, and what it answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    answer = b""
    try:
        writer.write(head)
        for byte in then:
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                chunk = await asyncio.wait_for(reader.read(4096), 0.2)
            except TimeoutError:
                if time.monotonic() - started > 3 * CLOSED_WITHIN_S:
                    break  # still open: the assertion below fails
                continue
            answer += chunk
            if not chunk:  # EOF: closed by the server
                break
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - started, answer


async def test_a_trickled_request_head_is_cut_off(server):
    head = b"POST /wechat?signature=x HTTP/1.1\r\nHost: laoke\r\n"
    elapsed, _ = await trickle(server, b"", head + b"X-Slow: " + b"a" * 200)
    assert elapsed < CLOSED_WITHIN_S


async def test_a_trickled_callback_body_gets_408_and_is_cut_off(server):
    signer = CallbackSigner(TOKEN, APPID)
    params, body = signer.text("oSlow_000000000000000000000", "在吗")
    head = (
        f"POST /wechat?{urlencode(params)} HTTP/1.1\r\nHost: laoke\r\n"
        f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    elapsed, answer = await trickle(server, head, body)
    assert elapsed < CLOSED_WITHIN_S
    assert answer.startswith(b"HTTP/1.1 408")


async def test_an_idle_kept_alive_connection_is_closed(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), CLOSED_WITHIN_S) == b""
    assert time.monotonic() - started < CLOSED_WITHIN_S
    writer.close()


async def test_an_ordinary_callback_is_still_answered(server):
    signer = CallbackSigner(TOKEN, APPID)
    params, body = signer.text("oSlow_000000000000000000000", "帮助")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{server}/wechat", params=params, data=body) as r:
            assert r.status == 200
            assert "名片" in await r.text()
