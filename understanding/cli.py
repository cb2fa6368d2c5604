"""``laoke intents train`` and ``laoke intents eval``: the intent model from a terminal.

``train`` fits the model on the corpus's training split and writes the weights file the bot
loads (``understanding/data/model.npz``, committed with the corpus it was trained on);
``eval`` scores a weights file on the test split and prints per-outcome precision and recall,
the overall figures and the top confusions, exiting 1 when opt-out precision or accuracy is
below its floor (``understanding/evaluate.py``). ``laoke/cli.py`` registers the group.
scikit-learn is imported by ``train`` only.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from understanding.corpus import CORPUS_DIR, CorpusError, load
from understanding.decision import decide
from understanding.evaluate import ACCURACY_FLOOR, OPT_OUT_PRECISION_FLOOR, evaluate, format_report
from understanding.model import MODEL_FILE, IntentModel

_corpus = click.option(
    "--corpus", "corpus_dir", type=click.Path(path_type=Path, file_okay=False),
    default=CORPUS_DIR, show_default=True, help="Directory of <label>.txt and test/<label>.txt.",
)  # fmt: skip
_model = click.option(
    "--model", "model_file", type=click.Path(path_type=Path, dir_okay=False),
    default=MODEL_FILE, show_default=True, help="The weights file.",
)  # fmt: skip


def _load(corpus_dir: Path):
    try:
        return load(corpus_dir)
    except (CorpusError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def intents() -> None:
    """The intent model: train it on the corpus, evaluate it on the test split."""


@intents.command()
@_corpus
@_model
def train(corpus_dir: Path, model_file: Path) -> None:
    """Fit the model on the training split and write the weights file."""
    from understanding.train import train as fit  # scikit-learn: only here

    examples, _ = _load(corpus_dir)
    started = time.monotonic()
    model = fit(examples)
    model.save(model_file)
    limits = model.thresholds
    click.echo(
        f"trained on {len(examples)} messages, {len(model.labels)} labels, "
        f"{len(model.index)} features in {time.monotonic() - started:.1f}s -> {model_file} "
        f"({model_file.stat().st_size // 1024} KB)\nthresholds: act {limits.act:.2f}, "
        f"ask {limits.ask:.2f}, strict "
        + ", ".join(f"{k} {v:.2f}" for k, v in limits.strict.items())
    )


@intents.command("eval")
@_corpus
@_model
def eval_(corpus_dir: Path, model_file: Path) -> None:
    """Score the model on the test split; exit 1 below the floors."""
    _, test = _load(corpus_dir)
    if not test:
        raise click.ClickException(f"no test split in {corpus_dir / 'test'}")
    model = IntentModel.load(model_file)
    report = evaluate(lambda text: decide(model, text).action, test)
    click.echo(format_report(report))
    if report.opt_out_precision < OPT_OUT_PRECISION_FLOOR or report.accuracy < ACCURACY_FLOOR:
        raise click.ClickException(
            f"below the floor: opt-out precision must be at least "
            f"{OPT_OUT_PRECISION_FLOOR:.0%}, accuracy at least {ACCURACY_FLOOR:.0%}"
        )
