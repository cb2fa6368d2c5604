"""The custom menu: each button of the account's menu (as the chat simulator shows it) is
answered like the keyword it stands for."""

from __future__ import annotations

from datetime import timedelta

import pytest

from content.menu import clicks_since
from demo.simulator.chat import MENU


@pytest.mark.parametrize(
    ("key", "keyword"),
    [("MEMBERSHIP", "会员"), ("LIVE", "直播"), ("HELP", "帮助"), ("CARD", "名片")],
)
async def test_menu_click_is_answered_like_its_keyword(wechat, key, keyword):
    clicked = await wechat.send_event("oMenu", "CLICK", key=key)
    typed = await wechat.send_text("oTyped", keyword)
    assert clicked and clicked == typed


def test_every_menu_button_of_the_simulator_has_a_test():
    assert {key for _, key in MENU} == {"MEMBERSHIP", "LIVE", "HELP", "CARD"}


async def test_button_uses_are_counted_over_seven_days(wechat, clock):
    for key in ("CARD", "CARD", "LIVE"):
        await wechat.send_event("oMenu", "CLICK", key=key)
        clock.advance(seconds=1)
    await wechat.send_text("oMenu", "名片")  # typed, not clicked
    async with wechat.sessionmaker() as session:
        assert await clicks_since(session, clock.now() - timedelta(days=7)) == {
            "CARD": 2,
            "LIVE": 1,
        }
        clock.advance(days=8)
        assert await clicks_since(session, clock.now() - timedelta(days=7)) == {}
