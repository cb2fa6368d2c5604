"""Natural phrasings through the real webhook: every row of ``phrasings.py`` reaches the
handler it means (read back from the stored inbound message), opt-out only when meant;
plus the matcher itself, courtesy answers, FAQ entries, and the handoff outcome."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest
from phrasings import KNOWN_MISSES, PHRASINGS
from sqlalchemy import select

from bot.config import ConfigError
from bot.models import Buyer, InboundMessage
from handlers.intents import match, staff_guess

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
FAQ = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["faq"]
ANSWERS = {entry["topic"]: entry["answer"] for entry in FAQ}

HANDLERS = {
    "opt_out": "optout.opt_out", "opt_out_unsure": "optout.confirm_opt_out",
    "opt_in": "optout.opt_in", "tier": "membership.tier_card", "live": "live.next_live",
    "rsvp": "live.rsvp", "card": "card.exchange_cards", "show_card": "card.show_card",
    "edit_card": "card.edit_card", "delete_card": "card.delete_data", "help": "help.help_reply",
    "faq": "faq.answer_faq", "person": "handoff.ask_for_person",
    "shipping": "shipping.order_status",
    "courtesy": "smalltalk.courtesy", "not_understood": "fallback",
}  # fmt: skip
COURTESY = {"thanks": "不客气", "ack": "好的👌", "toil": "不辛苦", "bye": "再见",
            "greeting": "在的，有什么可以帮您", "festive": "也祝您节日快乐"}  # fmt: skip


@pytest.fixture
async def bot(make_wechat):
    return await make_wechat(faq=FAQ)


async def last_inbound(bot, openid: str) -> InboundMessage:
    async with bot.sessionmaker() as session:
        rows = await session.scalars(
            select(InboundMessage)
            .where(InboundMessage.openid == openid)
            .order_by(InboundMessage.id.desc())
        )
        return rows.first()


async def opted_out(bot, openid: str) -> bool:
    async with bot.sessionmaker() as session:
        return await session.scalar(select(Buyer.opted_out).where(Buyer.openid == openid))


def test_the_table_is_large_and_covers_every_outcome():
    assert len(PHRASINGS) >= 150
    assert {outcome.split(":")[0] for _, outcome in PHRASINGS} == set(HANDLERS)
    assert len({text for text, _ in PHRASINGS}) == len(PHRASINGS)
    assert set(KNOWN_MISSES) <= {text for text, _ in PHRASINGS}


def _rows(rows):
    """The rows, a known miss marked as expected to fail, with what the bot does instead."""
    return [
        pytest.param(t, o, marks=pytest.mark.xfail(reason=KNOWN_MISSES[t], strict=True))
        if t in KNOWN_MISSES
        else (t, o)
        for t, o in rows
    ]


@pytest.mark.parametrize(("text", "outcome"), _rows(PHRASINGS))
async def test_a_phrasing_reaches_the_handler_it_means(bot, text, outcome):
    openid = "oP" + hashlib.sha1(text.encode()).hexdigest()[:16]
    reply = await bot.send_text(openid, text)
    kind, _, detail = outcome.partition(":")
    assert (await last_inbound(bot, openid)).handler == HANDLERS[kind], reply
    assert await opted_out(bot, openid) is (kind == "opt_out")
    if kind == "faq":
        assert ANSWERS[detail] in reply
    if kind == "courtesy":
        assert COURTESY[detail] in reply and "我可以帮您" not in reply
    if kind == "opt_out_unsure":
        assert "回复「退订」即可停止" in reply


@pytest.mark.parametrize(
    ("text", "outcome"), _rows([(t, o) for t, o in PHRASINGS if not o.startswith("faq:")])
)
def test_the_matcher_alone_agrees_with_the_table(text, outcome):
    kind, _, detail = outcome.partition(":")
    found = match(text)
    if kind == "not_understood":
        assert found is None
    elif kind == "shipping":  # a staff matter the bot answers from the buyer's latest order
        assert found is None and staff_guess(text) == "shipping"
    else:
        assert found is not None and (found.name, found.kind) == (kind, detail)


async def test_an_unsure_phrasing_opts_out_only_once_confirmed(bot):
    assert "是想停止接收活动推送吗" in await bot.send_text("oUnsure", "消息太多了")
    assert await opted_out(bot, "oUnsure") is False
    assert "已为您退订" in await bot.send_text("oUnsure", "退订")
    assert await opted_out(bot, "oUnsure") is True


async def test_inside_the_card_an_answer_is_an_answer_and_a_question_is_a_command(bot):
    await bot.send_text("oForm", "名片")
    assert "怎么称呼您" in await bot.send_text("oForm", "好的")  # consent, not courtesy
    assert "公司或店铺" in await bot.send_text("oForm", "王姐")
    assert "哪种生意" in await bot.send_text("oForm", "开播电商")  # a company, not 直播
    tier = await bot.send_text("oForm", "我是什么会员？")
    assert "会员" in tier and tier.endswith("回复「继续」接着填写名片。")
    async with bot.sessionmaker() as session:
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == "oForm"))
    assert (buyer.display_name, buyer.company) == ("王姐", "开播电商")


async def test_a_request_for_a_person_is_handed_to_staff_and_told_so(bot):
    reply = await bot.send_text("oPerson", "转人工")
    assert "客服会尽快回复您" in reply


async def test_without_faq_entries_those_questions_are_handed_off(make_wechat):
    bot = await make_wechat()
    assert "客服会尽快回复您" in await bot.send_text("oNoFaq", "能开发票吗")
    assert (await last_inbound(bot, "oNoFaq")).handler == "fallback"


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"topic": "开票", "keywords": [], "answer": "可以"}, "faq.0.keywords"),
        ({"topic": "开票", "keywords": [" "], "answer": "可以"}, "faq.0.keywords"),
        ({"topic": "开票", "keywords": ["发票"], "answer": ""}, "faq.0.answer"),
        ({"topic": "开票", "keywords": ["发票"], "answer": "x", "extra": 1}, "faq.0.extra"),
    ],
)
def test_a_faq_entry_that_cannot_work_is_refused_at_start_naming_it(make_config, entry, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        make_config(faq=[entry])


def test_a_keyword_in_two_faq_entries_is_refused(make_config):
    entries = [{"topic": "开票", "keywords": ["发票"], "answer": "a"},
               {"topic": "税", "keywords": ["发票"], "answer": "b"}]  # fmt: skip
    with pytest.raises(ConfigError, match="发票"):
        make_config(faq=entries)
