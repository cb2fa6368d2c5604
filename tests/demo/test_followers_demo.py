"""`laoke demo` shows the day-one follower import: followers who never wrote are on the
simulated platform and, once the demo's first sync ran, in the buyer book."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.appkeys import SESSIONMAKER
from bot.models import Buyer
from demo.followers_demo import NEVER_WROTE, PREFIX
from followers.jobs import latest_job
from followers.runner import FOLLOWER_SYNCS
from laoke.demo import start_demo


async def test_the_demo_imports_followers_who_never_wrote_and_twice_changes_nothing(tmp_path):
    for run in range(2):
        demo = await start_demo(tmp_path / "demo", "127.0.0.1", 0)
        try:
            app = demo.runner.app
            await app[FOLLOWER_SYNCS].wait()
            async with app[SESSIONMAKER]() as session:
                job = await latest_job(session)
                imported = (
                    await session.execute(
                        select(
                            func.count(),
                            func.count().filter(Buyer.last_interaction_at.is_(None)),
                            func.count().filter(Buyer.subscribed.is_(True)),
                        ).where(Buyer.openid.like(PREFIX + "%"))
                    )
                ).one()
            assert job.status == "done" and job.left_count == 0, job.error
            assert tuple(imported) == (NEVER_WROTE,) * 3
            if run == 0:
                assert job.created == NEVER_WROTE and job.total > NEVER_WROTE
            else:  # a restart syncs again: nothing new
                assert (job.created, job.updated) == (0, 0)
        finally:
            await demo.stop()
