"""Who answers a message: the console's 试一试 and the shadowed-keyword warnings.

It walks the bot's own dispatcher (``bot.dialog.dispatch.Dispatcher.candidates``, in the
order of ``handlers/__init__.py``) with a text message from a buyer outside any dialog and
runs the handlers' *filters* only, never a handler: nothing is written and nothing is sent.
The first handler whose filters match answers, except that the keyword-rule handler
answers only when a rule matches (evaluated here with the rule set being edited). What
nothing answers goes to the fallback: the 收到消息回复 if enabled, else 转人工.

A handler that declines at run time (returns nothing) is taken as answering here; the
built-in handlers decline only in states a trial buyer is not in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wechatpy.messages import TextMessage

from bot.dialog.context import Context, Services
from bot.dialog.dispatch import Dispatcher
from bot.models import Buyer
from content.autoreplies import Matcher, RuleSet
from content.autoreply_store import HANDLER_NAME

# The built-in handler modules as the console names them.
BUILTIN = {
    "membership": "内置会员卡",
    "live": "内置直播",
    "optout": "内置退订",
    "card": "内置名片",
    "help": "内置帮助",
    "welcome": "内置欢迎语",
    "faq": "常见问题（配置文件）",
    "handoff": "转人工",
    "smalltalk": "内置寒暄",
}


@dataclass(frozen=True)
class Answer:
    kind: str  # builtin | rule | faq | default | handoff
    label: str  # 内置会员卡, 规则「地址」, 转人工 …
    rule_id: str | None = None
    handler: str | None = None
    before_rules: bool = False  # answered by a handler tried before the keyword rules


def _label(handler: str) -> str:
    return BUILTIN.get(handler.split(".", 1)[0], f"内置（{handler}）")


def _trial_context(text: str, services: Services) -> Context:
    message = TextMessage({"MsgType": "text", "Content": text, "FromUserName": "o_trial",
                           "ToUserName": "gh_trial", "CreateTime": "0", "MsgId": "0"})  # fmt: skip
    return Context(message, Buyer(openid="o_trial"), None, services)


def who_answers(
    dispatcher: Dispatcher, services: Services, ruleset: RuleSet, text: str, now: datetime
) -> Answer:
    """Who would answer `text` (see the module docstring); `ruleset` is the one being edited."""
    matcher = Matcher(ruleset, services.config.campaigns.timezone)
    ctx = _trial_context(text[:500], services)
    before = True
    for spec in dispatcher.candidates(ctx):
        if spec.name == HANDLER_NAME:
            before = False
            rule = matcher.match(text, now)
            if rule is not None:
                return Answer("rule", f"规则「{rule.name}」", rule.id, spec.name)
            continue
        if spec.name.startswith("autoreply."):
            continue
        try:
            matched = spec.matches(ctx)
        except Exception:  # a filter that needs a real buyer or session: not this message
            matched = False
        if matched:
            kind = "faq" if spec.name.startswith("faq.") else "builtin"
            if spec.name.startswith("handoff."):
                kind = "handoff"
            return Answer(kind, _label(spec.name), None, spec.name, before)
    if ruleset.default.enabled:
        return Answer("default", "收到消息回复（并转人工）")
    return Answer("handoff", "转人工（兜底回复）")


def shadowing_command(
    dispatcher: Dispatcher, services: Services, keyword: str, now: datetime
) -> str | None:
    """The built-in command that answers `keyword` itself before any rule, if one does."""
    found = who_answers(dispatcher, services, RuleSet(), keyword, now)
    return found.label if found.before_rules else None
