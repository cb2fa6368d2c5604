"""Operator endpoints for orders and tiers under /api.

- ``POST /api/orders``: JSON rows; ``POST /api/orders/csv``: a platform export (the raw
  body, or a multipart upload), ``?mapping=field=header&encoding=gbk`` (URL-encoded), or
  the same as multipart fields beside the file (``mapping`` repeatable). Both import, then
  recompute tiers and announce the changes (``?recompute=false`` skips that), and answer
  the counts and the bad rows by line number.
- ``POST /api/tiers/recompute``: the nightly recompute, now.
- ``PUT /api/buyers/{openid}/tier``: set a tier by hand (``key: null`` gives it back to the
  orders), with a reason and an optional expiry; the buyer is told at once if it changed.
- ``GET /api/tier-changes?openid=&limit=``: the record of changes, newest first.

Uploads are streamed to a temporary file, so a file far above the usual body limit is fine.
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from typing import Annotated

import aiohttp
from aiohttp import web
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from bot.api import ApiError, ApiRoutes, Moment
from bot.appkeys import SERVICES, SESSIONMAKER
from bot.models import Buyer
from members.order_csv import FIELDS, OrderFileError
from members.order_import import import_csv, import_orders
from members.tier_notices import deliver_pending_notices
from members.tier_recompute import recompute_all_tiers
from members.tiers import TierChange, TierError, set_manual_tier, tier_changes_for

routes = ApiRoutes("orders and tiers")

SPOOL_IN_MEMORY = 8 * 1024 * 1024
ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")  # what platform exports come in


MAX_AMOUNT = 10**10  # ¥; an order above it is a typing mistake (and would overflow the column)


class OrderIn(BaseModel):
    order_no: str = Field(min_length=1, max_length=64)
    account: str | None = Field(None, max_length=128)
    phone: str | None = Field(None, max_length=32)
    amount: (
        Annotated[str, Field(max_length=32)]
        | Annotated[float, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, allow_inf_nan=False)]
    ) = Field(description='paid amount: 1280, "1280.00" or "¥1,280.00"')
    created_at: str = Field(
        max_length=64, description="local time of the export, e.g. 2026-05-18 12:30:00"
    )
    status: str = Field("", max_length=64)
    waybill_no: str | None = Field(None, max_length=64)
    carrier: str | None = Field(None, max_length=32)
    title: str | None = Field(None, max_length=200, description="a line item: product title")
    sku: str | None = Field(None, max_length=128)
    quantity: int | None = Field(None, ge=0, le=10**6)
    unit_price: str | None = Field(None, max_length=32)
    refund: str | None = Field(None, max_length=32)


class OrdersIn(BaseModel):
    rows: list[OrderIn] = Field(max_length=100_000)
    recompute: bool = True


class TierIn(BaseModel):
    key: str | None = Field(
        max_length=64, description="a configured tier key; null hands the tier back"
    )
    reason: str = Field(min_length=1, max_length=256)
    until: Moment | None = Field(None, description="expiry (ISO 8601 with a zone)")

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
        (i, (r.order_no, r.account, r.phone, str(r.amount), r.created_at, r.status,
             r.waybill_no, r.carrier, r.title, r.sku,
             None if r.quantity is None else str(r.quantity), r.unit_price, r.refund))
        for i, r in enumerate(body.rows, start=1)
    ]  # fmt: skip
    result = await import_orders(
        request.config_dict[SESSIONMAKER], rows, services.config.orders, services.clock.now()
    )
    return await _after_import(request, result.as_dict(), body.recompute)


def _mapping(items: list[str], mapping: dict[str, str] | None = None) -> dict[str, str]:
    """``field=header`` items (query parameters or form fields) → {field: header}."""
    mapping = {} if mapping is None else mapping
    for item in items:
        field, sep, header = item.partition("=")
        field, header = field.strip(), header.strip()
        if not sep or field not in FIELDS or not header:
            raise ApiError(
                400,
                f"mapping: {item!r} must be field=header, field one of {', '.join(FIELDS)}",
            )
        mapping[field] = header
    return mapping


async def _read_upload(request: web.Request, spool, fields: dict[str, list[str]]) -> None:
    """Stream the CSV into `spool`: the raw body, or the file part of a multipart form whose
    other fields (``mapping``, repeatable; ``encoding``; ``recompute``) land in `fields`."""
    if not request.content_type.startswith("multipart/"):
        async for chunk in request.content.iter_chunked(1 << 16):
            spool.write(chunk)
        return
    try:
        reader = await request.multipart()
        got_file = False
        while (part := await reader.next()) is not None:
            if getattr(part, "filename", None) and not got_file:
                got_file = True
                while chunk := await part.read_chunk():
                    spool.write(chunk)
            elif part.name in ("mapping", "encoding", "recompute"):
                value = (await part.read(decode=True)).decode("utf-8")
                fields.setdefault(part.name, []).extend(value.splitlines() or [""])
            else:
                await part.release()
    except (ValueError, UnicodeDecodeError, AssertionError, aiohttp.ClientPayloadError) as exc:
        raise ApiError(400, f"the multipart body cannot be read: {exc}") from None
    if not got_file:
        raise ApiError(400, "the multipart body has no file part (a field with a filename)")


@routes.route(
    "POST",
    "/orders/csv",
    "Import a platform order export (CSV body or multipart upload)",
    query={
        "mapping": "field=header for a column with another name (repeatable; URL-encoded, "
        "or sent as multipart fields named mapping)",
        "encoding": "utf-8, utf-8-sig or gbk (detected when absent)",
        "recompute": "false to skip the tier recompute",
    },
)
async def post_orders_csv(request: web.Request) -> dict:
    services = request.config_dict[SERVICES]
    mapping = _mapping(request.query.getall("mapping", []))
    fields: dict[str, list[str]] = {}
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        await _read_upload(request, spool, fields)
        mapping = _mapping([m for m in fields.get("mapping", []) if m.strip()], mapping)
        encoding = (fields.get("encoding") or [request.query.get("encoding", "")])[-1].strip()
        if encoding and encoding.lower() not in ENCODINGS:
            raise ApiError(
                400, f"encoding: must be one of {', '.join(ENCODINGS)}", field="encoding"
            )
        spool.seek(0)
        try:
            result = await import_csv(
                request.config_dict[SESSIONMAKER],
                spool,
                services.config.orders,
                services.clock.now(),
                mapping=mapping,
                encoding=encoding or None,
            )
        except (OrderFileError, LookupError) as exc:
            raise ApiError(400, str(exc)) from None
    recompute = (fields.get("recompute") or [request.query.get("recompute", "true")])[-1]
    return await _after_import(
        request, result.as_dict(), recompute.strip().lower() not in ("false", "0", "no")
    )


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
    raw = request.query.get("limit", "100")
    if not re.fullmatch(r"[0-9]{1,7}", raw):
        raise ApiError(400, "limit: must be a whole number", field="limit")
    limit = min(max(int(raw), 1), 1000)
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
