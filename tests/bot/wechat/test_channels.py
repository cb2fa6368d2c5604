"""The one channel rule: which channel may carry which kind of message to a buyer now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.wechat.channels import MARKETING, SERVICE, Account, mass_text_problem, route

NOW = datetime(2026, 5, 18, 12, tzinfo=UTC)
RECENT, DORMANT = NOW - timedelta(hours=1), NOW - timedelta(days=3)
SUBSCRIPTION = Account("subscription", verified=True)


def test_marketing_never_goes_as_a_template_message():
    for last in (RECENT, DORMANT, None):
        for used in (0, 5):
            for mass_left in (True, False):
                channels = route(last, NOW, kind=MARKETING, has_template=True, custom_used=used,
                                 mass_left=mass_left).channels  # fmt: skip
                assert "template" not in channels


def test_marketing_uses_the_window_then_the_monthly_mass_allowance():
    assert route(RECENT, NOW, kind=MARKETING, mass_left=True).channels == ("custom",)
    assert route(DORMANT, NOW, kind=MARKETING, mass_left=True).channels == ("mass",)
    full = route(RECENT, NOW, kind=MARKETING, custom_used=5, mass_left=True)
    assert full.channels == ("mass",)  # the window's 5 messages are spent
    held = route(DORMANT, NOW, kind=MARKETING, mass_left=False)
    assert held.channels == () and held.skip_reason == "mass_quota"


def test_service_notices_fall_back_to_templates_only_where_the_account_may_send_them():
    assert route(DORMANT, NOW, kind=SERVICE, has_template=True).channels == ("template",)
    assert route(RECENT, NOW, has_template=True).channels == ("custom", "template")
    unverified = Account("service", verified=False)
    for account in (SUBSCRIPTION, unverified):
        late = route(DORMANT, NOW, kind=SERVICE, has_template=True, account=account)
        assert late.channels == () and late.skip_reason == "outside_window"
    assert route(DORMANT, NOW, kind=SERVICE, mass_left=True).channels == ()  # never mass


def test_the_account_kind_says_how_mass_sends_are_counted():
    assert Account().mass_per_buyer and Account().templates
    assert not SUBSCRIPTION.mass_per_buyer and not SUBSCRIPTION.templates


def test_a_mass_text_over_300_characters_is_refused_in_chinese():
    assert mass_text_problem("新" * 300) is None
    assert mass_text_problem("新" * 301) == "群发消息最多 300 字，这条有 301 字，请删减后再发"
