"""Routing: filters decide when a handler runs, order decides which, the fallback answers the rest."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from wechatpy.parser import parse_message

from bot.dialog.context import Context, Reply
from bot.dialog.dispatch import Dispatcher
from bot.dialog.routing import Router, dialog, keyword, menu_key, normalize, pattern
from demo.simulator.callback import message_xml

OPENID = "oBuyer_1234567890abcdefgh"


def ctx_for(fields: dict, state: str | None = None) -> Context:
    message = parse_message(message_xml({"FromUserName": OPENID, "CreateTime": 1, **fields}))
    ctx = Context(message=message, buyer=SimpleNamespace(), session=None, services=None)
    ctx.dialog_state = state
    return ctx


def text(content: str, state: str | None = None) -> Context:
    return ctx_for({"MsgType": "text", "Content": content, "MsgId": 1}, state)


def event(name: str, key: str | None = None) -> Context:
    return ctx_for({"MsgType": "event", "Event": name, "EventKey": key})


# --- filters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [(" 会员 ", "会员"), ("ＨＥＬＰ", "help"), ("？", "?"), ("名片\u3000", "名片"), ("Vip", "vip")],
)
def test_normalize_folds_width_case_and_spaces(raw, normal):
    assert normalize(raw) == normal


def test_keyword_matches_the_whole_normalised_text_only():
    member = keyword("会员", "VIP")
    assert member(text("会员")) and member(text(" vip ")) and member(text("ＶＩＰ"))
    assert not member(text("我想成为会员"))
    assert not member(event("subscribe"))


def test_voice_recognition_counts_as_text():
    voice = ctx_for(
        {"MsgType": "voice", "MediaId": "m", "Format": "amr", "Recognition": "会员", "MsgId": 2}
    )
    assert voice.text == "会员" and keyword("会员")(voice)


def test_pattern_leaves_its_match_on_the_context():
    phone = pattern(r"1[3-9]\d{9}")
    ctx = text("我的电话 13812345678 谢谢")
    assert phone(ctx) and ctx.match.group(0) == "13812345678"
    assert not phone(text("没有号码"))


def test_event_names_and_menu_keys():
    ctx = event("CLICK", "MEMBER")
    assert ctx.event == "click" and menu_key("MEMBER")(ctx) and not menu_key("LIVE")(ctx)
    assert event("subscribe", "qrscene_expo").event == "subscribe_scan"


def test_dialog_state_exact_and_by_prefix():
    assert dialog("card:phone")(text("x", "card:phone"))
    assert dialog("card*")(text("x", "card:phone")) and not dialog("card*")(text("x", None))
    assert dialog(None)(text("x", None)) and not dialog(None)(text("x", "card:phone"))


# --- the dispatcher ------------------------------------------------------------------------


async def _help(ctx):
    return Reply("help")


def build(*routers: Router, hooks=()) -> Dispatcher:
    return Dispatcher(list(routers), fallback=_help, reply_hooks=hooks)


async def test_first_matching_router_wins_in_the_order_given():
    first, second = Router("first"), Router("second")

    @second.text(keywords=("会员",))
    async def b(ctx):
        return "second"

    @first.text(keywords=("会员",))
    async def a(ctx):
        return "first"

    assert (await build(first, second).dispatch(text("会员")))[0].text == "first"
    assert (await build(second, first).dispatch(text("会员")))[0].text == "second"


async def test_order_beats_declaration_inside_a_router():
    router = Router("r")

    @router.text()
    async def general(ctx):
        return "general"

    @router.text(keywords=("会员",), order=-1)
    async def specific(ctx):
        return "specific"

    reply, name = await build(router).dispatch(text("会员"))
    assert (reply.text, name) == ("specific", "test_routing.specific")


async def test_a_declining_handler_passes_to_the_next_then_the_fallback():
    router = Router("r")

    @router.text()
    async def declines(ctx):
        return None

    reply, name = await build(router).dispatch(text("随便"))
    assert (reply.text, name) == ("help", "fallback")


async def test_reply_nothing_is_an_answer_not_a_decline():
    router = Router("r")

    @router.event("unsubscribe")
    async def silent(ctx):
        return Reply.nothing()

    reply, name = await build(router).dispatch(event("unsubscribe"))
    assert (reply.text, name) == (None, "test_routing.silent")


async def test_reply_hooks_run_in_order_on_the_final_reply():
    async def badge(ctx, reply):
        return Reply("🥇 " + reply.text)

    async def notice(ctx, reply):
        return Reply(reply.text + "\n(通知)")

    reply, _ = await build(hooks=[badge, notice]).dispatch(text("x"))
    assert reply.text == "🥇 help\n(通知)"


async def test_state_loader_sets_the_dialog_state_before_filters_run():
    router = Router("form")

    @router.handler(dialog("card*"))
    async def in_form(ctx):
        return f"in {ctx.dialog_state}"

    async def loader(ctx):
        return "card:company"

    dispatcher = Dispatcher([router], fallback=_help, state_loader=loader)
    assert (await dispatcher.dispatch(text("老王贸易")))[0].text == "in card:company"


# --- the dispatcher's keyword index --------------------------------------------------------


async def test_a_declining_keyword_handler_lets_the_next_candidate_answer_in_order():
    first, second = Router("first"), Router("second")
    tried = []

    @first.text(keywords=("会员",))
    async def declines(ctx):
        tried.append("declines")
        return None

    @first.text(order=5)
    async def general_but_later(ctx):
        tried.append("general")
        return None

    @second.text(keywords=("会员", "等级"))
    async def answers(ctx):
        tried.append("answers")
        return "member card"

    @first.text(keywords=("名片",))
    async def other_keyword(ctx):
        tried.append("other")
        return "card"

    dispatcher = build(first, second)
    reply, name = await dispatcher.dispatch(text(" 会员\u3000"))
    assert (reply.text, name) == ("member card", "test_routing.answers")
    assert tried == ["declines", "general", "answers"]


async def test_keyword_index_sees_handlers_registered_after_the_first_message():
    router = Router("r")
    dispatcher = build(router)
    assert (await dispatcher.dispatch(text("会员")))[0].text == "help"

    @router.text(keywords=("会员",))
    async def member(ctx):
        return "member"

    assert (await dispatcher.dispatch(text("会员")))[0].text == "member"
    assert (await dispatcher.dispatch(text("别的")))[0].text == "help"


async def test_events_and_texts_only_reach_handlers_of_their_kind():
    router = Router("r")

    @router.click("HELP")
    async def menu(ctx):
        return "menu"

    @router.text(keywords=("help",))
    async def word(ctx):
        return "word"

    dispatcher = build(router)
    assert (await dispatcher.dispatch(event("CLICK", "HELP")))[0].text == "menu"
    assert (await dispatcher.dispatch(text("HELP")))[0].text == "word"
    assert (await dispatcher.dispatch(text("HELP me")))[0].text == "help"


async def test_a_pattern_before_a_declining_filter_still_runs_as_before():
    router = Router("r")

    @router.handler(pattern(r"(\d+)"), keyword("不会匹配"))
    async def never(ctx):
        return "never"

    @router.text()
    async def echo(ctx):
        return ctx.match.group(1) if ctx.match else "no match"

    assert (await build(router).dispatch(text("订单 42")))[0].text == "42"
