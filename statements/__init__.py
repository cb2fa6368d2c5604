"""Statements (对账单) and rebates (返点): what each buyer took in a period, net of refunds,
and the rebate it earned by the admins' ladder, kept in an append-only ledger.

Periods close on schedule or by command (``close.py``), closed periods never change (late
refunds and orders become adjustment lines of the next one), rates come from the versioned
ladder (``ladder.py``), accruals and payouts from the ledger (``ledger.py``). This package
reads orders (``members/orders.py``) and never writes them; it has no chat or console code.
"""
