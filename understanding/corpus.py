"""The labelled corpus: reading ``understanding/corpus/<label>.txt`` (training) and
``understanding/corpus/test/<label>.txt`` (the held-out test split).

Format (``understanding/corpus/README.md``): UTF-8, one buyer message per line, a line
starting with ``#`` is a comment, blank lines are ignored; the file name is the label. The
loader refuses what would make a figure lie — an unknown label, a message in two labels, a
message in both splits — naming the file and line. It neither trains nor scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from understanding.labels import LABELS
from understanding.normalize import normalize

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"


class CorpusError(ValueError):
    """The corpus cannot be used as it is; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    where: str  # file:line, for messages about it


def read_split(directory: Path) -> list[Example]:
    """Every example of one split (the ``*.txt`` files directly in `directory`)."""
    examples: list[Example] = []
    seen: dict[str, Example] = {}
    for path in sorted(directory.glob("*.txt")):
        label = path.stem
        if label not in LABELS:
            raise CorpusError(f"{path.name}: unknown label {label!r} (known: {', '.join(LABELS)})")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            example = Example(text, label, f"{path.name}:{number}")
            key = normalize(text)
            if key in seen and seen[key].label != label:
                raise CorpusError(
                    f"{example.where}: {text!r} is also labelled {seen[key].label} "
                    f"({seen[key].where})"
                )
            if key not in seen:
                seen[key] = example
                examples.append(example)
    return examples


def load(directory: Path = CORPUS_DIR) -> tuple[list[Example], list[Example]]:
    """The training and test splits. A message in both is refused; a test message that only
    normalises to a training one (退订！ and 退订) is left out of the test split, since the
    model has seen it."""
    train = read_split(directory)
    test = read_split(directory / "test")
    exact = {e.text: e for e in train}
    trained = {normalize(e.text) for e in train}
    for example in test:
        other = exact.get(example.text)
        if other is not None:
            raise CorpusError(
                f"test/{example.where}: {example.text!r} is also in the training split "
                f"({other.where})"
            )
    return train, [e for e in test if normalize(e.text) not in trained]
