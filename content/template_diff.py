"""Two versions of a template side by side: rows of (old line, new line), with the changed
characters of a changed line marked, for the console's 版本历史 compare view.

Lines are paired with difflib's SequenceMatcher; within a replaced pair the characters are
compared too (Chinese has no spaces to split words on, so characters are the unit). This
module returns data, not HTML: the page decides how rows look and wrap.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

SAME, CHANGED, ADDED, REMOVED = "same", "changed", "added", "removed"


@dataclass(frozen=True)
class Side:
    """One side of a row: its line number (None: no line here) and (text, marked) runs."""

    number: int | None
    runs: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class DiffRow:
    kind: str  # SAME, CHANGED, ADDED or REMOVED
    old: Side
    new: Side


def diff_rows(old: str, new: str) -> list[DiffRow]:
    """The rows comparing `old` with `new`, in order (every line of both appears once)."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [
                DiffRow(SAME, Side(i + 1, ((a[i], False),)), Side(j + 1, ((b[j], False),)))
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(pairs):
            left, right = _marked(a[i1 + k], b[j1 + k])
            rows.append(DiffRow(CHANGED, Side(i1 + k + 1, left), Side(j1 + k + 1, right)))
        rows += [DiffRow(REMOVED, Side(i + 1, ((a[i], True),)), Side(None))
                 for i in range(i1 + pairs, i2)]  # fmt: skip
        rows += [DiffRow(ADDED, Side(None), Side(j + 1, ((b[j], True),)))
                 for j in range(j1 + pairs, j2)]  # fmt: skip
    return rows


def _marked(a: str, b: str) -> tuple[tuple[tuple[str, bool], ...], tuple[tuple[str, bool], ...]]:
    """Both lines as runs, the characters that differ marked."""
    left: list[tuple[str, bool]] = []
    right: list[tuple[str, bool]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        changed = tag != "equal"
        if i2 > i1:
            left.append((a[i1:i2], changed))
        if j2 > j1:
            right.append((b[j1:j2], changed))
    return tuple(left), tuple(right)
