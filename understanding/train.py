"""Training: fit the intent model on the corpus's training split with scikit-learn and export
it for the pure-numpy runtime (``understanding/model.py``).

The model: TF-IDF over ``understanding/features.py``'s features (sublinear term frequency,
L2 norm) and a multinomial logistic regression, whose probabilities are usable as
confidences as they are. The thresholds are chosen on 5-fold cross-validated predictions of
the training split (the test split is never looked at):

- ``act``: the confidence below which a message goes to staff, chosen for the most messages
  reaching the right outcome (a needs-a-person message handed to staff counts as right);
- ``strict`` per destructive label (opt_out, delete_card): the lowest confidence at which
  the cross-validated guesses of that label are at least 99.5% right, never below ``act``,
  plus a margin of 0.15 for phrasings unlike the training ones
  (guesses the guards of ``decision.plausible`` stop are not acted on, so not counted);
- ``ask``: an opt-out guess above it but below its strict threshold gets "are you sure?".

scikit-learn is imported here only, by ``laoke intents train``: the server never loads it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from understanding.corpus import Example
from understanding.decision import plausible
from understanding.features import features
from understanding.labels import DESTRUCTIVE, STAFF, outcome
from understanding.model import IntentModel, Thresholds
from understanding.normalize import normalize

C = 100.0  # little regularisation: the features are sparse and the phrasings short
STRICT_PRECISION = 0.995
# Added to the strict thresholds: cross-validation sees phrasings like the training ones;
# buyers write others, on which the model is less sure than it should be.
STRICT_MARGIN = 0.15
GRID = [round(x, 2) for x in np.arange(0.15, 0.96, 0.01)]


def _pipeline() -> tuple[TfidfVectorizer, LogisticRegression]:
    vectorizer = TfidfVectorizer(
        analyzer=features, sublinear_tf=True, dtype=np.float32, lowercase=False
    )
    classifier = LogisticRegression(
        C=C, solver="saga", max_iter=2000, tol=1e-3, class_weight="balanced"
    )
    return vectorizer, classifier


def choose_thresholds(
    labels: Sequence[str], texts: Sequence[str], truth: Sequence[str], probs: np.ndarray
) -> Thresholds:
    """Thresholds from cross-validated probabilities (see the module docstring)."""
    names = np.array(labels)
    stopped = {
        label: np.array([not plausible(label, normalize(t)) for t in texts])
        for label in DESTRUCTIVE
    }
    best = probs.argmax(axis=1)
    guessed = names[best]
    confidence = probs[np.arange(len(best)), best]
    truth_arr = np.array(truth)
    true_outcome = np.array([outcome(t) for t in truth])
    guessed_outcome = np.array([outcome(g) for g in guessed])

    def accuracy(t: float) -> float:
        out = np.where(confidence >= t, guessed_outcome, STAFF)
        return float((out == true_outcome).mean())

    act = max(GRID, key=lambda t: (accuracy(t), -t))
    strict: dict[str, float] = {}
    for label in DESTRUCTIVE:
        strict[label] = GRID[-1]
        for t in GRID:
            if t < act:
                continue
            chosen = (guessed == label) & (confidence >= t) & ~stopped[label]
            if chosen.sum() and (truth_arr[chosen] == label).mean() >= STRICT_PRECISION:
                strict[label] = min(round(t + STRICT_MARGIN, 2), GRID[-1])
                break
    return Thresholds(act=act, strict=strict, ask=act)


def fit(examples: Sequence[Example]) -> tuple[TfidfVectorizer, LogisticRegression]:
    """The vectoriser and classifier fitted on `examples`."""
    vectorizer, classifier = _pipeline()
    classifier.fit(
        vectorizer.fit_transform([e.text for e in examples]), [e.label for e in examples]
    )
    return vectorizer, classifier


def export(
    vectorizer: TfidfVectorizer, classifier: LogisticRegression, thresholds: Thresholds
) -> IntentModel:
    """The fitted pipeline as the runtime scores it."""
    return IntentModel(
        labels=[str(label) for label in classifier.classes_],
        vocabulary=[str(v) for v in vectorizer.get_feature_names_out()],
        idf=vectorizer.idf_,
        weights=classifier.coef_.T,
        bias=classifier.intercept_,
        thresholds=thresholds,
    )


def train(examples: Sequence[Example], folds: int = 5) -> IntentModel:
    """Fit on `examples`, choose the thresholds on cross-validation, return the model."""
    texts = [e.text for e in examples]
    truth = [e.label for e in examples]
    vectorizer, classifier = fit(examples)
    matrix = vectorizer.transform(texts)
    smallest = min(truth.count(label) for label in set(truth))
    splitter = StratifiedKFold(n_splits=max(2, min(folds, smallest)), shuffle=True, random_state=0)
    _, fresh = _pipeline()
    probs = cross_val_predict(fresh, matrix, truth, cv=splitter, method="predict_proba")
    labels = [str(label) for label in classifier.classes_]
    return export(vectorizer, classifier, choose_thresholds(labels, texts, truth, probs))
