"""Regenerate ``understanding/data/pinyin.json``: the toneless pinyin of the 3,755 common characters
(GB2312 level 1), grouped by syllable, for the pinyin features of ``understanding/features.py``.

    .venv/bin/pip install pypinyin && .venv/bin/python scripts/pinyin_table.py

pypinyin is needed only here: loaded at run time its dictionaries cost ~60 MB per process,
the table it produces ~0.3 MB. Characters with several readings keep their most common one.
"""

from __future__ import annotations

import json
from pathlib import Path

from pypinyin import Style, pinyin

OUT = Path(__file__).resolve().parent.parent / "understanding" / "data" / "pinyin.json"


def level_one_characters() -> list[str]:
    chars = []
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def main() -> None:
    table: dict[str, str] = {}
    for ch in level_one_characters():
        syllable = pinyin(ch, style=Style.NORMAL, heteronym=False)[0][0]
        if syllable.isascii() and syllable.isalpha():
            table[syllable] = table.get(syllable, "") + ch
    OUT.write_text(
        json.dumps(dict(sorted(table.items())), ensure_ascii=False, indent=0) + "\n",
        encoding="utf-8",
    )
    print(f"{sum(map(len, table.values()))} characters, {len(table)} syllables -> {OUT}")


if __name__ == "__main__":
    main()
