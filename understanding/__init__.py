"""Understanding what buyers write: the labelled corpus, the features, the intent model
(trained with scikit-learn, scored with numpy), the decision to act, ask or hand to staff,
and the evaluation on the held-out test split.

Below ``handlers/`` in the layers: the handlers ask it (``handlers/intents.py``), it never
imports them, and it knows nothing of WeChat, the database or replies.
"""
