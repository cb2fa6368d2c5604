"""Signing in and confirming a password under attack, through the app as a browser would:
concurrent guesses, a flood of sign-ins, reverse proxies, and "confirm your password" fields."""

from __future__ import annotations

import asyncio
import re
import threading

from sqlalchemy import select

from console.accounts import password_matches
from console.client_address import address_of, networks
from console.models import AuditEntry, ConsoleSession, LoginFailure
from console.password_pool import PASSWORD_POOL
from laoke.app import create_app
from tests.console.conftest import ConsoleClient

PASSWORD = "correct-horse-9"  # what conftest gives every account


async def _login_form(client) -> tuple[str, str]:
    """The sign-in page's CSRF field and the pre-session cookie that goes with it: a fresh
    pre-session each time (the client's cookie jar is emptied; requests send it by hand)."""
    client.session.cookie_jar.clear()
    resp = await client.get("/admin/login")
    field = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text()).group(1)
    cookie = "; ".join(f"{k}={v.value}" for k, v in resp.cookies.items())
    client.session.cookie_jar.clear()
    return field, cookie


async def _sign_in(client, name, password, csrf, *, headers=None):
    field, cookie = csrf
    return await client.post(
        "/admin/login",
        data={"name": name, "password": password, "csrf_token": field},
        headers={"Cookie": cookie, **(headers or {})},
        allow_redirects=False,
    )


async def _sessions_of(console) -> int:
    async with console.sessionmaker() as session:
        return len((await session.scalars(select(ConsoleSession.id))).all())


async def _console(aiohttp_client, make_config, clock, **console) -> ConsoleClient:
    app = create_app(make_config(console=console), clock=clock)
    return ConsoleClient(await aiohttp_client(app), app, clock)


async def test_thirty_concurrent_guesses_verify_at_most_five_passwords(
    aiohttp_client, make_config, clock
):
    """Before the fix all 30 passed the check before any failure was counted, and the right
    password at position 26 signed in. Counted atomically, only 5 attempts reach the password
    check, whichever arrive first; the right one signs in only if it is among them (on a busy
    machine requests need not arrive in the order they were sent)."""
    # Room for all 30 in the hashing pool: only the throttle stands in the way here.
    console = await _console(aiohttp_client, make_config, clock, password_queue=64)
    await console.add_user("boss", "admin")
    csrf = await _login_form(console.client)
    guesses = [f"guess-{i:02d}-wrong" for i in range(30)]
    guesses[25] = PASSWORD  # the 26th attempt has the right password
    answers = await asyncio.gather(*(_sign_in(console.client, "boss", g, csrf) for g in guesses))
    texts = [await a.text() for a in answers]
    checked = [a for a in answers if a.status != 429]  # attempts whose password was verified
    assert len(checked) <= 5  # [console] login_failures_per_account
    signed_in = [a for a in answers if a.status == 303]
    assert len(signed_in) <= 1 and await _sessions_of(console) == len(signed_in)
    throttled = [t for a, t in zip(answers, texts, strict=True) if a.status == 429]
    assert len(throttled) >= 25 and all("登录失败次数过多" in t for t in throttled)


async def test_a_sign_in_flood_is_refused_before_hashing_and_the_webhook_keeps_answering(
    make_wechat, monkeypatch
):
    wechat = await make_wechat(console={"password_workers": 1, "password_queue": 2})
    pool = wechat.app[PASSWORD_POOL]
    started, gate, verified = threading.Event(), threading.Event(), []

    def held_verification(stored: str, password: str) -> bool:
        """argon2 as it is, held in its worker thread until the test lets it finish."""
        verified.append(password)
        started.set()
        gate.wait(timeout=10)
        return password_matches(stored, password)

    monkeypatch.setattr("console.sign_in.password_matches", held_verification)
    csrf = await _login_form(wechat.http)
    pending = {
        asyncio.create_task(_sign_in(wechat.http, f"stranger{i}", "river-lamp-71", csrf))
        for i in range(12)
    }
    refused = []
    while len(refused) < 9:  # 1 worker + 2 waiting hold the pool; the other 9 answer at once
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        refused += [t.result() for t in done]
    assert all(r.status == 429 for r in refused)
    assert "登录请求过多，请稍后再试" in await refused[0].text()
    assert await asyncio.to_thread(started.wait, 10)  # the first admitted one is verifying
    assert pool.refused == 9 and len(verified) == 1  # no hash for the refused ones
    # While a password is being verified, the webhook answers: hashing is off the event loop.
    assert await wechat.send_text("oBuyer", "你好")
    assert pool.in_flight == 3 and len(pending) == 3
    gate.set()
    checked = await asyncio.gather(*pending)
    assert [a.status for a in checked] == [401, 401, 401] and len(verified) == 3
    assert pool.in_flight == 0


async def test_confirm_password_fields_are_throttled_per_account(console):
    operator = await console.login_as("operator", name="amy")
    form = {"name": "报表", "scope": "read", "expiry": "30"}
    for _ in range(5):
        resp = await console.client.post(
            "/admin/settings/tokens", headers=operator, data=form | {"my_password": "nope-nope"}
        )
        assert "你的登录密码不正确" in await resp.text()
    resp = await console.client.post(
        "/admin/settings/tokens", headers=operator, data=form | {"my_password": PASSWORD}
    )
    page = await resp.text()
    assert resp.status == 400 and "密码输入错误次数过多，请 15 分钟后再试" in page
    assert "lk_" not in page  # no token was created
    console.clock.advance(minutes=15)
    resp = await console.client.post(
        "/admin/settings/tokens", headers=operator, data=form | {"my_password": PASSWORD}
    )
    assert resp.status == 200 and "lk_" in await resp.text()


async def test_members_page_confirmation_shares_the_accounts_count(console):
    admin = await console.login_as("admin", name="boss")
    for _ in range(5):
        await console.client.post(
            "/admin/settings/members", headers=admin,
            data={"name": "amy", "role": "viewer", "my_password": "nope-nope"},
        )  # fmt: skip
    resp = await console.client.post(
        "/admin/settings/members", headers=admin,
        data={"name": "amy", "role": "viewer", "my_password": PASSWORD},
    )  # fmt: skip
    assert resp.status == 400 and "密码输入错误次数过多" in await resp.text()


async def test_behind_a_trusted_proxy_the_forwarded_client_is_throttled_and_audited(
    aiohttp_client, make_config, clock
):
    proxies = ["127.0.0.1", "10.0.0.0/8"]
    console = await _console(aiohttp_client, make_config, clock, trusted_proxies=proxies)
    await console.add_user("boss", "admin")
    csrf = await _login_form(console.client)
    attacker = {"X-Forwarded-For": "203.0.113.9, 10.1.2.3"}  # client, then an inner proxy
    for _ in range(5):
        wrong = await _sign_in(console.client, "boss", "wrong-guess", csrf, headers=attacker)
        assert wrong.status == 401
    right = await _sign_in(console.client, "boss", PASSWORD, csrf, headers=attacker)
    assert right.status == 429  # the attacker's address waits, even with the right password
    # Staff at another address sign in: one attacker cannot lock the account for everyone.
    office = {"X-Forwarded-For": "198.51.100.20"}
    assert (await _sign_in(console.client, "boss", PASSWORD, csrf, headers=office)).status == 303
    async with console.sessionmaker() as session:
        addresses = set((await session.scalars(select(LoginFailure.address))).all())
        login = await session.scalar(select(AuditEntry).where(AuditEntry.action == "login"))
    assert addresses == {"203.0.113.9"}
    assert login.address == "198.51.100.20"


async def test_without_trusted_proxies_a_forwarded_header_is_ignored(console):
    await console.add_user("boss", "admin")
    csrf = await _login_form(console.client)
    for i in range(5):
        spoof = {"X-Forwarded-For": f"198.51.100.{i}"}  # a new "address" every time
        await _sign_in(console.client, "boss", "wrong-guess", csrf, headers=spoof)
    spoof = {"X-Forwarded-For": "198.51.100.99"}
    assert (await _sign_in(console.client, "boss", PASSWORD, csrf, headers=spoof)).status == 429


def test_the_client_is_the_right_most_untrusted_hop_and_only_a_trusted_peer_is_believed():
    trusted = networks(("127.0.0.1", "10.0.0.0/8"))
    # nginx on 127.0.0.1 appended what it saw; the left part was written by the client.
    assert address_of("127.0.0.1", ["1.1.1.1, 203.0.113.9"], trusted) == "203.0.113.9"
    assert address_of("127.0.0.1", ["203.0.113.9, 10.1.2.3"], trusted) == "203.0.113.9"
    assert address_of("127.0.0.1", ["203.0.113.9", "10.1.2.3"], trusted) == "203.0.113.9"
    assert address_of("198.51.100.7", ["203.0.113.9"], trusted) == "198.51.100.7"  # not a proxy
    assert address_of("127.0.0.1", [], trusted) == "127.0.0.1"
    assert address_of("::ffff:127.0.0.1", ["203.0.113.9"], trusted) == "203.0.113.9"
    assert address_of("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"  # none configured


async def test_the_sign_in_token_of_another_pre_session_is_refused(console):
    await console.add_user("boss", "admin")
    mine = await _login_form(console.client)
    attackers = await _login_form(console.client)  # what an attacker gets for themselves
    assert mine != attackers
    forged = (attackers[0], mine[1])  # the attacker's token with the victim's cookie
    resp = await _sign_in(console.client, "boss", PASSWORD, forged)
    assert resp.status == 403 and await _sessions_of(console) == 0
    # The pre-session value itself is no token either (it was, with a double-submit cookie).
    presession = mine[1].split("=", 1)[1]
    resp = await _sign_in(console.client, "boss", PASSWORD, (presession, mine[1]))
    assert resp.status == 403
    assert (await _sign_in(console.client, "boss", PASSWORD, mine)).status == 303
