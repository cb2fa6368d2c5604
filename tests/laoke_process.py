"""Starting ``laoke`` commands as real processes, for the tests that kill them or run two."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
# ``laoke`` as a child process, on the same pinned wall clock as the test (tests/wall_clock.py):
# a callback signed in the test must fall inside the child's replay window.
LAOKE = (
    sys.executable,
    "-c",
    "import sys; from tests import wall_clock; wall_clock.install(); "
    "from laoke.cli import main; sys.exit(main())",
)


async def start_laoke(*args: str, log: Path) -> asyncio.subprocess.Process:
    """``laoke ARGS`` from the repository, its log (stderr) appended to `log`."""
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            *LAOKE,
            *args,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )


async def run_laoke(*args: str) -> tuple[int, str, str]:
    """``laoke ARGS`` to its end: the exit code, standard output and standard error."""
    proc = await asyncio.create_subprocess_exec(
        *LAOKE, *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_serve_config(
    path: Path, port: int, db_url: str, *, appid: str, token: str, spool_dir: Path, **server: object
) -> Path:
    """A ``laoke serve`` configuration on `port` with no scheduler or senders, WeChat's API
    unreachable, and extra ``[server]`` keys from `server`."""
    extra = "".join(f"{key} = {value}\n" for key, value in server.items())
    path.write_text(
        f"""[server]
port = {port}
spool_dir = "{spool_dir}"
{extra}run_scheduler = false
run_senders = false
[wechat]
appid = "{appid}"
secret = "s"
token = "{token}"
api_base_url = "http://127.0.0.1:9/"
[database]
url = "{db_url}"
""",
        encoding="utf-8",
    )
    return path


async def start_serve(config: Path, log: Path, url: str) -> asyncio.subprocess.Process:
    """``laoke serve -c CONFIG``, returned once `url`/healthz answers (at most 30 s)."""
    proc = await start_laoke("serve", "-c", str(config), log=log)
    async with aiohttp.ClientSession() as http:
        for _ in range(1500):
            try:
                async with http.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
    proc.kill()
    output = await asyncio.to_thread(log.read_text)
    raise AssertionError(f"laoke serve did not start: {output[-2000:]}")
