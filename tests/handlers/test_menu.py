"""The custom menu: each button of the account's menu (as the chat simulator shows it) is
answered like the keyword it stands for."""

from __future__ import annotations

import pytest

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
