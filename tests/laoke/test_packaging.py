"""`pip install .` (not editable) gives a working `laoke demo`: the wheel carries everything.

The wheel is built from a copy of the sources, unpacked, and the demo is started from the
unpacked files alone (the current interpreter's dependencies, the repository out of
reach): the chat page and a buyer-facing reply need ``templates/``, the card needs the
regions list, the database needs the migrations.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Every top-level package the project declares (``bot*`` → ``bot``), so a new one is built too.
SOURCES = [
    pattern.rstrip("*")
    for pattern in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
]


def _build_wheel(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = out.glob("laoke-*.whl")
    return wheel


def test_the_wheel_serves_the_demo_from_its_own_files(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "templates/messages/card_show.j2" in names
    assert "templates/pages/chat.html" in names
    assert "members/data/regions.json" in names
    assert {"understanding/data/model.npz", "understanding/data/pinyin.json"} <= names
    assert "bot/migrations/env.py" in names
    assert any(n.startswith("bot/migrations/versions/0001") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "laoke = laoke.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        import aiohttp
        import bot
        assert Path(bot.__file__).is_relative_to(Path(sys.argv[1])), bot.__file__
        from laoke.demo import start_demo

        async def main():
            demo = await start_demo(Path(sys.argv[2]), "127.0.0.1", 0)
            try:
                async with aiohttp.ClientSession() as http:
                    async with http.get(demo.urls["chat simulator"]) as resp:
                        assert resp.status == 200, resp.status
                        assert "<html" in (await resp.text()).lower()
                    async with http.get(demo.urls["healthz"]) as resp:
                        assert resp.status == 200, resp.status
            finally:
                await demo.stop()
            print("demo ok")

        asyncio.run(main())
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-c", script, str(site), str(tmp_path / "demo-data")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "demo ok" in done.stdout
