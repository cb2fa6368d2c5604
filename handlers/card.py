"""The business card (名片): the buyer tells the supplier who they are, conversationally.

The whole dialog is declared here: the form (its fields, parsers, prompts, which are
required), the entry points (名片 / 交换名片 / 资料, the menu key CARD, the welcome's
invitation), the steps around the fields (consent, confirmation, 修改名片's choice,
删除我的资料's confirmation) and the two reply hooks (the offer to continue after another
command interrupted the card, the weekly reminder of an incomplete card).

Two routers: `router` holds keyword commands and sits early in the dispatcher's list; the
free-text `form_router` sits after every other keyword router, so 会员 typed in the middle
of the card is answered by membership and the card offers to continue. Running the fields
is ``bot/dialog/forms/engine.py``'s job; parsing is ``members/card/``'s; storage is ``bot/dialog/forms/store.py``.
"""

from __future__ import annotations

import re
from typing import Any

from bot.dialog.context import Context, Reply
from bot.dialog.forms import engine
from bot.dialog.forms.fields import Field, Form, Invalid
from bot.dialog.forms.store import ACTIVE, PAUSED, FormState, end_form, start_form, update_state
from bot.dialog.routing import Router, dialog, normalize
from bot.inbound.events import CARD_CONFIRMED, CARD_CONSENTED, CARD_INVITED, record_event
from handlers.intents import intent
from inbox.conversations import erase_conversation
from members.card import choices, contact, regions, volume
from members.card.extract import extract_card
from members.card.profile import apply_card_value, card_values, card_view, erase_buyer_data
from members.tier_refresh import match_orders_for_buyer

router = Router("card")
form_router = Router("card_form")

MENU_KEY = "CARD"
# A reply reads as a sentence (to give to the extractor) rather than one short answer.
SENTENCE = re.compile(r"[,，。;；!！?？]|\s|^(我|俺|咱|在)|卖|拿货|进货|每个?月|月均|左右")
ENTRY_WORDS = ("名片", "交换名片", "资料", "填名片", "填写名片", "我的资料", "发名片")
SHOW_WORDS = ("我的名片", "查看名片", "看名片")
EDIT_WORDS = ("修改名片", "修改资料", "改名片", "编辑名片")
DELETE_WORDS = ("删除我的资料", "删除资料", "删除名片", "删除我的名片", "注销资料")
RESTART_WORDS = ("重新填写", "重新开始", "重填", "重新填名片")
AGREE = frozenset(
    {"同意", "我同意", "同意并继续", "好", "好的", "可以", "行", "ok", "yes", "1", "嗯", "没问题"}
)
DECLINE = frozenset({"不同意", "拒绝", "不要", "不了", "不用了", "no", "2", "取消", "退出", "算了"})
CONFIRM = frozenset(
    {"确认", "确定", "对", "对的", "是", "是的", "没问题", "好", "好的", "ok", "1", "正确"}
)
EDIT = frozenset({"修改", "改", "修改名片", "2", "不对", "有错"})
DELETE_YES = frozenset({"确认删除", "确定删除", "删除", "确认", "确定", "是", "是的"})


def _volume(text: str, ctx: Context) -> Any:
    value = volume.parse_volume(text)
    return value if isinstance(value, Invalid) else list(value)


def _region(text: str, ctx: Context) -> Any:
    place = regions.parse_region(text)
    return place if isinstance(place, Invalid) else [place.province, place.city]


def _interests(text: str, ctx: Context) -> Any:
    return choices.parse_interests(text, ctx.config.card.interest_categories)


def _extract(text: str, ctx: Context) -> dict[str, Any]:
    return extract_card(text, ctx.config.card.interest_categories)


async def _save_answer(ctx: Context, key: str, value: Any) -> None:
    # Written at once, so 取消 keeps what was given and 我的名片 shows it.
    apply_card_value(ctx.buyer, key, value)


async def _to_confirmation(ctx: Context, state: FormState) -> Reply:
    update_state(state, ctx.now(), step="confirm", attempts=0)
    return Reply(ctx.render("card_confirm", card=card_view(ctx.buyer)))


CARD = Form(
    name="card",
    fields=(
        Field("display_name", "称呼", "card_ask_name", lambda t, c: contact.parse_display_name(t), required=True),
        Field("company", "公司/店铺", "card_ask_company", lambda t, c: contact.parse_company(t)),
        Field("business_type", "经营类型", "card_ask_business_type", lambda t, c: choices.parse_business_type(t), required=True),
        Field("channels", "销售渠道", "card_ask_channels", lambda t, c: choices.parse_channels(t)),
        Field("interests", "主营品类", "card_ask_interests", _interests, required=True),
        Field("volume", "月采购量", "card_ask_volume", _volume),
        Field("region", "地区", "card_ask_region", _region, required=True),
        Field("phone", "手机号", "card_ask_phone", lambda t, c: contact.parse_phone(t)),
        Field("platform_account", "平台账号", "card_ask_account", lambda t, c: contact.parse_platform_account(t)),
    ),
    extract=_extract,
    is_sentence=lambda text: bool(SENTENCE.search(text.strip())),
    on_answer=_save_answer,
    on_complete=_to_confirmation,
)  # fmt: skip
FIELD_STEPS = frozenset(f.key for f in CARD.fields)


def _state(ctx: Context) -> FormState | None:
    """The buyer's card form state, as the dispatcher's state loader found it."""
    state = ctx.notes.get("form_state")
    return state if state is not None and state.form == CARD.name else None


def _turn(ctx: Context, reply: Reply) -> Reply:
    ctx.notes["card_turn"] = True  # this reply is the card speaking: no "continue" offer
    return reply


def _needs_consent(ctx: Context) -> bool:
    b = ctx.buyer
    return b.consent_at is None or b.consent_version != ctx.config.card.notice_version


# --- entry points --------------------------------------------------------------------------


@router.text(keywords=ENTRY_WORDS)
@router.text(intent("card"))
@router.click(MENU_KEY)
async def exchange_cards(ctx: Context) -> Reply:
    """名片: consent first, then the fields still missing; a finished card is shown."""
    state = _state(ctx)
    if state is not None and state.step not in ("edit", "delete_confirm"):
        return _turn(ctx, await _take_up(ctx, state))
    if _needs_consent(ctx):
        await start_form(ctx.session, ctx.buyer, CARD.name, "consent", ctx.now())
        await record_event(ctx.session, ctx.buyer.id, CARD_INVITED, ctx.now())
        return _turn(ctx, Reply(ctx.render("card_consent")))
    if ctx.buyer.card_completed_at is not None:
        if state is not None:  # a 修改名片 or 删除我的资料 question left open
            await end_form(ctx.session, ctx.buyer)
        return _turn(ctx, Reply(ctx.render("card_show", card=card_view(ctx.buyer))))
    lead = ctx.render("card_welcome_back") if card_values(ctx.buyer) else None
    return _turn(ctx, await engine.begin(ctx, CARD, values=card_values(ctx.buyer), lead=lead))


async def _take_up(ctx: Context, state: FormState) -> Reply:
    """Continue a card in progress (paused, stale or simply interrupted) at its step."""
    if state.step == "consent":
        update_state(state, ctx.now(), status=ACTIVE)
        return Reply(ctx.render("card_consent"))
    if state.step == "confirm":
        update_state(state, ctx.now(), status=ACTIVE)
        return Reply(ctx.render("card_confirm", card=card_view(ctx.buyer)))
    return await engine.resume(ctx, CARD, state, lead=ctx.render("card_welcome_back"))


@router.text(keywords=tuple(engine.CONTINUE_WORDS))
async def continue_card(ctx: Context) -> Reply | None:
    """继续: take up the card where it stopped (declines when there is no card in progress)."""
    state = _state(ctx)
    if state is None or state.step in ("edit", "delete_confirm"):
        return None
    return _turn(ctx, await _take_up(ctx, state))


@router.text(keywords=RESTART_WORDS)
async def restart_card(ctx: Context) -> Reply:
    """重新填写: every question again from the first (an empty answer keeps nothing new)."""
    if _needs_consent(ctx):
        return await exchange_cards(ctx)
    return _turn(ctx, await engine.begin(ctx, CARD))


@router.text(keywords=SHOW_WORDS)
@router.text(intent("show_card"))
async def show_card(ctx: Context) -> Reply:
    if not card_values(ctx.buyer):
        return Reply(ctx.render("card_none"))
    return Reply(ctx.render("card_show", card=card_view(ctx.buyer)))


@router.text(keywords=EDIT_WORDS)
@router.text(intent("edit_card"))
async def edit_card(ctx: Context) -> Reply:
    """修改名片: pick a field by number or name, answer it, confirm the card again."""
    if _needs_consent(ctx):
        return await exchange_cards(ctx)
    await start_form(ctx.session, ctx.buyer, CARD.name, "edit", ctx.now())
    return _turn(ctx, Reply(ctx.render("card_edit_pick", fields=CARD.fields, unknown=False)))


@router.text(keywords=DELETE_WORDS)
@router.text(intent("delete_card"))
async def delete_data(ctx: Context) -> Reply | None:
    if ctx.dialog_state == "card:delete_confirm" and normalize(ctx.text or "") in DELETE_YES:
        return None  # 确认删除 answers the open question: the form's step does it
    await start_form(ctx.session, ctx.buyer, CARD.name, "delete_confirm", ctx.now())
    return _turn(ctx, Reply(ctx.render("card_delete_confirm")))


# --- steps of the dialog ----------------------------------------------------------------


@form_router.text(dialog("card:consent"))
async def consent(ctx: Context) -> Reply:
    state = _state(ctx)
    assert state is not None
    word = normalize(ctx.text or "")
    if word in AGREE:
        # Nothing of the card is stored before this moment.
        ctx.buyer.consent_at = ctx.now()
        ctx.buyer.consent_version = ctx.config.card.notice_version
        ctx.buyer.card_declined_at = None
        await record_event(ctx.session, ctx.buyer.id, CARD_CONSENTED, ctx.now())
        lead = ctx.render("card_consent_thanks")
        return _turn(ctx, await engine.begin(ctx, CARD, values=card_values(ctx.buyer), lead=lead))
    if word in DECLINE or state.attempts + 1 >= ctx.config.card.max_attempts:
        await end_form(ctx.session, ctx.buyer)
        ctx.buyer.card_declined_at = ctx.now()
        return _turn(ctx, Reply(ctx.render("card_declined")))
    update_state(state, ctx.now(), attempts=state.attempts + 1)
    return _turn(ctx, Reply(ctx.render("card_consent_again")))


@form_router.text(dialog("card:confirm"))
async def confirm(ctx: Context) -> Reply:
    state = _state(ctx)
    assert state is not None
    word = normalize(ctx.text or "")
    if word in CONFIRM:
        ctx.buyer.card_completed_at = ctx.now()
        await record_event(ctx.session, ctx.buyer.id, CARD_CONFIRMED, ctx.now())
        await end_form(ctx.session, ctx.buyer)
        # The card may name the buyer's platform account or phone: link the orders that
        # were waiting for it, so the tier (and its announcement) follows in this reply.
        await match_orders_for_buyer(ctx.session, ctx.buyer, ctx.services)
        return _turn(ctx, Reply(ctx.render("card_done", card=card_view(ctx.buyer))))
    if word in EDIT:
        update_state(state, ctx.now(), step="edit", attempts=0)
        return _turn(ctx, Reply(ctx.render("card_edit_pick", fields=CARD.fields, unknown=False)))
    if word in engine.CANCEL_WORDS:
        update_state(state, ctx.now(), status=PAUSED)
        return _turn(ctx, Reply(ctx.render("card_paused")))
    if word in engine.BACK_WORDS and state.history:
        previous = state.history[-1]
        values = {k: v for k, v in state.values.items() if k != previous}
        update_state(state, ctx.now(), step=previous, values=values, history=state.history[:-1])
        field = CARD.field(previous)
        assert field is not None
        return _turn(ctx, Reply(engine.prompt(ctx, CARD, field)))
    return _turn(ctx, Reply(ctx.render("card_confirm_again", card=card_view(ctx.buyer))))


@form_router.text(dialog("card:edit"))
async def pick_field(ctx: Context) -> Reply:
    state = _state(ctx)
    assert state is not None
    word = normalize(ctx.text or "")
    if word in engine.CANCEL_WORDS:
        await end_form(ctx.session, ctx.buyer)
        return _turn(ctx, Reply(ctx.render("card_edit_cancelled")))
    field = _field_named(word)
    if field is None:
        return _turn(ctx, Reply(ctx.render("card_edit_pick", fields=CARD.fields, unknown=True)))
    # Every other field counts as answered, an empty (skipped) one as skipped: the engine
    # asks exactly this one, then shows the card for confirmation.
    filled = card_values(ctx.buyer)
    values = {f.key: filled.get(f.key) for f in CARD.fields if f.key != field.key}
    update_state(state, ctx.now(), values=values, history=[], step=field.key, attempts=0)
    return _turn(ctx, Reply(engine.prompt(ctx, CARD, field)))


def _field_named(word: str) -> Field | None:
    if word.isdigit() and 1 <= int(word) <= len(CARD.fields):
        return CARD.fields[int(word) - 1]
    word = word.removeprefix("改").removeprefix("修改")
    for field in CARD.fields:
        if word and (word in field.label or field.label in word):
            return field
    aliases = {"名字": "display_name", "姓名": "display_name", "公司": "company", "店铺": "company",
               "店名": "company", "类型": "business_type", "渠道": "channels", "品类": "interests",
               "采购量": "volume", "拿货量": "volume", "城市": "region", "地址": "region",
               "电话": "phone", "手机": "phone", "账号": "platform_account", "旺旺": "platform_account"}  # fmt: skip
    key = next((k for a, k in aliases.items() if a in word), None)
    return CARD.field(key) if key else None


@form_router.text(dialog("card:delete_confirm"))
async def confirm_delete(ctx: Context) -> Reply:
    if normalize(ctx.text or "") in DELETE_YES:
        await erase_buyer_data(ctx.session, ctx.buyer)
        await erase_conversation(ctx.session, ctx.buyer.id, ctx.now())  # and the staff inbox's copy
        # They asked to be forgotten: no reminders to exchange a card either.
        ctx.buyer.card_declined_at = ctx.now()
        return _turn(ctx, Reply(ctx.render("card_deleted")))
    await end_form(ctx.session, ctx.buyer)
    return _turn(ctx, Reply(ctx.render("card_delete_kept")))


@form_router.text(dialog("card:stale"))
async def offer_resumption(ctx: Context) -> Reply | None:
    """A card untouched for days: the text is not taken as an answer; offer to go on."""
    state = _state(ctx)
    assert state is not None
    if state.step == "consent":
        # An unanswered notice from days ago is no card in progress: forget it, and let the
        # message be answered as if there had been none.
        await end_form(ctx.session, ctx.buyer)
        ctx.dialog_state = None
        return None
    update_state(state, ctx.now(), status=PAUSED)
    field = CARD.field(state.step)
    return _turn(ctx, Reply(ctx.render("card_resume_offer", field=field)))


@form_router.text(
    lambda ctx: (
        ctx.dialog_state is not None and ctx.dialog_state.removeprefix("card:") in FIELD_STEPS
    )
)
async def answer_field(ctx: Context) -> Reply:
    state = _state(ctx)
    assert state is not None
    return _turn(ctx, await engine.answer(ctx, CARD, state))


# --- reply hooks ------------------------------------------------------------------------


async def offer_to_continue(ctx: Context, reply: Reply) -> Reply:
    """Another command answered in the middle of the card: add the offer to continue."""
    # Cheapest first: most messages come outside any dialog.
    if ctx.dialog_state is None or reply.text is None or ctx.notes.get("card_turn"):
        return reply
    state = _state(ctx)
    if state is None or state.status != ACTIVE or state.step in ("edit", "delete_confirm"):
        return reply
    if not ctx.dialog_state.startswith("card:"):
        return reply
    return Reply(reply.text + "\n\n" + ctx.render("card_continue_offer"))


async def remind_incomplete_card(ctx: Context, reply: Reply) -> Reply:
    """A buyer who writes and has no finished card is reminded, at most once per interval."""
    if reply.text is None or ctx.dialog_state is not None or ctx.text is None:
        return reply
    buyer = ctx.buyer
    if ctx.notes.get("card_turn") or buyer.card_completed_at is not None:
        return reply
    if buyer.card_declined_at is not None:
        return reply
    now = ctx.now()  # only now: most messages are ruled out above
    interval = ctx.config.card.reminder_interval_days
    # The welcome invited them; a reminder makes sense only after a quiet interval.
    since = buyer.card_reminded_at or buyer.first_seen_at
    if since is not None and (now - since).days < interval:
        return reply
    buyer.card_reminded_at = now
    state = _state(ctx)
    return Reply(reply.text + "\n\n" + ctx.render("card_reminder", paused=state is not None))
