"""The admin's auto-replies (``/admin/autoreplies``) answering buyers: keyword rules, the reply
to new followers, and the reply to messages nothing else answered; plus the menu keys that
stand for them (a menu button may send a keyword rule's reply, or 联系客服).

Order (``handlers/__init__.py``): the built-in commands and their phrasings (名片, 会员, 直播,
退订 … and the card dialog) come first, so a rule can never take 会员 from the tier card;
then ``router`` (keyword rules), then the ``[[faq]]`` entries, requests for a person,
courtesy, and at last ``fallback``: the 收到消息回复 if enabled, still recorded as a handoff
(``handlers/handoff.py``), else the handoff's own answer. ``welcome_router`` sits before the
built-in welcome: an enabled 被关注回复 replaces the welcome text.

The rule set comes from a per-process cache (``content/autoreply_store.py``, refreshed within
about a second of a save). A reply that fails to render is not sent: the message goes on to
the next handler, so a buyer never gets a broken reply. Each answered message records a hit
for the rule (7日命中). Matching one message has one time budget for all the rules
(``content/autoreplies.py``); a message that spends it is counted in
``laoke_autoreply_budget_spent_total``.
"""

from __future__ import annotations

import weakref

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from bot.sandbox import RenderError
from content.autoreplies import Matcher, Rule, pick_reply, render_reply
from content.autoreply_store import RuleCache, record_hit
from content.menu import HANDOFF_KEY, RULE_KEY_PREFIX
from handlers.handoff import NOT_UNDERSTOOD, PERSON, hand_off
from members.tiers import Ladder

router = Router("autoreply")
welcome_router = Router("autoreply_welcome")

_caches: weakref.WeakKeyDictionary[object, RuleCache] = weakref.WeakKeyDictionary()


async def current_rules(ctx: Context) -> Matcher:
    """The rule set in force for this process (one cache per running app)."""
    key = ctx.services.api
    cache = _caches.get(key)
    if cache is None:
        cache = _caches[key] = RuleCache(ctx.config.campaigns.timezone)
    return await cache.get(lambda: ctx.session)  # opened only when the cache polls


def _variables(ctx: Context) -> dict[str, str]:
    buyer = ctx.buyer
    tier = Ladder(ctx.config.tiers).get(buyer.tier_key) if buyer.tier_key else None
    return {
        "name": buyer.display_name or "",
        "company": buyer.company or "",
        "tier": tier.name if tier is not None else "",
    }


def _render(ctx: Context, text: str) -> str | None:
    try:
        return render_reply(text, _variables(ctx)) or None
    except RenderError:
        return None


async def _answer_with(ctx: Context, rule: Rule) -> Reply | None:
    text = _render(ctx, pick_reply(rule))
    if text is None:
        return None  # declined: the next handler answers
    await record_hit(ctx.session, rule.id, ctx.now())
    ctx.notes["autoreply_rule"] = rule.id
    return Reply(text)


@router.text()
async def keyword_reply(ctx: Context) -> Reply | None:
    if ctx.dialog_state is not None:
        return None  # inside the card dialog, free text is the dialog's answer
    rules = await current_rules(ctx)
    if not rules.compiled:
        return None
    found = rules.match_within(ctx.text or "", ctx.now())
    if found.budget_spent:
        ctx.services.metrics.autoreply_budget_spent.inc()
    return await _answer_with(ctx, found.rule) if found.rule is not None else None


@router.event("click")
async def menu_click(ctx: Context) -> Reply | None:
    key = ctx.event_key or ""
    if key == HANDOFF_KEY:
        return await hand_off(ctx, PERSON)
    if key.startswith(RULE_KEY_PREFIX):
        rule = (await current_rules(ctx)).ruleset.rule(key.removeprefix(RULE_KEY_PREFIX))
        if rule is not None and rule.enabled:
            return await _answer_with(ctx, rule)
    return None


@welcome_router.event("subscribe", "subscribe_scan")
async def follow_reply(ctx: Context) -> Reply | None:
    welcome = (await current_rules(ctx)).ruleset.welcome
    if not welcome.enabled:
        return None  # the built-in welcome (templates/messages/welcome.j2)
    text = _render(ctx, welcome.text)
    return Reply(text) if text else None


async def fallback(ctx: Context) -> Reply:
    """Nothing answered: the handoff, worded by the 收到消息回复 when one is enabled."""
    if ctx.msg_type == "event":
        return Reply.nothing()
    reply = await hand_off(ctx, NOT_UNDERSTOOD)
    default = (await current_rules(ctx)).ruleset.default
    if default.enabled:
        text = _render(ctx, default.text)
        if text:
            return Reply(text)
    return reply
