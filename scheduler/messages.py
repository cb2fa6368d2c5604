"""The text of a campaign message for one buyer: templates/messages/campaign_<kind>.j2.

Every campaign message is rendered per buyer (recall messages carry the buyer's tier perks and
interests) with the application's bounded sandbox (``bot/sandbox.py``); a campaign may bring
its own template source, which is compiled in the same sandbox. Compiled templates are cached
per campaign because a million-buyer campaign renders the same template a million times.

A template sees only the documented variables below, as plain values — never an ORM row (a
row would lead to ``campaign.metadata``, the schema, and to ``buyer.phone``):

- ``name``: the buyer's name, or 老朋友; ``buyer``: ``display_name``, ``company``,
  ``business_type``, ``province``, ``city``, ``tier_key``, ``interests``
- ``tier``: ``key``, ``name``, ``perks``, ``badge`` of the buyer's tier, or none
- ``interests``: the buyer's interests (a list, empty when unknown)
- ``step``: ``kind`` (announce, reminder, start, wave, broadcast, daily), ``seq``, ``offset_s``
- ``buyer.last_bought``: what the buyer's last order held (补货提醒), or empty
- ``rsvped``: the buyer has reserved this livestream (预约)
- ``title``, ``link``, ``text``; ``start_local``, ``end_local`` (livestream), ``until``
  (reminder: "1小时"), ``window_start_local``, ``window_end_local`` (recall)

The campaign's ``name`` is internal (the operator's label) and is not among them. A template
that fails for any sample context (each step kind × each tier and none × a full and an empty
card) is refused when the campaign is saved, naming the line. Once a render of a campaign trips a
limit at send time, that campaign's later renders get a deadline of ``SLOW_TIME_S`` instead
of the full limit: buyers it renders for normally (well under a millisecond) still get their
message, and each buyer it fails for costs at most that, not the full time limit. This module does not decide whether or how a message is sent
(``scheduler/delivery.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from itertools import product
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Template, TemplateError

from bot.config import Config, TierConfig
from bot.dialog.context import Services
from bot.dialog.rendering import Renderer
from bot.models import Buyer
from bot.sandbox import (
    BoundedEnvironment,
    RenderError,
    as_render_error,
    render_checked,
    render_within,
)
from content.overrides import PublishedTemplates
from scheduler.models import (
    ANNOUNCE,
    BROADCAST,
    DAILY,
    LIVESTREAM,
    RECALL,
    REMINDER,
    REORDER,
    SEND,
    START,
    WAVE,
    Campaign,
    CampaignStep,
)

# Buyers with the same tier, name, interests and card fields get the same text, so a
# million-buyer campaign renders each distinct combination once. A template may only use
# these buyer fields (the sender loads no others).
MEMO_FIELDS = ("company", "business_type", "province", "city")
MEMO_SIZE = 50_000
SLOW_TIME_S = 0.05  # the deadline of a campaign whose template once tripped a limit
CHECK_TIME_S = 2.0  # all sample contexts of the save-time check together


@dataclass(frozen=True)
class BuyerView:
    display_name: str | None
    company: str | None
    business_type: str | None
    province: str | None
    city: str | None
    tier_key: str | None
    interests: tuple[str, ...]
    last_bought: str = ""  # what the last order held (补货提醒), "" when unknown


@dataclass(frozen=True)
class TierView:
    key: str
    name: str
    perks: tuple[str, ...]
    badge: str


@dataclass(frozen=True)
class StepView:
    kind: str
    seq: int
    offset_s: int | None


STEP_KINDS = {
    LIVESTREAM: (ANNOUNCE, REMINDER, START),
    RECALL: (WAVE,),
    BROADCAST: (SEND,),
    REORDER: (DAILY,),
}
SAMPLE_BUYERS = (
    BuyerView(
        "张姐",
        "义乌小商品有限公司",
        "批发",
        "浙江",
        "金华",
        None,
        ("数码", "家居"),
        "春季新款纯棉T恤（白色 均码）、帆布托特包",
    ),
    BuyerView(None, None, None, None, None, None, ()),
)


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

    def __init__(
        self,
        env: BoundedEnvironment,
        timezone: str,
        tiers: list[TierConfig],
        published: PublishedTemplates | None = None,
    ) -> None:
        self.env = env
        # Admins' published versions of the campaign_* defaults (the 话术模板 page): used for a
        # campaign without its own message; a version failing for a buyer falls back to the file.
        self.published = published
        self.tz = ZoneInfo(timezone)
        self.tiers: dict[str, TierView] = {t.key: _tier_view(t) for t in tiers}
        self._templates: dict[tuple[int, str | None], Template] = {}
        self._slow: set[tuple[int, str | None]] = set()
        self._context: dict[tuple[int, int], dict[str, Any]] = {}
        self._memo: dict[tuple[Any, ...], str] = {}

    @classmethod
    def from_services(cls, services: Services) -> CampaignMessages:
        config = services.config
        source = services.renderer.override_source
        published = source if isinstance(source, PublishedTemplates) else None
        return cls(services.renderer.env, config.campaigns.timezone, config.tiers.levels, published)

    @classmethod
    def from_config(cls, config: Config) -> CampaignMessages:
        """For the CLI, which has no services: the default templates."""
        return cls(Renderer().env, config.campaigns.timezone, config.tiers.levels)

    def _compile(self, source: str | None, template: str | None, kind: str) -> Template:
        if source is not None:
            return self.env.from_string(source)
        return self.env.get_template(f"messages/{template or f'campaign_{kind}'}.j2")

    def check(self, campaign: Campaign, steps: list[CampaignStep]) -> None:
        """Render the campaign's template for every sample context (RenderError: the first
        failure, naming the line). Run it with ``render_off_loop``: it may take a while."""
        try:
            template = self._compile(
                campaign.message_source, campaign.message_template, campaign.kind
            )
        except TemplateError as exc:
            raise as_render_error(exc) from None
        kinds = {s.kind for s in steps} or set(STEP_KINDS.get(campaign.kind, ()))
        samples = [
            StepView(kind, seq, 3600 if kind == REMINDER else 0)
            for kind in sorted(kinds)
            for seq in (0, 1)
        ]
        tiers = (None, *self.tiers.values())
        deadline = time.monotonic() + CHECK_TIME_S
        for step, tier, buyer, rsvped in product(samples, tiers, SAMPLE_BUYERS, (False, True)):
            left = min(deadline - time.monotonic(), self.env.limits.time_s)
            if left <= 0:
                raise RenderError(f"the sample contexts took longer than {CHECK_TIME_S:g} s")
            shared, variables = self._shared(campaign, step), _buyer_vars(buyer, tier)
            render_checked(
                partial(render_within, template, left, shared, **variables, rsvped=rsvped)
            )

    def _published(self, campaign: Campaign) -> tuple[str, int, Template] | None:
        """The live published version of the default this campaign uses, if any."""
        if campaign.message_source is not None or self.published is None:
            return None
        name = campaign.message_template or f"campaign_{campaign.kind}"
        entry = self.published.live(name)
        return None if entry is None else (name, *entry)

    def _template(self, campaign: Campaign) -> Template:
        key = (campaign.id, campaign.message_source)
        template = self._templates.get(key)
        if template is None:
            template = self._compile(
                campaign.message_source, campaign.message_template, campaign.kind
            )
            self._templates[key] = template
        return template

    def _local(self, iso: str | None) -> str:
        if not iso:
            return ""
        when = datetime.fromisoformat(iso).astimezone(self.tz)
        return f"{when.month}月{when.day}日 {when:%H:%M}"

    def _shared(self, campaign: Campaign, step: StepView) -> dict[str, Any]:
        p = campaign.params or {}
        return {
            "step": step,
            "title": p.get("title") or "",
            "link": p.get("link") or "",
            "text": p.get("text") or "",
            "start_local": self._local(p.get("start_at")),
            "end_local": self._local(p.get("end_at")),
            "until": _duration(step.offset_s),
            "window_start_local": self._local(p.get("window_start")),
            "window_end_local": self._local(p.get("window_end")),
        }

    def _step_context(self, campaign: Campaign, step: CampaignStep) -> dict[str, Any]:
        """What every buyer's message of this step shares (computed once per step)."""
        key = (campaign.id, step.id)
        ctx = self._context.get(key)
        if ctx is None:
            ctx = self._shared(campaign, StepView(step.kind, step.seq, step.offset_s))
            self._context[key] = ctx
        return ctx

    def render(
        self, campaign: Campaign, step: CampaignStep, buyer: Buyer | Any, rsvped: bool = False
    ) -> str:
        """The message this buyer gets for this step (buyer: a Buyer or a row with its fields).

        Raises RenderError (naming the line) when the template fails for this buyer."""
        interests = tuple(buyer.interests or ())
        published = self._published(campaign)
        version = published[1] if published else None
        key = (campaign.id, step.id, version, buyer.tier_key, buyer.display_name, interests, rsvped)
        key += tuple(getattr(buyer, f, None) for f in MEMO_FIELDS)
        last_bought = getattr(buyer, "last_bought", None) or ""
        key += (last_bought,)
        text = self._memo.get(key)
        if text is not None:
            return text
        view = BuyerView(
            buyer.display_name, *(getattr(buyer, f, None) for f in MEMO_FIELDS), buyer.tier_key,
            interests, last_bought,
        )  # fmt: skip
        tier = self.tiers.get(buyer.tier_key) if buyer.tier_key else None
        text = None
        if published is not None:
            name, version, template = published
            try:
                text = self._render_one(campaign, step, view, tier, template, rsvped)
                if not text:
                    raise RenderError("渲染结果为空")
            except RenderError as exc:  # the buyer gets the file's text; the page shows why
                self.published.failed(name, version, exc, getattr(buyer, "id", None))
                text = None
        if text is None:
            text = self._render_one(campaign, step, view, tier, self._template(campaign), rsvped)
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = text
        return text

    def _render_one(
        self,
        campaign: Campaign,
        step: CampaignStep,
        view: BuyerView,
        tier: TierView | None,
        template: Template,
        rsvped: bool,
    ) -> str:
        slow = (campaign.id, campaign.message_source)
        shared, variables = self._step_context(campaign, step), _buyer_vars(view, tier)
        if slow in self._slow:
            render = partial(render_within, template, SLOW_TIME_S, shared, **variables)
        else:
            render = partial(template.render, shared, **variables)
        try:
            text = render_checked(partial(render, rsvped=rsvped)).strip()
        except RenderError as exc:
            if exc.limit:
                self._slow.add(slow)
            raise
        return text

    def template_data(self, campaign: Campaign, text: str) -> tuple[dict[str, Any], str | None]:
        """Template-message data and link for a buyer outside the 48-hour window."""
        return {"content": {"value": text}}, campaign.params.get("link") or None


def _tier_view(t: TierConfig) -> TierView:
    return TierView(t.key, t.name, tuple(t.perks), t.badge)


def _buyer_vars(buyer: BuyerView, tier: TierView | None) -> dict[str, Any]:
    return {
        "buyer": buyer,
        "name": buyer.display_name or "老朋友",
        "tier": tier,
        "interests": list(buyer.interests),
    }


__all__ = ["CampaignMessages", "RenderError"]
