"""The text of a campaign message for one buyer: templates/messages/campaign_<kind>.j2.

Every campaign message is rendered per buyer (recall messages carry the buyer's tier perks and
interests) with the application's sandboxed Jinja2 environment; a campaign may bring its own
template source, which is compiled in the same sandbox. Compiled templates are cached per
campaign because a million-buyer campaign renders the same template a million times.

This module does not decide whether or how a message is sent (``scheduler/delivery.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from bot.config import TierConfig
from bot.dialog.context import Services
from bot.models import Buyer
from scheduler.errors import CampaignError
from scheduler.models import Campaign, CampaignStep

# Buyers with the same tier, name, interests and card fields get the same text, so a
# million-buyer campaign renders each distinct combination once. A template may only use
# these buyer fields (the sender loads no others).
MEMO_FIELDS = ("company", "business_type", "province", "city")
MEMO_SIZE = 50_000


def _duration(seconds: int | None) -> str:
    """86400 → 1天, 3600 → 1小时, 1800 → 30分钟 (how reminders say "starts in …")."""
    seconds = seconds or 0
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}天"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds // 3600}小时"
    return f"{max(1, seconds // 60)}分钟"


class CampaignMessages:
    """Renders campaign messages; one instance per process (it caches compiled templates)."""

    def __init__(self, services: Services) -> None:
        self.env: SandboxedEnvironment = services.renderer.env
        self.tz = ZoneInfo(services.config.campaigns.timezone)
        self.tiers: dict[str, TierConfig] = {t.key: t for t in services.config.tiers.levels}
        self._templates: dict[tuple[int, str | None], Template] = {}
        self._context: dict[tuple[int, int], dict[str, Any]] = {}
        self._memo: dict[tuple[Any, ...], str] = {}

    @staticmethod
    def check_source(source: str) -> None:
        """Refuse a template source that does not compile (names the line)."""
        try:
            SandboxedEnvironment().parse(source)
        except TemplateSyntaxError as exc:
            raise CampaignError(f"message_source: line {exc.lineno}: {exc.message}") from None

    def check_template_name(self, name: str) -> None:
        """Refuse a template name with no readable file under templates/messages."""
        try:
            self.env.get_template(f"messages/{name}.j2")
        except TemplateError as exc:
            raise CampaignError(f"message_template: {name}: {exc}") from None

    def _template(self, campaign: Campaign) -> Template:
        key = (campaign.id, campaign.message_source)
        template = self._templates.get(key)
        if template is None:
            if campaign.message_source is not None:
                template = self.env.from_string(campaign.message_source)
            else:
                name = campaign.message_template or f"campaign_{campaign.kind}"
                template = self.env.get_template(f"messages/{name}.j2")
            self._templates[key] = template
        return template

    def _local(self, iso: str | None) -> str:
        if not iso:
            return ""
        when = datetime.fromisoformat(iso).astimezone(self.tz)
        return f"{when.month}月{when.day}日 {when:%H:%M}"

    def _step_context(self, campaign: Campaign, step: CampaignStep) -> dict[str, Any]:
        """What every buyer's message of this step shares (computed once per step)."""
        key = (campaign.id, step.id)
        ctx = self._context.get(key)
        if ctx is None:
            p = campaign.params
            ctx = {
                "campaign": campaign,
                "step": step,
                "params": p,
                "title": p.get("title", ""),
                "link": p.get("link", ""),
                "text": p.get("text", ""),
                "start_local": self._local(p.get("start_at")),
                "until": _duration(step.offset_s),
                "window_start_local": self._local(p.get("window_start")),
                "window_end_local": self._local(p.get("window_end")),
            }
            self._context[key] = ctx
        return ctx

    def render(self, campaign: Campaign, step: CampaignStep, buyer: Buyer | Any) -> str:
        """The message this buyer gets for this step (buyer: a Buyer or a row with its fields)."""
        interests = tuple(buyer.interests or ())
        key = (campaign.id, step.id, buyer.tier_key, buyer.display_name, interests) + tuple(
            getattr(buyer, f, None) for f in MEMO_FIELDS
        )
        text = self._memo.get(key)
        if text is None:
            tier = self.tiers.get(buyer.tier_key) if buyer.tier_key else None
            text = (
                self._template(campaign)
                .render(
                    self._step_context(campaign, step),
                    buyer=buyer,
                    name=buyer.display_name or "老朋友",
                    tier=tier,
                    interests=list(interests),
                )
                .strip()
            )
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = text
        return text

    def template_data(self, campaign: Campaign, text: str) -> tuple[dict[str, Any], str | None]:
        """Template-message data and link for a buyer outside the 48-hour window."""
        return {"content": {"value": text}}, campaign.params.get("link") or None
