"""The form machinery: the state store on both databases (including two writers at once),
the dialog-state loader, and the engine running a form that is not the card."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlalchemy.orm.exc import StaleDataError

from bot.database import create_engine, sessionmaker
from bot.dialog.context import Context, Services
from bot.dialog.forms import engine
from bot.dialog.forms.fields import Field, Form, Invalid
from bot.dialog.forms.store import (
    PAUSED,
    FormState,
    end_form,
    load_dialog_state,
    load_form_state,
    start_form,
    update_state,
)
from bot.dialog.rendering import Renderer
from bot.models import Buyer


@pytest.fixture
async def db(db_url):
    engine_ = create_engine(db_url)
    yield sessionmaker(engine_)
    await engine_.dispose()


async def add_buyer(maker, clock, openid="oForm") -> int:
    async with maker() as session:
        buyer = Buyer(openid=openid, first_seen_at=clock.now())
        session.add(buyer)
        await session.commit()
        return buyer.id


async def test_form_state_survives_sessions_and_ends(db, clock):
    buyer_id = await add_buyer(db, clock)
    async with db() as session:
        buyer = await session.get(Buyer, buyer_id)
        await start_form(session, buyer, "card", "volume", clock.now(), {"display_name": "王姐"})
        await session.commit()
    async with db() as session:
        state = await load_form_state(session, buyer_id)
        assert (state.form, state.step, state.values, state.version) == (
            "card", "volume", {"display_name": "王姐"}, 1,
        )  # fmt: skip
        update_state(state, clock.now(), values={**state.values, "volume": [1, 2]}, attempts=2)
        await session.commit()
    async with db() as session:
        state = await load_form_state(session, buyer_id)
        assert state.values == {"display_name": "王姐", "volume": [1, 2]}
        assert (state.attempts, state.version) == (2, 2)
        buyer = await session.get(Buyer, buyer_id)
        assert buyer.open_form == "card"  # the flag that spares the lookup for everyone else
        await end_form(session, buyer)
        assert await load_form_state(session, buyer_id) is None
        await session.commit()
    async with db() as session:
        assert (await session.get(Buyer, buyer_id)).open_form is None


async def test_a_writer_holding_an_outdated_state_cannot_overwrite_a_newer_one(db, clock):
    buyer_id = await add_buyer(db, clock)
    async with db() as session:
        await start_form(session, await session.get(Buyer, buyer_id), "card", "name", clock.now())
        await session.commit()
    # Read outside a lock (as SQLite does), then let another transaction move the state on.
    stale_session = db()
    stale = await stale_session.get(FormState, buyer_id)
    await stale_session.commit()  # ends the read; the object keeps version 1
    async with db() as session:
        state = await load_form_state(session, buyer_id)
        update_state(state, clock.now(), step="company", values={"display_name": "王姐"})
        await session.commit()
    update_state(stale, clock.now(), step="company", values={"display_name": "李总"})
    with pytest.raises(StaleDataError):
        await stale_session.commit()
    await stale_session.close()
    async with db() as session:
        state = await load_form_state(session, buyer_id)
        assert state.values == {"display_name": "王姐"} and state.version == 2


async def test_two_messages_at_once_both_land_in_order(db, clock):
    """Each writer loads (locking on PostgreSQL), adds its answer and commits; a writer that
    loses the compare-and-swap retries, as a redelivered message would. No answer is lost."""
    buyer_id = await add_buyer(db, clock)
    async with db() as session:
        await start_form(session, await session.get(Buyer, buyer_id), "card", "x", clock.now())
        await session.commit()

    async def answer(key: str) -> None:
        for _ in range(5):
            session = db()
            try:
                state = await load_form_state(session, buyer_id)
                await asyncio.sleep(0)  # let the other writer interleave
                update_state(state, clock.now(), values={**state.values, key: True})
                await session.commit()
                return
            except StaleDataError:
                await session.rollback()
            finally:
                await session.close()
        raise AssertionError("never committed")

    await asyncio.gather(*(answer(f"k{i}") for i in range(4)))
    async with db() as session:
        state = await load_form_state(session, buyer_id)
        assert state.values == {"k0": True, "k1": True, "k2": True, "k3": True}
        assert state.version == 5


# --- the loader and the engine, on a form that is not the card --------------------------

RSVP = Form(
    name="rsvp",
    fields=(
        Field("seats", "人数", "rsvp_ask_seats",
              lambda t, c: int(t) if t.isdigit() and 0 < int(t) < 10 else Invalid("seats"),
              required=True),
        Field("note", "备注", "rsvp_ask_note", lambda t, c: t.strip() or Invalid("note")),
    ),
)  # fmt: skip
TEMPLATES = {
    "messages/rsvp_ask_seats.j2": "几位？",
    "messages/rsvp_ask_note.j2": "备注？",
    "messages/rsvp_invalid.j2": "不对（{{ reason }}）",
    "messages/rsvp_skip_offer.j2": "可以跳过",
    "messages/rsvp_required.j2": "必填",
    "messages/rsvp_back_first.j2": "第一个",
    "messages/rsvp_paused.j2": "暂停",
    "messages/rsvp_filled.j2": "记下{{ labels|join }}",
}


async def _done(ctx, state):
    from bot.dialog.context import Reply

    return Reply(f"完成 {state.values}")


@pytest.fixture
async def talk(db, clock, make_config):
    """Send text to the engine as one buyer, each message in its own transaction."""
    buyer_id = await add_buyer(db, clock)
    renderer = Renderer()
    for name, source in TEMPLATES.items():
        renderer.set_override(name, source)
    services = Services(
        config=make_config(), renderer=renderer, api=None, clock=clock, metrics=None
    )
    form = Form(RSVP.name, RSVP.fields, on_complete=_done)

    async def send(text: str) -> tuple[str | None, str | None]:
        async with db() as session:
            buyer = await session.get(Buyer, buyer_id)
            message = SimpleNamespace(type="text", content=text)
            ctx = Context(message=message, buyer=buyer, session=session, services=services)
            await load_dialog_state(ctx)
            if text == "开始":
                reply = await engine.begin(ctx, form)
            else:
                reply = await engine.answer(ctx, form, ctx.notes["form_state"])
            ctx.notes.clear()
            after = await load_dialog_state(ctx)
            await session.commit()
            return reply.text, after

    return send


async def test_engine_runs_any_form_with_complaints_skip_offer_back_and_pause(talk, clock):
    assert await talk("开始") == ("几位？", "rsvp:seats")
    assert await talk("跳过") == ("必填\n几位？", "rsvp:seats")  # required: no skipping yet
    assert await talk("很多") == ("不对（seats）\n几位？", "rsvp:seats")
    # The refused skip was the first try: the third one brings the way out.
    assert await talk("99") == ("不对（seats）\n可以跳过\n几位？", "rsvp:seats")
    assert await talk("x") == ("不对（seats）\n可以跳过\n几位？", "rsvp:seats")
    assert await talk("3") == ("备注？", "rsvp:note")
    assert await talk("上一步") == ("几位？", "rsvp:seats")
    assert await talk("2") == ("备注？", "rsvp:note")
    assert await talk("退出") == ("暂停", None)  # paused: no longer a dialog


async def test_loader_reports_a_form_untouched_for_days_as_stale(db, clock, make_config):
    buyer_id = await add_buyer(db, clock)
    services = Services(
        config=make_config(), renderer=Renderer(), api=None, clock=clock, metrics=None
    )
    async with db() as session:
        await start_form(session, await session.get(Buyer, buyer_id), "card", "volume", clock.now())
        await session.commit()

    async def state_now() -> str | None:
        async with db() as session:
            buyer = await session.get(Buyer, buyer_id)
            ctx = Context(message=None, buyer=buyer, session=session, services=services)
            return await load_dialog_state(ctx)

    assert await state_now() == "card:volume"
    clock.advance(days=6, hours=23)
    assert await state_now() == "card:volume"
    clock.advance(hours=1)
    assert await state_now() == "card:stale"
    async with db() as session:
        state = await load_form_state(session, buyer_id)
        update_state(state, clock.now(), status=PAUSED)
        await session.commit()
    assert await state_now() is None


async def test_loader_costs_no_query_for_a_buyer_without_a_form(db, clock, make_config):
    from sqlalchemy import event

    buyer_id = await add_buyer(db, clock)
    services = Services(
        config=make_config(), renderer=Renderer(), api=None, clock=clock, metrics=None
    )
    statements: list[str] = []
    async with db() as session:
        buyer = await session.get(Buyer, buyer_id)
        engine_ = session.bind.sync_engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine_, "before_cursor_execute", listener)
        try:
            ctx = Context(message=None, buyer=buyer, session=session, services=services)
            assert await load_dialog_state(ctx) is None
        finally:
            event.remove(engine_, "before_cursor_execute", listener)
    assert statements == []
