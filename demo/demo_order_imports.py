"""Demo data for the 订单 and 会员等级 pages: an import history, a remembered 1688 mapping,
and one buyer on a manual tier. Deterministic and idempotent (nothing is added twice).

It imports no orders itself (``demo/orders_demo.py`` does) and sends nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.models import Buyer
from members.import_jobs import DONE, ImportJob, save_preset
from members.tiers import MANUAL, NOTICE_NONE, TierChange

HISTORY = [  # (days ago, who, file, rows, new, updated, unchanged, unmatched, bad, up, down)
    (30, "demo-operator", "1688订单导出_2026-04.csv", 1240, 1180, 36, 0, 84, 24, 31, 0),
    (7, "demo-operator", "1688订单导出_2026-05.csv", 1315, 96, 41, 1170, 62, 8, 12, 3),
    (1, "demo-admin", "淘宝已卖出宝贝_0517.csv", 388, 352, 0, 0, 40, 36, 9, 0),
]


async def seed_demo_order_imports(
    sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock
) -> None:
    now = clock.now()
    async with sessions() as session, session.begin():
        if await session.scalar(select(func.count()).select_from(ImportJob)):
            return
        for days, who, name, rows, new, upd, same, unmatched, bad, up, down in HISTORY:
            at = now - timedelta(days=days, hours=3)
            session.add(ImportJob(
                upload_id="demo", filename=name, actor=who, status=DONE, total_rows=rows,
                done_rows=rows - bad, created_at=at, heartbeat_at=at,
                finished_at=at + timedelta(seconds=40),
                result={"rows": rows - bad, "inserted": new, "updated": upd, "unchanged": same,
                        "matched": rows - bad - unmatched, "unmatched": unmatched, "bad": bad,
                        "upgrades": up, "downgrades": down},
            ))  # fmt: skip
        await save_preset(session, "1688", {
            "order_no": "订单编号", "account": "买家会员名", "phone": "联系手机",
            "amount": "实付款(元)", "created_at": "订单创建时间", "status": "订单状态",
        }, now)  # fmt: skip
        top = max(config.tiers.levels, key=lambda t: t.rank, default=None)
        buyer = await session.scalar(
            select(Buyer).where(Buyer.openid.like("oDemo%"), Buyer.tier_manual_key.is_(None),
                                Buyer.platform_account.is_not(None)).order_by(Buyer.id).limit(1)
        )  # fmt: skip
        if top is None or buyer is None:
            return
        reason = "年框协议客户，全年按最高等级"
        session.add(TierChange(buyer_id=buyer.id, from_key=buyer.tier_key, to_key=top.key,
                               reason=MANUAL, note=reason, created_at=now - timedelta(days=2),
                               notice=NOTICE_NONE))  # fmt: skip
        buyer.tier_key = buyer.tier_manual_key = top.key
        buyer.tier_manual_reason = reason
        buyer.tier_manual_until = now + timedelta(days=200)
