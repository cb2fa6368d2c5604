"""The segment language: every field and operator on SQLite and PostgreSQL, and every refusal."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot.database import create_engine, sessionmaker
from bot.models import Buyer
from scheduler.models import Campaign, Rsvp
from scheduler.saved_segments import (
    Counts,
    SegmentExists,
    SegmentNotFound,
    count_segment,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    preview_segment,
    update_segment,
)
from scheduler.segments import FIELDS, SegmentError, compile_segment

ALL = {"gold_tb", "silver_ws", "nobody", "quiet_gold"}


def leaf(field, op, value):
    return {"field": field, "op": op, "value": value}


async def seed(session, now):
    def ago(days):
        return now - timedelta(days=days)

    buyers = [
        Buyer(
            openid="gold_tb",
            tier_key="gold",
            business_type="taobao",
            channels=["淘宝", "抖音"],
            interests=["女装", "童装"],
            tags=["vip"],
            province="浙江省",
            city="杭州市",
            qr_scene="expo",
            subscribed=True,
            subscribed_at=ago(100),
            first_seen_at=ago(100),
            last_interaction_at=ago(40),
            orders_total=5,
            orders_12m=3,
            spend_12m=52000.5,
            card_completed_at=ago(90),
        ),
        Buyer(
            openid="silver_ws",
            tier_key="silver",
            business_type="wholesale",
            channels=["线下门店"],
            interests=["男装"],
            tags=[],
            province="广东省",
            city="广州市",
            subscribed=True,
            subscribed_at=ago(10),
            first_seen_at=ago(10),
            last_interaction_at=ago(2),
            imported_at=ago(3),  # the follower sync met them before they wrote
            orders_total=1,
            orders_12m=1,
            spend_12m=3000,
            reorder_state="on_rhythm",
            days_overdue=0,
            cycle_days=30,
        ),
        Buyer(
            openid="nobody",
            subscribed=False,
            first_seen_at=ago(5),
            opted_out=True,
            channels=[],
            interests=[],
            tags=[],
        ),
        Buyer(
            openid="quiet_gold",
            tier_key="gold",
            interests=["女装"],
            tags=["vip", "展会"],
            channels=[],
            province="广东省",
            city="深圳市",
            subscribed=True,
            subscribed_at=ago(400),
            first_seen_at=ago(400),
            last_interaction_at=ago(200),
            orders_total=2,
            orders_12m=0,
            spend_12m=0,
            reorder_state="lapsed",
            days_overdue=150,
            cycle_days=40,
        ),
    ]
    session.add_all(buyers)
    await session.flush()
    live = Campaign(
        name="新品直播",
        kind="livestream",
        status="scheduled",
        params={},
        created_at=now,
        updated_at=now,
    )
    session.add(live)
    await session.flush()
    session.add(Rsvp(campaign_id=live.id, buyer_id=buyers[1].id, created_at=now))
    await session.commit()
    return live.id


@pytest.fixture
async def db(db_url, clock):
    engine = create_engine(db_url)
    make = sessionmaker(engine)
    async with make() as session:
        live_id = await seed(session, clock.now())
    yield make, live_id
    await engine.dispose()


async def matching(make, spec, now) -> set[str]:
    async with make() as session:
        rows = await session.scalars(select(Buyer.openid).where(compile_segment(spec, now)))
        return set(rows)


CASES = [
    # text fields
    (leaf("tier", "eq", "gold"), {"gold_tb", "quiet_gold"}),
    (leaf("tier", "ne", "gold"), {"silver_ws", "nobody"}),  # no tier counts as "not gold"
    (leaf("tier", "in", ["gold", "silver"]), {"gold_tb", "quiet_gold", "silver_ws"}),
    (leaf("tier", "not_in", ["gold", "silver"]), {"nobody"}),
    (leaf("tier", "is_set", False), {"nobody"}),
    (leaf("tier", "is_set", True), {"gold_tb", "quiet_gold", "silver_ws"}),
    (leaf("business_type", "eq", "taobao"), {"gold_tb"}),
    (leaf("business_type", "in", ["taobao", "wholesale"]), {"gold_tb", "silver_ws"}),
    (leaf("business_type", "eq", "淘宝"), {"gold_tb"}),  # a word for the key also works
    (leaf("business_type", "not_in", ["批发"]), {"gold_tb", "nobody", "quiet_gold"}),
    (leaf("province", "eq", "广东"), {"silver_ws", "quiet_gold"}),
    (leaf("province", "eq", "广东省"), {"silver_ws", "quiet_gold"}),
    (leaf("province", "eq", "广州"), set()),  # a city is not a province
    (leaf("city", "in", ["杭州", "深圳"]), {"gold_tb", "quiet_gold"}),
    (leaf("region", "eq", "广东"), {"silver_ws", "quiet_gold"}),
    (leaf("region", "in", ["杭州", "广州"]), {"gold_tb", "silver_ws"}),
    (leaf("region", "ne", "广东"), {"gold_tb", "nobody"}),
    (leaf("region", "is_set", False), {"nobody"}),
    (leaf("qr_scene", "eq", "expo"), {"gold_tb"}),
    (leaf("openid", "in", ["nobody", "gold_tb"]), {"nobody", "gold_tb"}),
    # JSON lists
    (leaf("interests", "contains", "女装"), {"gold_tb", "quiet_gold"}),
    (leaf("interests", "contains_any", ["童装", "男装"]), {"gold_tb", "silver_ws"}),
    (leaf("interests", "contains", "男士"), {"silver_ws"}),  # a synonym of 男装
    (leaf("interests", "contains_all", ["女装", "童装"]), {"gold_tb"}),
    (leaf("interests", "is_empty", True), {"nobody"}),
    (leaf("channels", "contains", "抖音"), {"gold_tb"}),
    (leaf("channels", "contains", "线下"), {"silver_ws"}),  # the card stores 线下门店
    (leaf("channels", "is_empty", False), {"gold_tb", "silver_ws"}),
    (leaf("tags", "contains", "展会"), {"quiet_gold"}),
    (leaf("tags", "contains_any", ["vip"]), {"gold_tb", "quiet_gold"}),
    # flags
    (leaf("subscribed", "eq", False), {"nobody"}),
    (leaf("opted_out", "eq", True), {"nobody"}),
    (leaf("opted_out", "eq", False), ALL - {"nobody"}),
    (leaf("has_card", "eq", True), {"gold_tb"}),
    (leaf("imported", "eq", True), {"silver_ws"}),
    (leaf("imported", "eq", False), ALL - {"silver_ws"}),
    # ages in days (relative to the injected clock)
    (leaf("days_since_interaction", "gte", 40), {"gold_tb", "quiet_gold"}),
    (leaf("days_since_interaction", "gt", 40), {"quiet_gold"}),
    (leaf("days_since_interaction", "lt", 5), {"silver_ws"}),
    (leaf("days_since_interaction", "lte", 5), {"silver_ws", "nobody"}),  # nobody: first seen
    (leaf("days_since_interaction", "between", [3, 100]), {"gold_tb", "nobody"}),
    (leaf("days_since_follow", "gte", 100), {"gold_tb", "quiet_gold"}),
    (leaf("days_since_follow", "lt", 100), {"silver_ws"}),  # never followed: no age
    (leaf("days_since_follow", "gt", 100), {"quiet_gold"}),
    (leaf("days_since_follow", "lte", 10), {"silver_ws"}),
    (leaf("days_since_follow", "between", [0, 10]), {"silver_ws"}),
    # order figures
    (leaf("orders_total", "eq", 1), {"silver_ws"}),
    (leaf("orders_total", "ne", 0), {"gold_tb", "silver_ws", "quiet_gold"}),
    (leaf("orders_12m", "gt", 0), {"gold_tb", "silver_ws"}),
    (leaf("orders_12m", "gte", 3), {"gold_tb"}),
    (leaf("orders_12m", "lt", 1), {"nobody", "quiet_gold"}),
    (leaf("orders_12m", "lte", 1), {"silver_ws", "nobody", "quiet_gold"}),
    (leaf("spend_12m", "gte", 50000), {"gold_tb"}),
    (leaf("spend_12m", "between", [1, 5000]), {"silver_ws"}),
    (leaf("customer", "eq", "prospect"), {"nobody"}),
    (leaf("customer", "eq", "new"), {"silver_ws"}),
    (leaf("customer", "eq", "returning"), {"gold_tb", "quiet_gold"}),
    (leaf("customer", "in", ["new", "returning"]), {"gold_tb", "silver_ws", "quiet_gold"}),
    (leaf("reorder_state", "eq", "lapsed"), {"quiet_gold"}),
    (leaf("reorder_state", "in", ["on_rhythm", "due"]), {"silver_ws"}),
    (leaf("days_overdue", "gte", 30), {"quiet_gold"}),
    (leaf("cycle_days", "lt", 35), {"silver_ws"}),
    # combinators
    ({"all": []}, ALL),
    ({"any": []}, set()),
    (
        {"all": [leaf("tier", "eq", "gold"), {"not": leaf("days_since_interaction", "gte", 100)}]},
        {"gold_tb"},
    ),
    (
        {"any": [leaf("tier", "eq", "silver"), leaf("opted_out", "eq", True)]},
        {"silver_ws", "nobody"},
    ),
    ({"not": leaf("interests", "contains", "女装")}, {"silver_ws", "nobody"}),
    ({"not": {"not": leaf("tier", "eq", "silver")}}, {"silver_ws"}),
    # missing values under a negated combination: nobody has neither tier nor region
    ({"not": {"any": [leaf("tier", "eq", "gold"), leaf("region", "eq", "广东")]}}, {"nobody"}),
    (
        {"not": {"all": [leaf("tier", "ne", "gold"), leaf("days_since_follow", "lt", 50)]}},
        {"gold_tb", "quiet_gold", "nobody"},
    ),
]


@pytest.mark.parametrize(("spec", "expected"), CASES, ids=[repr(c[0])[:70] for c in CASES])
async def test_segment_selects_the_right_buyers(db, clock, spec, expected):
    make, _ = db
    assert await matching(make, spec, clock.now()) == expected


async def test_rsvp_field_selects_buyers_who_rsvped_to_that_livestream(db, clock):
    make, live_id = db
    assert await matching(make, leaf("rsvp", "eq", live_id), clock.now()) == {"silver_ws"}
    assert await matching(make, leaf("rsvp", "in", [live_id + 1]), clock.now()) == set()
    assert await matching(make, {"not": leaf("rsvp", "eq", live_id)}, clock.now()) == ALL - {
        "silver_ws"
    }


async def test_day_counts_follow_the_clock(db, clock):
    make, _ = db
    spec = leaf("days_since_interaction", "gte", 30)
    assert await matching(make, spec, clock.now()) == {"gold_tb", "quiet_gold"}
    clock.advance(days=28)
    assert await matching(make, spec, clock.now()) == ALL  # nobody: 33 days since first seen


async def test_counts_say_who_a_campaign_would_reach_and_how(db, clock):
    make, _ = db
    everyone = {"any": [leaf("subscribed", "eq", True), leaf("subscribed", "eq", False)]}
    async with make() as session:
        # "nobody" unfollowed and opted out; silver_ws wrote 48 hours ago: the window just closed.
        assert await count_segment(session, everyone, clock.now()) == Counts(4, 3, 0)
        an_hour_earlier = clock.now() - timedelta(hours=1)
        assert await count_segment(session, everyone, an_hour_earlier) == Counts(4, 3, 1)


def test_every_field_is_covered_by_a_case():
    covered = {c[0]["field"] for c in CASES if "field" in c[0]} | {"rsvp"}
    assert covered == set(FIELDS)


REFUSALS = [
    ([], "(segment)", "must be an object"),
    ({"field": "colour", "op": "eq", "value": "red"}, "field", "unknown field 'colour'"),
    ({"field": "tier", "op": "gt", "value": "gold"}, "op", "tier does not take operator 'gt'"),
    ({"field": "tier", "op": "eq", "value": 3}, "value", "must be a non-empty string"),
    ({"field": "tier", "op": "in", "value": []}, "value", "non-empty list"),
    ({"field": "tier", "op": "eq"}, "value", "missing"),
    ({"field": "tier", "value": "x"}, "op", "missing"),
    ({"field": "tier", "op": "eq", "value": "x", "extra": 1}, "extra", "unknown key"),
    ({"all": {"field": "tier"}}, "all", "must be a list"),
    ({"all": [], "any": []}, "(segment)", "no other keys"),
    (
        {"all": [leaf("tier", "eq", "gold"), leaf("orders_12m", "gt", "3")]},
        "all[1].value",
        "must be a number",
    ),
    ({"not": {"any": [leaf("spend_12m", "gte", True)]}}, "not.any[0].value", "must be a number"),
    (leaf("days_since_interaction", "gte", -1), "value", "0 or more"),
    (leaf("days_since_interaction", "between", [10, 5]), "value", "low <= high"),
    (leaf("spend_12m", "between", [1]), "value", "[low, high]"),
    (leaf("opted_out", "eq", "yes"), "value", "true or false"),
    (leaf("interests", "contains", ""), "value", "non-empty string"),
    (leaf("customer", "eq", "vip"), "value", "prospect, new, returning"),
    (leaf("reorder_state", "eq", "soon"), "value", "on_rhythm, due, overdue, lapsed"),
    (leaf("business_type", "eq", "factory"), "value", "unknown business type 'factory'"),
    (leaf("business_type", "in", ["taobao", "x"]), "value", "unknown business type 'x'"),
    (leaf("rsvp", "eq", 0), "value", "campaign id"),
    (leaf("rsvp", "in", ["a"]), "value", "campaign ids"),
    (leaf("orders_total", "eq", float("nan")), "value", "must be a number"),
]


@pytest.mark.parametrize(
    ("spec", "path", "problem"), REFUSALS, ids=[r[1] + ":" + r[2] for r in REFUSALS]
)
def test_bad_segment_is_refused_with_path_and_problem(clock, spec, path, problem):
    with pytest.raises(SegmentError) as err:
        compile_segment(spec, clock.now())
    assert err.value.path == path
    assert problem in err.value.problem
    assert str(err.value).startswith(path)


def test_absurdly_deep_segment_is_refused(clock):
    spec = leaf("tier", "eq", "gold")
    for _ in range(40):
        spec = {"not": spec}
    with pytest.raises(SegmentError, match="nested deeper"):
        compile_segment(spec, clock.now())


async def test_saved_segment_round_trip_and_preview(db, clock):
    make, _ = db
    now = clock.now()
    async with make() as session:
        await create_segment(session, "金卡沉睡", leaf("tier", "eq", "gold"), now, "gold, quiet")
        await session.commit()
    async with make() as session:
        with pytest.raises(SegmentExists):
            await create_segment(session, "金卡沉睡", leaf("tier", "eq", "gold"), now)
    async with make() as session:
        await update_segment(
            session,
            "金卡沉睡",
            now,
            spec={"all": [leaf("tier", "eq", "gold"), leaf("days_since_interaction", "gte", 100)]},
        )
        await session.commit()
    async with make() as session:
        saved = await get_segment(session, "金卡沉睡")
        assert saved.description == "gold, quiet"
        preview = await preview_segment(session, saved.spec, now, sample_size=5)
        assert preview.counts.matching == 1 and [b.openid for b in preview.sample] == ["quiet_gold"]
        assert [s.name for s in await list_segments(session)] == ["金卡沉睡"]
        await delete_segment(session, "金卡沉睡")
        await session.commit()
    async with make() as session:
        with pytest.raises(SegmentNotFound):
            await get_segment(session, "金卡沉睡")


async def test_saving_a_bad_spec_stores_nothing(db, clock):
    make, _ = db
    async with make() as session:
        with pytest.raises(SegmentError):
            await create_segment(session, "bad", leaf("tier", "gt", 1), clock.now())
        with pytest.raises(SegmentError, match="name"):
            await create_segment(session, "has space", leaf("tier", "eq", "a"), clock.now())
        assert await list_segments(session) == []


async def test_list_membership_is_exact_whatever_the_json_spelling(db, clock):
    make, _ = db
    async with make() as session:
        raw = session.bind.dialect.name == "sqlite"
        session.add_all(
            [
                # An element that merely *contains* '"vip"' once its quotes are escaped.
                Buyer(
                    openid="tricky",
                    first_seen_at=clock.now(),
                    tags=['x", "vip'],
                    channels=[],
                    interests=[],
                ),
                Buyer(
                    openid="quoted",
                    first_seen_at=clock.now(),
                    tags=['say "hi"', "vip"],
                    channels=[],
                    interests=[],
                ),
            ]
        )
        await session.flush()
        # Written unescaped (as SQLite's JSON functions or a json.dumps(ensure_ascii=False) do).
        cast = "?" if raw else "CAST(:v AS JSON)"
        stmt = f"UPDATE buyers SET interests = {cast} WHERE openid = 'tricky'"
        await session.execute(
            text(stmt.replace("?", ":v")), {"v": json.dumps(["女装"], ensure_ascii=False)}
        )
        await session.commit()
    tags_vip = await matching(make, leaf("tags", "contains", "vip"), clock.now())
    assert tags_vip == {"gold_tb", "quiet_gold", "quoted"}
    assert await matching(make, leaf("tags", "contains", 'say "hi"'), clock.now()) == {"quoted"}
    women = await matching(make, leaf("interests", "contains", "女装"), clock.now())
    assert women == {"gold_tb", "quiet_gold", "tricky"}
