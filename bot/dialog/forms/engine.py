"""The form engine: runs any form (``bot/dialog/forms/fields.py``) one buyer message at a time.

For a state sitting on a field it handles, in this order: the global words (取消/退出 pause
and keep what was given, 继续 repeats the question, 上一步 goes back, 跳过 skips an optional
field — or a required one after `max_attempts` failed answers or refused skips), then a
sentence that answers several fields at once (the form's extractor), then the field's own
parser. A refused answer gets the complaint and the same question again; after
`max_attempts` failures the buyer is offered a way out: skip the field, or leave now and
finish later. The buyer's other commands never reach the engine: the dispatcher's
routers answer them first (see ``handlers/__init__.py``).

All wording comes from the form's templates (``<form>_invalid``, ``<form>_skip_offer`` …).
The engine does not decide what a finished form means (``Form.on_complete`` does) nor
handle steps that are not fields (consent, confirmation): those belong to the form's handler.
"""

from __future__ import annotations

from typing import Any

from bot.dialog.context import Context, Reply
from bot.dialog.forms.fields import Field, Form, Invalid
from bot.dialog.forms.store import PAUSED, FormState, start_form, update_state
from bot.dialog.routing import normalize

SKIP_WORDS = frozenset(
    {"跳过", "跳过这一项", "跳过这个", "不填", "不想填", "下一个", "下一项", "略过", "skip", "pass"}
)
BACK_WORDS = frozenset({"上一步", "上一个", "返回", "返回上一步", "back"})
CANCEL_WORDS = frozenset({"取消", "退出", "不填了", "算了", "以后再说", "cancel", "quit", "exit"})
CONTINUE_WORDS = frozenset({"继续", "继续填写", "接着填"})


def next_field(form: Form, values: dict[str, Any]) -> Field | None:
    """The first field without an answer (a skipped field has the answer None)."""
    return next((f for f in form.fields if f.key not in values), None)


def prompt(ctx: Context, form: Form, field: Field) -> str:
    """The question for `field`."""
    return ctx.render(field.prompt, field=field, card=ctx.config.card)


async def begin(
    ctx: Context, form: Form, *, values: dict[str, Any] | None = None, lead: str | None = None
) -> Reply:
    """Start `form` for the buyer (answers in `values` are not asked) and ask the first question."""
    state = await start_form(ctx.session, ctx.buyer, form.name, "", ctx.now(), values)
    return await ask_next(ctx, form, state, [lead] if lead else [])


async def ask_next(ctx: Context, form: Form, state: FormState, lead: list[str]) -> Reply:
    """Move to the next unanswered field and ask it, or finish the form."""
    field = next_field(form, state.values)
    if field is None:
        if form.on_complete is None:
            raise RuntimeError(f"form {form.name} has no on_complete")
        reply = await form.on_complete(ctx, state)
        return Reply("\n\n".join([*lead, reply.text or ""]).strip())
    update_state(state, ctx.now(), step=field.key, attempts=0, status="active")
    return Reply("\n".join([*lead, prompt(ctx, form, field)]))


async def resume(ctx: Context, form: Form, state: FormState, lead: str | None = None) -> Reply:
    """Take up a paused or stale form where it stopped."""
    update_state(state, ctx.now(), status="active")
    field = form.field(state.step)
    if field is None or field.key in state.values:
        return await ask_next(ctx, form, state, [lead] if lead else [])
    return Reply("\n".join(filter(None, [lead, prompt(ctx, form, field)])))


async def answer(ctx: Context, form: Form, state: FormState) -> Reply:
    """Handle one text message from a buyer whose state sits on one of the form's fields."""
    field = form.field(state.step)
    if field is None:
        return await ask_next(ctx, form, state, [])
    text = ctx.text or ""
    word = normalize(text)
    now = ctx.now()
    max_attempts = ctx.config.card.max_attempts

    if word in CANCEL_WORDS:
        update_state(state, now, status=PAUSED)
        return Reply(ctx.render(form.template("paused")))
    if word in CONTINUE_WORDS:
        return Reply(prompt(ctx, form, field))
    if word in BACK_WORDS:
        if not state.history:
            return Reply(ctx.render(form.template("back_first")) + "\n" + prompt(ctx, form, field))
        history = list(state.history)
        previous = history.pop()
        values = {k: v for k, v in state.values.items() if k != previous}
        update_state(state, now, values=values, history=history, step=previous, attempts=0)
        back_to = form.field(previous)
        assert back_to is not None
        return Reply(prompt(ctx, form, back_to))
    if word in SKIP_WORDS:
        if field.required and state.attempts < max_attempts:
            # A refused skip is a try like a wrong answer: after `max_attempts` the buyer is
            # offered a way out (skip for now, or leave and finish later), never a loop.
            update_state(state, now, attempts=state.attempts + 1)
            parts = [ctx.render(form.template("required"), field=field)]
            if state.attempts >= max_attempts:
                parts.append(ctx.render(form.template("skip_offer"), field=field))
            parts.append(prompt(ctx, form, field))
            return Reply("\n".join(parts))
        update_state(
            state,
            now,
            values={**state.values, field.key: None},
            history=[*state.history, field.key],
        )
        return await ask_next(ctx, form, state, [])

    found = _extracted(ctx, form, state, text)
    value = field.parse(text, ctx)
    if field.key not in found and not isinstance(value, Invalid) and not form.is_sentence(text):
        # "广州美美服饰" names a city but is a company name: a short, plain answer that the
        # asked field accepts is that field's answer, whatever else it mentions.
        found = {}
    if found and (len(found) > 1 or field.key not in found):
        for key, value in found.items():
            await _accept(ctx, form, state, key, value)
        labels = [f.label for f in form.fields if f.key in found]
        return await ask_next(
            ctx, form, state, [ctx.render(form.template("filled"), labels=labels)]
        )

    if isinstance(value, Invalid):
        update_state(state, now, attempts=state.attempts + 1)
        parts = [
            ctx.render(
                form.template("invalid"), reason=value.reason, field=field, card=ctx.config.card
            )
        ]
        if state.attempts >= max_attempts:
            parts.append(ctx.render(form.template("skip_offer"), field=field))
        parts.append(prompt(ctx, form, field))
        return Reply("\n".join(parts))
    await _accept(ctx, form, state, field.key, value)
    return await ask_next(ctx, form, state, [])


def _extracted(ctx: Context, form: Form, state: FormState, text: str) -> dict[str, Any]:
    """Fields the sentence answers that are still open (earlier answers are never overwritten)."""
    if form.extract is None:
        return {}
    open_keys = {f.key for f in form.fields if f.key not in state.values} | {state.step}
    return {k: v for k, v in form.extract(text, ctx).items() if k in open_keys}


async def _accept(ctx: Context, form: Form, state: FormState, key: str, value: Any) -> None:
    history = [k for k in state.history if k != key] + [key]
    update_state(state, ctx.now(), values={**state.values, key: value}, history=history, attempts=0)
    if form.on_answer is not None:
        await form.on_answer(ctx, key, value)
