"""Operator endpoints for orders and tiers under /api.

- ``POST /api/orders``: JSON rows; ``POST /api/orders/csv``: a platform export (the raw
  body, or a multipart upload), ``?mapping=field=header&encoding=gbk``. Both import, then
  recompute tiers and announce the changes (``?recompute=false`` skips that), and answer
  the counts and the bad rows by line number.
- ``POST /api/tiers/recompute``: the nightly recompute, now.
- ``PUT /api/buyers/{openid}/tier``: set a tier by hand (``key: null`` gives it back to the
  orders), with a reason and an optional expiry; the buyer is told at once if it changed.
- ``GET /api/tier-changes?openid=&limit=``: the record of changes, newest first.

Uploads are streamed to a temporary file, so a file far above the usual body limit is fine.
"""

from __future__ import annotations

import tempfile
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from bot.api import ApiError, ApiRoutes
from bot.appkeys import SERVICES, SESSIONMAKER
from bot.models import Buyer
from members.order_csv import FIELDS, OrderFileError
from members.order_import import import_csv, import_orders
from members.tier_notices import deliver_pending_notices
from members.tier_recompute import recompute_all_tiers
from members.tiers import TierChange, TierError, set_manual_tier, tier_changes_for

routes = ApiRoutes("orders and tiers")

SPOOL_IN_MEMORY = 8 * 1024 * 1024


class OrderIn(BaseModel):
    order_no: str = Field(min_length=1, max_length=64)
    account: str | None = Field(None, max_length=128)
    phone: str | None = None
    amount: str | float = Field(description='paid amount: 1280, "1280.00" or "¥1,280.00"')
    created_at: str = Field(description="local time of the export, e.g. 2026-05-18 12:30:00")
    status: str = ""


class OrdersIn(BaseModel):
    rows: list[OrderIn] = Field(max_length=100_000)
    recompute: bool = True


class TierIn(BaseModel):
    key: str | None = Field(description="a configured tier key; null hands the tier back")
    reason: str = Field(min_length=1, max_length=256)
    until: datetime | None = Field(None, description="expiry (ISO 8601 with a zone)")

    @field_validator("until")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-06-30T00:00:00+08:00")
        return v


def change_to_dict(change: TierChange, openid: str | None = None) -> dict:
    return {
        "id": change.id,
        "openid": openid,
        "from": change.from_key,
        "to": change.to_key,
        "reason": change.reason,
        "note": change.note,
        "at": change.created_at.isoformat(),
        "notice": change.notice,
    }


async def _after_import(request: web.Request, result: dict, recompute: bool) -> dict:
    if recompute:
        tiers = await recompute_all_tiers(
            request.config_dict[SESSIONMAKER], request.config_dict[SERVICES]
        )
        result["tiers"] = tiers.as_dict()
    return result


@routes.route("POST", "/orders", "Import orders given as JSON rows", body=OrdersIn)
async def post_orders(request: web.Request, body: OrdersIn) -> dict:
    services = request.config_dict[SERVICES]
    rows = [
        (i, (r.order_no, r.account, r.phone, str(r.amount), r.created_at, r.status))
        for i, r in enumerate(body.rows, start=1)
    ]
    result = await import_orders(
        request.config_dict[SESSIONMAKER], rows, services.config.orders, services.clock.now()
    )
    return await _after_import(request, result.as_dict(), body.recompute)


def _mapping(request: web.Request) -> dict[str, str]:
    mapping = {}
    for item in request.query.getall("mapping", []):
        field, sep, header = item.partition("=")
        if not sep or field not in FIELDS:
            raise ApiError(
                400, f"mapping: {item!r} must be field=header, field one of {', '.join(FIELDS)}"
            )
        mapping[field] = header
    return mapping


@routes.route(
    "POST",
    "/orders/csv",
    "Import a platform order export (CSV body or multipart upload)",
    query={
        "mapping": "field=header for a column with another name (repeatable)",
        "encoding": "utf-8, utf-8-sig or gbk (detected when absent)",
        "recompute": "false to skip the tier recompute",
    },
)
async def post_orders_csv(request: web.Request) -> dict:
    services = request.config_dict[SERVICES]
    mapping = _mapping(request)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            while part is not None and not getattr(part, "filename", None):
                part = await reader.next()
            if part is None:
                raise ApiError(400, "the multipart body has no file part")
            while chunk := await part.read_chunk():
                spool.write(chunk)
        else:
            async for chunk in request.content.iter_chunked(1 << 16):
                spool.write(chunk)
        spool.seek(0)
        try:
            result = await import_csv(
                request.config_dict[SESSIONMAKER],
                spool,
                services.config.orders,
                services.clock.now(),
                mapping=mapping,
                encoding=request.query.get("encoding") or None,
            )
        except (OrderFileError, LookupError) as exc:
            raise ApiError(400, str(exc)) from None
    recompute = request.query.get("recompute", "true").lower() not in ("false", "0", "no")
    return await _after_import(request, result.as_dict(), recompute)


@routes.route("POST", "/tiers/recompute", "Recompute every buyer's tier and announce changes")
async def post_recompute(request: web.Request) -> dict:
    result = await recompute_all_tiers(
        request.config_dict[SESSIONMAKER], request.config_dict[SERVICES]
    )
    return result.as_dict()


@routes.route("PUT", "/buyers/{openid}/tier", "Set a buyer's tier by hand", body=TierIn)
async def put_tier(request: web.Request, body: TierIn) -> dict:
    maker, services = request.config_dict[SESSIONMAKER], request.config_dict[SERVICES]
    openid = request.match_info["openid"]
    async with maker() as session:
        buyer = await session.scalar(select(Buyer).where(Buyer.openid == openid))
        if buyer is None:
            raise ApiError(404, f"no buyer with openid {openid!r}")
        try:
            change = await set_manual_tier(
                session, buyer, body.key, reason=body.reason, until=body.until, services=services
            )
        except TierError as exc:
            raise ApiError(400, f"{exc.field}: {exc}") from None
        await session.commit()
        buyer_id = buyer.id
    notices = await deliver_pending_notices(maker, services, buyer_id=buyer_id)
    async with maker() as session:
        change = await session.get(TierChange, change.id)
        return {"change": change_to_dict(change, openid), "notices": notices}


@routes.route(
    "GET",
    "/tier-changes",
    "Tier changes, newest first",
    query={"openid": "only this buyer's", "limit": "at most this many (default 100)"},
)
async def get_tier_changes(request: web.Request) -> dict:
    try:
        limit = min(max(int(request.query.get("limit", "100")), 1), 1000)
    except ValueError:
        raise ApiError(400, "limit: must be a whole number") from None
    openid = request.query.get("openid")
    async with request.config_dict[SESSIONMAKER]() as session:
        buyer_id = None
        if openid:
            buyer_id = await session.scalar(select(Buyer.id).where(Buyer.openid == openid))
            if buyer_id is None:
                raise ApiError(404, f"no buyer with openid {openid!r}")
        changes = await tier_changes_for(session, buyer_id=buyer_id, limit=limit)
        openids = dict(
            (
                await session.execute(
                    select(Buyer.id, Buyer.openid).where(
                        Buyer.id.in_({c.buyer_id for c in changes})
                    )
                )
            ).all()
        )
    return {"changes": [change_to_dict(c, openids.get(c.buyer_id)) for c in changes]}
