"""Where a buyer's form stands, in the database: one ``form_states`` row per buyer.

The row survives restarts and is shared by every server process. Two messages from one
buyer that arrive together must not corrupt it, so:

* on PostgreSQL the row is read ``FOR UPDATE``: the second message's transaction waits for
  the first to commit and then sees its result;
* within one process, a buyer's messages are handled one at a time in arrival order (the
  per-buyer turn in ``bot/inbound/handling.py``). The webhook commits its claim before dispatching,
  so no write lock is held while a handler runs; SQLite, which cannot lock a row, relies on
  that order and, when two servers share one file, on the version check below;
* on both, the ``version`` column is SQLAlchemy's ``version_id_col``: every update is a
  compare-and-swap (``WHERE version = :seen``), so a writer that read a state another
  transaction has since changed fails with ``StaleDataError`` instead of overwriting it.

``buyers.open_form`` mirrors whether a row exists here (set and cleared in the same
transaction), so the dispatcher's state loader costs nothing for the many buyers who have
no form open.

This module stores and loads; what a state *means* is the engine's and the form's business.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Integer, String, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base, Buyer

if TYPE_CHECKING:
    from bot.dialog.context import Context

ACTIVE = "active"
PAUSED = "paused"  # left with 取消/退出, or offered for resumption after a long silence


class FormState(Base):
    __tablename__ = "form_states"

    buyer_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("buyers.id", ondelete="CASCADE"), primary_key=True
    )
    form: Mapped[str] = mapped_column(String(32))
    # A field key, or a step of the form's own ("consent", "confirm", "delete_confirm" …).
    step: Mapped[str] = mapped_column(String(32))
    # Answers so far: {field key: value}; a key with value None was skipped.
    values: Mapped[dict] = mapped_column(default=dict)
    # Fields answered in this run, in order, for 上一步.
    history: Mapped[list] = mapped_column(default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    def is_stale(self, now: datetime, after_days: int) -> bool:
        """Untouched for `after_days`: offer to resume rather than treat the next text as an answer."""
        return self.status == ACTIVE and now - self.updated_at >= timedelta(days=after_days)


async def load_form_state(session: AsyncSession, buyer_id: int) -> FormState | None:
    """The buyer's form state, locked for this transaction where the database can lock rows."""
    return await session.get(FormState, buyer_id, with_for_update=True, populate_existing=True)


async def start_form(
    session: AsyncSession,
    buyer: Buyer,
    form: str,
    step: str,
    now: datetime,
    values: dict[str, Any] | None = None,
) -> FormState:
    """Begin (or restart) a form for the buyer, replacing any state they had."""
    # No row without the flag; with it, the loader has usually locked the row into this
    # session already and get() answers from the identity map without a query.
    state = await session.get(FormState, buyer.id) if buyer.open_form else None
    if state is None:
        state = FormState(buyer_id=buyer.id, started_at=now)
        session.add(state)
    state.form, state.step, state.status = form, step, ACTIVE
    state.values, state.history, state.attempts = dict(values or {}), [], 0
    state.started_at = state.started_at or now
    state.updated_at = now
    buyer.open_form = form
    return state


def update_state(state: FormState, now: datetime, **changes: Any) -> FormState:
    """Change a loaded state; JSON columns are replaced, never mutated in place."""
    for name, value in changes.items():
        if name in ("values", "history"):
            value = type(value)(value)
        setattr(state, name, value)
    state.updated_at = now
    return state


async def end_form(session: AsyncSession, buyer: Buyer) -> None:
    """Forget the buyer's form state (finished, declined, or the buyer's data erased)."""
    # An ORM-enabled delete also removes a loaded row from the session's identity map.
    await session.execute(delete(FormState).where(FormState.buyer_id == buyer.id))
    buyer.open_form = None


async def load_dialog_state(ctx: Context) -> str | None:
    """The dispatcher's state loader: "card:volume", "card:confirm", "card:stale" or None.

    No query for a buyer without a form (``buyers.open_form`` is NULL: the webhook already
    read that row), one primary-key lookup otherwise; the loaded row is left on
    ``ctx.notes["form_state"]`` so handlers do not read it again. A paused form is no
    dialog (the buyer's text goes to the normal routers); a form untouched for
    ``card.resume_after_days`` is reported as "<form>:stale" so its text is not taken as
    an answer to a question asked days ago.
    """
    ctx.notes["form_state"] = None
    if ctx.buyer.id is None or ctx.buyer.open_form is None:
        return None
    state = await load_form_state(ctx.session, ctx.buyer.id)
    ctx.notes["form_state"] = state
    if state is None or state.status != ACTIVE:
        return None
    if state.is_stale(ctx.now(), ctx.config.card.resume_after_days):
        return f"{state.form}:stale"
    return f"{state.form}:{state.step}"
