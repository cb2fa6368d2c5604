"""The buyer's statement page behind a signed link (``/s/<token>``): the one console page
without a session.

The link the bot sends (``statements/links.py``) is the only credential: the route checks its
signature and expiry and shows that buyer's statement of that period, the order list on a
phone-sized page; an altered or expired link opens nothing and says so in Chinese. 有问题
(``POST /s/<token>/question``) opens a conversation in the staff inbox with the statement
attached (period, figures, the console link to it) and the buyer's words. The page carries
no script, is never cached, and sends no referrer, so the token does not leak to other sites.
This module computes no figures (``statements/views.py``).
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.appkeys import CLOCK, CONFIG, SESSIONMAKER
from bot.dialog.rendering import cents
from bot.models import Buyer
from console.rendering import JINJA
from inbox.conversations import hand_over, opened
from statements.links import PATH, LinkError, verify
from statements.views import StatementView, statement_for_key

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
MAX_QUESTION = 500


def mount(app: web.Application) -> None:
    app.router.add_get(PATH + "{token}", statement_page)
    app.router.add_post(PATH + "{token}/question", question)


def _page(request: web.Request, context: dict, status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template(
        "public_statement.html", request, context, status=status, app_key=JINJA
    )
    response.headers.update(HEADERS)
    return response


async def _open(request: web.Request) -> tuple[Buyer, StatementView] | web.Response:
    config = request.config_dict[CONFIG]
    try:
        claim = verify(config, request.match_info["token"], request.config_dict[CLOCK].now())
    except LinkError as exc:
        return _page(request, {"error": str(exc), "s": None}, status=403)
    async with request.config_dict[SESSIONMAKER]() as session:
        buyer = await session.get(Buyer, claim.buyer_id)
        view = None
        if buyer is not None:
            view = await statement_for_key(session, config, buyer, claim.period_key)
    if buyer is None or view is None:
        return _page(request, {"error": "没有找到这张对账单", "s": None}, status=404)
    return buyer, view


async def statement_page(request: web.Request) -> web.StreamResponse:
    opened_ = await _open(request)
    if isinstance(opened_, web.Response):
        return opened_
    _, view = opened_
    asked = request.query.get("asked") == "1"
    return _page(
        request, {"error": None, "s": view, "asked": asked, "token": request.match_info["token"]}
    )


def attachment(view: StatementView) -> str:
    """The statement as staff read it in the inbox thread."""
    state = "已结账" if view.closed else "未结账"
    paid = f"，已于 {view.paid_on} 通过{view.paid_method}发放" if view.paid_on else ""
    lines = [
        f"【对账单有疑问】{view.period}（{state}）",
        f"拿货 {view.orders} 单 {cents(view.order_total)}，退款 {cents(view.refund_total)}，"
        f"往期调整 {cents(view.adjustment_total)}，净采购 {cents(view.net)}，"
        f"返点 {view.rate} {cents(view.rebate)}{paid}",
    ]
    if view.closed:
        lines.append(f"对账单：/admin/statements/{view.key}/buyer/{view.buyer_id}")
    return "\n".join(lines)


async def question(request: web.Request) -> web.StreamResponse:
    opened_ = await _open(request)
    if isinstance(opened_, web.Response):
        return opened_
    buyer, view = opened_
    form = await request.post()
    words = str(form.get("text", "")).strip()[:MAX_QUESTION]
    content = attachment(view) + (f"\n买家说：{words}" if words else "")
    now = request.config_dict[CLOCK].now()
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        buyer = await session.get(Buyer, buyer.id)
        await hand_over(session, buyer, content, now, person=True)
    opened(request.config_dict[CONFIG].database.url, buyer.id)
    raise web.HTTPSeeOther(f"{PATH}{request.match_info['token']}?asked=1", headers=HEADERS)
