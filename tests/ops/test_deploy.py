"""deploy/: the nginx configuration docs/deployment.md installs passes WeChat's verification
through to Laoke, skips a serve process that is down and refuses oversized callbacks; the
systemd units start commands and options that exist."""

from __future__ import annotations

import configparser
import importlib.util
import shlex
import socket
from pathlib import Path

import aiohttp
import pytest

from bot.clock import Clock
from demo.simulator.callback import CallbackSigner
from laoke.app import create_app
from laoke.cli import main

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("nginx_local", ROOT / "bench" / "nginx_local.py")
nginx_local = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nginx_local)

needs_nginx = pytest.mark.skipif(
    nginx_local.nginx_binary() is None, reason="nginx is not installed (apt-get install nginx)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_nginx
def test_the_nginx_configuration_is_valid(tmp_path):
    conf = nginx_local.local_conf(tmp_path, free_port(), free_port(), [free_port(), free_port()])
    assert nginx_local.check(conf) == ""


@needs_nginx
async def test_wechat_verifies_through_nginx_even_with_one_serve_process_down(
    make_config, aiohttp_server, tmp_path
):
    config = make_config()
    server = await aiohttp_server(create_app(config, clock=Clock()))
    http_port, https_port, down = free_port(), free_port(), free_port()
    conf = nginx_local.local_conf(tmp_path / "nginx", http_port, https_port, [down, server.port])
    proc = nginx_local.start(conf)
    try:
        signer = CallbackSigner.from_config(config.wechat, now=lambda: Clock().now().timestamp())
        async with aiohttp.ClientSession() as http:
            for base in [f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}"] * 2:
                params = signer.verification("echo-through-nginx")
                async with http.get(f"{base}/wechat", params=params, ssl=False) as resp:
                    assert (resp.status, await resp.text()) == (200, "echo-through-nginx")
            # A callback far past WeChat's size never reaches Laoke.
            params, _ = signer.text("oBuyer1", "会员")
            big = b"<xml>" + b"x" * 100_000 + b"</xml>"
            async with http.post(
                f"https://127.0.0.1:{https_port}/wechat", params=params, data=big, ssl=False
            ) as resp:
                assert resp.status == 413
    finally:
        nginx_local.stop(proc)


def unit_commands() -> list[tuple[str, list[str]]]:
    found = []
    for unit in sorted((ROOT / "deploy" / "systemd").glob("*.service")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read(unit, encoding="utf-8")
        for key in ("ExecStartPre", "ExecStart"):
            line = parser["Service"].get(key)
            if line and "/bin/laoke " in line:
                args = shlex.split(line.replace("%i", "8080"))
                found.append((unit.name, args[1:]))
    return found


def test_systemd_units_start_laoke_commands_that_exist():
    commands = unit_commands()
    assert {name for name, _ in commands} == {
        "laoke-serve@.service", "laoke-worker@.service", "laoke-backup.service"
    }  # fmt: skip
    for name, args in commands:
        command = main
        while args and hasattr(command, "commands") and args[0] in command.commands:
            command, args = command.commands[args[0]], args[1:]
        assert not hasattr(command, "commands"), f"{name}: no such laoke command"
        parsed = command.make_context(command.name, list(args), resilient_parsing=False)
        assert parsed.params["config_path"] == Path("/etc/laoke/config.toml"), name
