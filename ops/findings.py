"""What one ``laoke doctor`` check found: a status, what it saw and what to do about it.

Only FAIL makes the doctor exit non-zero; WARN names something that works today but will
hurt (a port WeChat will not call, a clock drifting), SKIP a check that needed another one.
"""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """One line for the terminal: ``[FAIL] clock  90 s ahead … → synchronise the clock``."""
        text = f"[{self.status:<4}] {self.check:<14} {self.detail}"
        return f"{text} → {self.fix}" if self.fix else text
