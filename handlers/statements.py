"""Statements and rebates as the buyer asks for them in chat.

对账 / 对账单 → the latest closed statement; 这个月拿了多少货 / 本月拿货 → the open period so
far; 返点多少 / 我的返点 → the last rebate, what is still owed and the next step; 返点到账没 →
whether the last rebate was paid, when and how. Each answer is a short text plus a signed,
expiring link to the statement page with the order list (``statements/links.py``). The
phrasings are matched by keyword and by a few anchored patterns, independently of the intent
model. Figures come from ``statements/views.py``; nothing is decided or written here.
"""

from __future__ import annotations

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from statements import links
from statements.close import open_period
from statements.views import latest_statement, owed, rebate_progress, running_view

router = Router("statements")

_END = r"[吗嘛呢啊呀了没有\s？?。！!~]*$"
STATEMENT_WORDS = ("对账", "对账单", "我的对账单", "查对账单", "看对账单")
STATEMENT_REGEX = r"^(帮我|我要|我想)?(查|看|对)?(一下|下)?(对账|对账单|账单)" + _END
MONTH_WORDS = ("这个月拿了多少货", "本月拿货", "这个月拿货", "本月采购")
MONTH_REGEX = (
    r"^(我)?(这个月|本月|这月|这季度|本季度)(一共|总共)?(拿|进|采购|买)了?(多少|几单)(货|钱)?"
    + _END
)
REBATE_WORDS = ("返点", "返点多少", "我的返点", "返利", "返点多少钱")
REBATE_REGEX = r"^(我的)?(返点|返利)(有)?(多少|几个点|多少钱)?" + _END
PAYOUT_WORDS = ("返点到账没", "返点到账了吗", "返点到账没有", "返点发了吗", "返点什么时候到")
PAYOUT_REGEX = r"^(我的|上个?月的?)?(返点|返利)(到账|到了|发了|打款|什么时候(到|发))" + _END


@router.text(keywords=STATEMENT_WORDS)
@router.text(regex=STATEMENT_REGEX)
async def statement(ctx: Context) -> Reply:
    return await _reply(ctx, "statement")


@router.text(keywords=MONTH_WORDS)
@router.text(regex=MONTH_REGEX)
async def this_period(ctx: Context) -> Reply:
    return await _reply(ctx, "month")


@router.text(keywords=PAYOUT_WORDS)
@router.text(regex=PAYOUT_REGEX)
async def payout(ctx: Context) -> Reply:
    return await _reply(ctx, "payout")


@router.text(keywords=REBATE_WORDS)
@router.text(regex=REBATE_REGEX)
async def rebate(ctx: Context) -> Reply:
    return await _reply(ctx, "rebate")


async def _reply(ctx: Context, topic: str) -> Reply:
    config, buyer, now = ctx.config, ctx.buyer, ctx.now()
    if buyer.id is None:
        await ctx.session.flush()  # a first message: the buyer row gets its id
    period = open_period(config, now)
    statement = await latest_statement(ctx.session, config, buyer.id)
    running = await running_view(ctx.session, config, period, buyer)
    shown = period.key if topic == "month" or statement is None else statement.key
    return Reply(
        ctx.render(
            "statement_reply",
            topic=topic,
            statement=statement,
            running=running,
            progress=await rebate_progress(ctx.session, config, buyer, now),
            owed=await owed(ctx.session, buyer.id),
            link=links.url(config, buyer.id, shown, now),
        )
    )
