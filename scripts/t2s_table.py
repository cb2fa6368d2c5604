"""Regenerate ``understanding/data/t2s.json``: traditional characters and their simplified
form, for ``understanding/normalize.py`` (buyers in Hong Kong and Taiwan write 訂閱, 謝謝).

    .venv/bin/pip install opencc && .venv/bin/python scripts/t2s_table.py

OpenCC is needed only here: the table it produces (one character for one, ~3,500 entries,
~20 KB) is all the bot needs, since its features are characters, not words.
"""

from __future__ import annotations

import json
from pathlib import Path

import opencc

OUT = Path(__file__).resolve().parent.parent / "understanding" / "data" / "t2s.json"


def main() -> None:
    convert = opencc.OpenCC("t2s").convert
    table: dict[str, str] = {}
    for code in range(0x4E00, 0xA000):
        ch = chr(code)
        simplified = convert(ch)
        if simplified != ch and len(simplified) == 1:
            table[ch] = simplified
    OUT.write_text(json.dumps(table, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
