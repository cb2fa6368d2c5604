"""Starting ``laoke`` commands as real processes, for the tests that kill them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def start_laoke(*args: str, log: Path) -> asyncio.subprocess.Process:
    """``python -m laoke.cli ARGS`` from the repository, its log (stderr) appended to `log`."""
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "laoke.cli",
            *args,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
