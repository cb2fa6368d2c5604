"""The buyer book's reads and writes: search, the sorted keyset-paginated list, bulk and single
operator tags, and private notes.

A list is a filter condition over ``Buyer`` (the console compiles its filter chips with the
segment language, so a saved segment counts exactly what the list showed) plus a search
word, sorted by one column with the id as tie-break. Pages follow a keyset cursor
("value|id"), never OFFSET, so page 2,000 costs what page 1 does. Search is by exact phone,
phone tail (last 4 digits), exact openid or platform account, or the start of a name or
company (prefix matches use the indexes in ``members/buyer_notes.py``; a word in the middle
of a company name is deliberately not searched: that is a scan of every buyer).

Every function works inside the caller's transaction. This module does not decide who may
call it (the console's roles) or audit anything (the console records what it changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Buyer
from members.buyer_notes import MAX_NOTE, PHONE_TAIL, BuyerNote, sort_key

PAGE_SIZE = 50
MAX_QUERY = 64
MAX_TAG = 20
MAX_TAGS = 30  # per buyer
BULK_BATCH = 1000

# sort key -> (attribute, the expression sorted by, nullable)
SORTS: dict[str, tuple[str, Any, bool]] = {
    "last_interaction": ("last_interaction_at", Buyer.last_interaction_at, True),
    "spend_12m": ("spend_12m", sort_key(Buyer.spend_12m), False),
    "orders_total": ("orders_total", sort_key(Buyer.orders_total), False),
    "subscribed_at": ("subscribed_at", sort_key(Buyer.subscribed_at), True),
}


class BookError(ValueError):
    """Something a staff member typed that the book refuses; the message is for them."""


@dataclass(frozen=True)
class BookPage:
    rows: list[Buyer]
    total: int | None  # None: not counted (``count=False``)
    next_cursor: str | None


def check_query(q: str) -> str:
    q = q.strip()
    if len(q) > MAX_QUERY:
        raise BookError(f"搜索词最多 {MAX_QUERY} 个字")
    return q


def search_condition(q: str) -> ColumnElement[bool] | None:
    """What a search word matches (None: no search)."""
    q = q.strip()
    if not q:
        return None
    if q.isdigit() and q.isascii():
        if len(q) == 4:
            return PHONE_TAIL == q
        return or_(Buyer.phone == q, Buyer.platform_account == q)
    exact = or_(Buyer.openid == q, Buyer.platform_account == q, Buyer.phone == q)
    return or_(exact, _prefix(Buyer.display_name, q), _prefix(Buyer.company, q))


def _prefix(column: Any, q: str) -> ColumnElement[bool]:
    # The range lets SQLite and PostgreSQL walk the index; startswith keeps it exact.
    return and_(column >= q, column < q + "\U0010ffff", column.startswith(q, autoescape=True))


def _where(where: ColumnElement[bool] | None, q: str) -> ColumnElement[bool]:
    parts = [c for c in (where, search_condition(q)) if c is not None]
    return and_(*parts) if parts else true()


def _parse_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    value, sep, last_id = cursor.rpartition("|")
    if not sep or not last_id.isdigit():
        raise BookError("翻页参数无效，请从第一页重新打开")
    try:
        if value == "":
            return None, int(last_id)
        if sort in ("last_interaction", "subscribed_at"):
            parsed: Any = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError(value)
        elif sort == "spend_12m":
            parsed = float(value)
        else:
            parsed = int(value)
    except ValueError:
        raise BookError("翻页参数无效，请从第一页重新打开") from None
    return parsed, int(last_id)


def _cursor_of(buyer: Buyer, sort: str) -> str:
    value = getattr(buyer, SORTS[sort][0])
    text = "" if value is None else (value.isoformat() if isinstance(value, datetime) else value)
    return f"{text}|{buyer.id}"


def _after(sort: str, desc: bool, cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor in the order (value, id), NULL values last in both directions."""
    _attr, column, nullable = SORTS[sort]
    value, last_id = _parse_cursor(cursor, sort)
    beyond = (lambda a, b: a < b) if desc else (lambda a, b: a > b)
    if value is None:
        if not nullable:
            raise BookError("翻页参数无效，请从第一页重新打开")
        return and_(column.is_(None), beyond(Buyer.id, last_id))
    after = or_(beyond(column, value), and_(column == value, beyond(Buyer.id, last_id)))
    return or_(after, column.is_(None)) if nullable else after


def _order(sort: str, desc: bool) -> list[Any]:
    _attr, column, nullable = SORTS[sort]
    if desc:
        first = column.desc().nulls_last() if nullable else column.desc()
        return [first, Buyer.id.desc()]
    first = column.asc().nulls_last() if nullable else column.asc()
    return [first, Buyer.id.asc()]


async def count_buyers(session: AsyncSession, where: ColumnElement[bool] | None, q: str) -> int:
    """How many buyers the filter and search match (the bulk dialog's exact number)."""
    return int(
        await session.scalar(select(func.count()).select_from(Buyer).where(_where(where, q))) or 0
    )


async def list_buyers(
    session: AsyncSession,
    where: ColumnElement[bool] | None,
    q: str = "",
    *,
    sort: str = "last_interaction",
    desc: bool = True,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    count: bool = True,
) -> BookPage:
    """One page of the book and the total it pages through (BookError for a bad cursor).
    With ``count=False`` the total is left out: a page walks a sort index and takes a few
    ms, while an exact total over a filter no index narrows scans every buyer (hundreds of
    ms at a million), so the console asks for it separately (:func:`count_buyers`)."""
    if sort not in SORTS:
        raise BookError("排序方式无效")
    condition = _where(where, q)
    page_where = and_(condition, _after(sort, desc, cursor)) if cursor else condition
    rows = list(
        await session.scalars(
            select(Buyer).where(page_where).order_by(*_order(sort, desc)).limit(limit + 1)
        )
    )
    total = await count_buyers(session, where, q) if count else None
    more = len(rows) > limit
    rows = rows[:limit]
    return BookPage(rows, total, _cursor_of(rows[-1], sort) if more and rows else None)


async def get_buyer(session: AsyncSession, buyer_id: int) -> Buyer | None:
    return await session.get(Buyer, buyer_id)


# --- tags ---------------------------------------------------------------------------------------


def check_tag(tag: str) -> str:
    """A tag as stored: trimmed, 1–20 characters, no separators or control characters."""
    tag = " ".join(tag.split())
    if not tag:
        raise BookError("请填写标签")
    if len(tag) > MAX_TAG:
        raise BookError(f"标签最多 {MAX_TAG} 个字")
    if any(ch in tag for ch in ',，;；"\\') or not tag.isprintable():
        raise BookError("标签不能包含逗号、分号、引号或反斜杠")
    return tag


def add_tag(buyer: Buyer, tag: str) -> bool:
    """Give the buyer `tag` (False: they had it already)."""
    tag = check_tag(tag)
    tags = list(buyer.tags or [])
    if tag in tags:
        return False
    if len(tags) >= MAX_TAGS:
        raise BookError(f"每位买家最多 {MAX_TAGS} 个标签")
    buyer.tags = [*tags, tag]
    return True


def remove_tag(buyer: Buyer, tag: str) -> bool:
    """Take `tag` off the buyer (False: they did not have it)."""
    tags = list(buyer.tags or [])
    if tag not in tags:
        return False
    buyer.tags = [t for t in tags if t != tag]
    return True


async def bulk_tag(
    session: AsyncSession, where: ColumnElement[bool] | None, q: str, tag: str, *, add: bool
) -> int:
    """Add or remove `tag` on EVERY buyer the filter and search match, not one page of them;
    returns how many buyers changed. Walks the match by id in batches of ``BULK_BATCH``."""
    tag = check_tag(tag)
    condition = _where(where, q)
    changed, last_id = 0, 0
    while True:
        batch = (
            await session.execute(
                select(Buyer.id, Buyer.tags)
                .where(condition, Buyer.id > last_id)
                .order_by(Buyer.id)
                .limit(BULK_BATCH)
            )
        ).all()
        if not batch:
            return changed
        last_id = batch[-1].id
        updates = []
        for buyer_id, tags in batch:
            tags = list(tags or [])
            if add and tag not in tags and len(tags) < MAX_TAGS:
                updates.append({"b_id": buyer_id, "b_tags": [*tags, tag]})
            elif not add and tag in tags:
                updates.append({"b_id": buyer_id, "b_tags": [t for t in tags if t != tag]})
        if updates:
            await session.execute(
                update(Buyer.__table__)
                .where(Buyer.__table__.c.id == bindparam("b_id"))
                .values(tags=bindparam("b_tags")),
                updates,
            )
            changed += len(updates)


# --- notes --------------------------------------------------------------------------------------


async def add_note(
    session: AsyncSession, buyer: Buyer, author: tuple[int | None, str], body: str, now: datetime
) -> BuyerNote:
    body = body.strip()
    if not body:
        raise BookError("请填写备注内容")
    if len(body) > MAX_NOTE:
        raise BookError(f"备注最多 {MAX_NOTE} 个字")
    note = BuyerNote(
        buyer_id=buyer.id,
        author_id=author[0],
        author_name=author[1][:64],
        body=body,
        created_at=now,
    )
    session.add(note)
    await session.flush()
    return note


async def notes_for(session: AsyncSession, buyer_id: int, limit: int = 50) -> Sequence[BuyerNote]:
    """The buyer's notes, newest first."""
    return list(
        await session.scalars(
            select(BuyerNote)
            .where(BuyerNote.buyer_id == buyer_id)
            .order_by(BuyerNote.id.desc())
            .limit(limit)
        )
    )


async def delete_notes(session: AsyncSession, buyer_id: int) -> int:
    result = await session.execute(delete(BuyerNote).where(BuyerNote.buyer_id == buyer_id))
    return int(result.rowcount or 0)
