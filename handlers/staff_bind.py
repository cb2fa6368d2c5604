"""Staff binding: a staff member sends the one-time code the console showed them (``LK`` and
six digits) to the Official Account, and their WeChat becomes the target of campaign test
sends (``scheduler/staff_sends.py``).

Only a message that is exactly such a code is taken; a code nobody issued, or one past its
ten minutes, is answered as such and binds nothing. This module does not issue codes (the
console does) and sends nothing beyond its reply.
"""

from __future__ import annotations

from bot.dialog.context import Context, Reply
from bot.dialog.routing import Router
from scheduler.staff_sends import CODE_RE, bind_by_code

router = Router("staff_bind")


@router.text(regex=CODE_RE)
async def bind_staff_wechat(ctx: Context) -> Reply:
    now = ctx.services.clock.now()
    user_id = await bind_by_code(ctx.session, ctx.text or "", ctx.buyer.openid, now)
    if user_id is None:
        return Reply("绑定码无效或已过期，请在老客后台的活动页面重新获取。")
    return Reply("绑定成功：此微信已绑定老客后台账号，可以接收活动的测试发送。")
