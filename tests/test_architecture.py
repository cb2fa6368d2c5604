"""The layers of the house hold: the import-linter contracts in pyproject.toml are kept.

``laoke`` (the composition root) wires everything and nobody imports it; ``demo``,
``handlers`` (and the reserved ``console``, ``insights``) sit beside each other and import
none of each other; ``scheduler`` may import ``members``, never the reverse; ``bot`` imports
no feature; and no package has an import cycle among its modules.
"""

from __future__ import annotations

import ast
import os
import tomllib
from pathlib import Path

import pytest
from importlinter.application import use_cases
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def _lint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.chdir(ROOT)
    return lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)


def test_import_contracts_are_kept(tmp_path, monkeypatch, capsys):
    code = _lint(tmp_path, monkeypatch)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 broken" in out


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("bot.inbound.handling", "members.tiers"),  # the framework reaching for a feature
        ("members.orders", "scheduler.campaigns"),  # a feature importing upward
        ("scheduler.loop", "handlers.card"),  # only the composition root imports handlers
        ("scheduler.messages", "scheduler.campaigns"),  # the cycle scheduler/errors.py broke
    ],
)
def test_an_import_against_the_map_breaks_the_contracts(
    importer, imported, tmp_path, monkeypatch, capsys
):
    """The contracts bite: one import against the map is reported, not waved through."""
    real_build_graph = use_cases._build_graph

    def with_extra_import(*args, **kwargs):
        graph = real_build_graph(*args, **kwargs)
        graph.add_import(importer=importer, imported=imported)
        return graph

    monkeypatch.setattr(use_cases, "_build_graph", with_extra_import)
    assert _lint(tmp_path, monkeypatch) != 0
    assert "BROKEN" in capsys.readouterr().out


def test_every_module_starts_with_a_docstring():
    import ast

    missing = []
    for package in ("bot", "demo", "handlers", "laoke", "members", "scheduler"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            if ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) is None:
                missing.append(os.fspath(path.relative_to(ROOT)))
    assert missing == []


# Where reading the wall clock directly is right, and why; everything else asks a Clock, so a
# test can pin the time (tests/wall_clock.py) and a night or a weekend is never a surprise.
WALL_CLOCK_ALLOWED = {
    "bot/clock.py": "the one real clock",
    "scheduler/loop.py": "APScheduler's own timer starts now, in its own zone",
    "members/order_uploads.py": "uploads expire by their files' times, which the system sets",
    "tests/wall_clock.py": "pins the real clock for the test session",
    "tests/members/test_import_jobs.py": "ages an upload file as the system would",
}
WALL_CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("time", "time"),
}


def _wall_clock_reads(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and (node.value.id, node.attr) in WALL_CLOCK_CALLS
    ]


def test_only_the_clock_reads_the_wall_clock():
    """Product code and tests take "now" from a Clock; a direct read (or a reference to the
    function, passed as a default) would escape the pinning."""
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "root_packages"
    ]
    offenders = []
    for top in [*packages, "tests"]:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in WALL_CLOCK_ALLOWED:
                continue
            offenders += [f"{relative}:{line}" for line in _wall_clock_reads(path)]
    assert offenders == [], "read the time from bot.clock.Clock instead: " + ", ".join(offenders)


def test_the_wall_clock_check_sees_a_direct_read(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import time\nfrom datetime import datetime\nx = datetime.now()\ny = time.time()\n"
    )
    assert _wall_clock_reads(sample) == [3, 4]
