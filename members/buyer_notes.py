"""Staff's private notes on a buyer (备注), and the indexes the buyer book reads through.

A note is never shown to the buyer and never sent anywhere; it belongs to the supplier's
staff. The author's name is copied into the row, so a note reads the same after the account
is gone (no foreign key to console users: members sits below the console). Erasing a
buyer's data (删除资料) deletes their notes too: staff write personal things in them.

The indexes declared here sit on the ``buyers`` table; they exist for the buyer book's sorts
and searches (``members/buyer_book.py``), so they are declared beside it rather than on the
framework's buyer model. This module does not read or write buyers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func, literal_column, null
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base, Buyer

MAX_NOTE = 1000  # characters


class BuyerNote(Base):
    __tablename__ = "buyer_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(Integer)
    author_name: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_buyer_notes_buyer", "buyer_id", "id"),)


# The phone's last four digits, as an expression both SQLite and PostgreSQL index (the 3 is
# literal SQL: an index on an expression only serves a query that spells it the same way).
PHONE_TAIL = func.substr(Buyer.phone, func.length(Buyer.phone) - literal_column("3"))


def sort_key(column: Any) -> Any:
    """The expression the list sorts `column` by: ``coalesce(column, NULL)``, the same values.

    The sort indexes are on this expression rather than on the bare column on purpose: a
    segment's range test on the bare column (``orders_total >= 2``, ``spend_12m >= 5000``)
    must not match them, or SQLite answers the count through the index with one random
    table read per buyer (seconds at a million) instead of its plain scan."""
    return func.coalesce(column, null())


# Sorted columns carry the id for the keyset tie-break; name and company serve prefix search;
# tier with region lets "gold in 广东" be counted from the index alone.
BOOK_INDEXES = (
    Index("ix_buyers_sort_spend", sort_key(Buyer.spend_12m), Buyer.id),
    Index("ix_buyers_sort_orders", sort_key(Buyer.orders_total), Buyer.id),
    Index("ix_buyers_sort_followed", sort_key(Buyer.subscribed_at), Buyer.id),
    Index("ix_buyers_display_name", Buyer.display_name),
    Index("ix_buyers_company", Buyer.company),
    Index("ix_buyers_phone_tail", PHONE_TAIL),
    Index("ix_buyers_tier_region", Buyer.tier_key, Buyer.province, Buyer.city),
)
