"""WeChat's MASSSENDJOBFINISH event, through the real webhook, fills the campaign's report."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.models import Buyer
from demo.simulator.fake_mass import FakeMass, finish_event_fields
from scheduler.mass_sends import campaign_mass_report
from scheduler.models import MassSend

ACCOUNT = "gh_laoke_account"  # WeChat sends the event from the account itself


async def test_the_finish_event_fills_the_report_and_answers_nothing(wechat, clock):
    fake = FakeMass()
    for _ in range(4):  # the followers' allowance of the month is already used
        fake.accept(["oFull"], "早前群发", None, clock.now())
    job, delivered = fake.accept(["oA", "oB", "oFull"], "上新通知", "laoke-c7-s9-b1", clock.now())
    assert delivered == ["oA", "oB"]
    async with wechat.sessionmaker() as session, session.begin():
        session.add(
            MassSend(campaign_id=7, step_id=9, batch=1, client_msg_id="laoke-c7-s9-b1",
                     msg_id=str(job["msg_id"]), status="sent", recipients=3, text="上新通知",
                     created_at=clock.now())
        )  # fmt: skip

    reply = await wechat.send_event(ACCOUNT, "MASSSENDJOBFINISH", **finish_event_fields(job))

    assert not reply
    async with wechat.sessionmaker() as session:
        report = await campaign_mass_report(session, 7)
        buyers = await session.scalar(select(func.count()).select_from(Buyer))
    assert report == {"calls": 1, "recipients": 3, "finished": 1, "total": 3, "filtered": 1,
                      "sent": 2, "errors": 0}  # fmt: skip
    assert buyers <= 1  # the account's own event makes no buyer of anyone else


async def test_a_finish_event_for_a_send_from_the_platform_is_ignored(wechat, clock):
    job, _ = FakeMass().accept(["oA", "oB"], "后台群发", None, clock.now())
    assert not await wechat.send_event(ACCOUNT, "MASSSENDJOBFINISH", **finish_event_fields(job))
    async with wechat.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(MassSend)) == 0
