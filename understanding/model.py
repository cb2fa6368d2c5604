"""The trained intent model at run time: pure numpy over the weights file, no scikit-learn.

``laoke intents train`` (``understanding/train.py``) fits a TF-IDF + logistic regression
over ``understanding/features.py``'s features with scikit-learn and exports what scoring
needs into ``understanding/data/model.npz``: the feature vocabulary, the IDF weights, the
coefficients (float16) and intercepts, the labels, and the confidence thresholds chosen on
cross-validation. Scoring a message repeats the vectoriser's arithmetic (sublinear term
frequency × IDF, L2-normalised) over the message's known features, one row of the
coefficients per feature, then a softmax: well under a millisecond and a few megabytes,
where importing scikit-learn in the server would cost tens of megabytes per process.

This module says how sure the model is of each label; what to do at which confidence is
``Thresholds``' data and the handlers' decision (``handlers/intents.py``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from understanding.features import features

MODEL_FILE = Path(__file__).resolve().parent / "data" / "model.npz"


@dataclass(frozen=True)
class Thresholds:
    """Confidences chosen at training time on cross-validated predictions."""

    act: float  # below this the message goes to staff, as when nothing matched
    strict: dict[str, float]  # opt_out, delete_card: acted on only at this confidence
    ask: float  # an opt-out guess between this and strict gets "are you sure?"


@dataclass(frozen=True)
class Guess:
    label: str
    confidence: float
    ranked: tuple[tuple[str, float], ...]  # the best three labels with their confidence
    known: float  # the share of the message's distinct features the model has weights for


class IntentModel:
    """Scores messages with exported weights."""

    def __init__(
        self,
        labels: list[str],
        vocabulary: list[str],
        idf: np.ndarray,
        weights: np.ndarray,  # (features, labels)
        bias: np.ndarray,
        thresholds: Thresholds,
    ) -> None:
        self.labels = labels
        self.index = {feature: i for i, feature in enumerate(vocabulary)}
        self.idf = idf.astype(np.float32)
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.thresholds = thresholds
        self.guess = lru_cache(maxsize=4096)(self._guess)

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> IntentModel:
        """The model exported to `path` (``laoke intents train``)."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return cls(
                labels=list(meta["labels"]),
                vocabulary=[str(v) for v in data["vocabulary"]],
                idf=data["idf"],
                weights=data["weights"],
                bias=data["bias"],
                thresholds=Thresholds(**meta["thresholds"]),
            )

    def save(self, path: Path) -> None:
        """Write the model in the form ``load`` reads (weights as float16)."""
        vocabulary = sorted(self.index, key=self.index.__getitem__)
        meta = {"labels": self.labels, "thresholds": self.thresholds.__dict__}
        np.savez_compressed(
            path,
            meta=np.array(json.dumps(meta, ensure_ascii=False)),
            vocabulary=np.array(vocabulary),
            idf=self.idf.astype(np.float16),
            weights=self.weights.astype(np.float16),
            bias=self.bias,
        )

    def scores(self, text: str) -> np.ndarray:
        """The probability of each label (in ``labels`` order) for `text`."""
        return self._scores(Counter(f for f in features(text) if f in self.index))

    def _scores(self, counts: Counter[str]) -> np.ndarray:
        logits = self.bias.copy()
        if counts:
            rows = np.fromiter((self.index[f] for f in counts), dtype=np.int64, count=len(counts))
            tf = np.fromiter(
                (1.0 + math.log(c) for c in counts.values()), dtype=np.float32, count=len(counts)
            )
            values = tf * self.idf[rows]
            values /= np.linalg.norm(values)
            logits += values @ self.weights[rows]
        logits -= logits.max()
        exp = np.exp(logits)
        return exp / exp.sum()

    def _guess(self, text: str) -> Guess:
        found = features(text)
        counts = Counter(f for f in found if f in self.index)
        probs = self._scores(counts)
        order = np.argsort(-probs)[:3]
        ranked = tuple((self.labels[i], float(probs[i])) for i in order)
        return Guess(ranked[0][0], ranked[0][1], ranked, len(counts) / max(len(set(found)), 1))


@lru_cache(maxsize=1)
def shipped_model() -> IntentModel:
    """The model in the repository (``understanding/data/model.npz``), loaded once."""
    return IntentModel.load()
