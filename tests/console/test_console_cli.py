"""``laoke user …``: accounts from a terminal, passwords prompted or generated once, audited."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.database import create_engine, sessionmaker
from console.accounts import password_matches
from console.models import AuditEntry, User
from laoke.cli import main


@pytest.fixture
def config_file(tmp_path, sqlite_url):
    path = tmp_path / "config.toml"
    path.write_text(
        f'[wechat]\nappid = "wx1"\nsecret = "s"\ntoken = "t"\n[database]\nurl = "{sqlite_url}"\n',
        encoding="utf-8",
    )
    return str(path)


def _rows(url, model):
    async def read():
        engine = create_engine(url)
        try:
            async with sessionmaker(engine)() as session:
                return list(await session.scalars(select(model).order_by(model.id)))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_add_with_generate_prints_the_password_once_and_it_signs_in(config_file, sqlite_url):
    result = CliRunner().invoke(
        main, ["user", "add", "boss", "--role", "admin", "--generate", "-c", config_file]
    )
    assert result.exit_code == 0, result.output
    password = result.output.split("password (shown once): ")[1].strip()
    [user] = _rows(sqlite_url, User)
    assert user.role == "admin" and password_matches(user.password_hash, password)
    [entry] = _rows(sqlite_url, AuditEntry)
    assert entry.action == "user.create" and entry.actor_name.startswith("命令行:")


def test_add_prompts_twice_and_list_passwd_disable(config_file, sqlite_url):
    runner = CliRunner()
    result = runner.invoke(
        main, ["user", "add", "amy", "--role", "viewer", "-c", config_file],
        input="river-lamp-71\nriver-lamp-71\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "river-lamp-71" not in result.output
    result = runner.invoke(main, ["user", "list", "-c", config_file])
    assert "amy" in result.output and "viewer" in result.output and "never" in result.output
    result = runner.invoke(
        main, ["user", "passwd", "amy", "-c", config_file], input="cedar-moon-52\ncedar-moon-52\n"
    )
    assert result.exit_code == 0, result.output
    assert password_matches(_rows(sqlite_url, User)[0].password_hash, "cedar-moon-52")
    assert runner.invoke(main, ["user", "disable", "amy", "-c", config_file]).exit_code == 0
    assert _rows(sqlite_url, User)[0].disabled
    actions = [e.action for e in _rows(sqlite_url, AuditEntry)]
    assert actions == ["user.create", "user.password", "user.disable"]


def test_errors_are_one_line_and_exit_1(config_file):
    runner = CliRunner()
    result = runner.invoke(main, ["user", "disable", "ghost", "-c", config_file])
    assert result.exit_code == 1
    assert "no account named 'ghost'" in result.output
    result = runner.invoke(
        main, ["user", "add", "x", "--role", "admin", "-c", config_file], input="short\nshort\n"
    )
    assert result.exit_code == 1 and "至少 8 位" in result.output


def test_add_and_passwd_refuse_common_and_guessable_passwords(config_file, sqlite_url):
    runner = CliRunner()
    for weak, reason in (("12345678", "密码太常见"), ("password1", "密码太常见"),
                         ("amy1-amy1", "不能包含用户名")):  # fmt: skip
        result = runner.invoke(
            main, ["user", "add", "amy", "--role", "viewer", "-c", config_file],
            input=f"{weak}\n{weak}\n",
        )  # fmt: skip
        assert result.exit_code != 0 and reason in result.output, result.output
    assert _rows(sqlite_url, User) == []
    runner.invoke(main, ["user", "add", "amy", "--role", "viewer", "--generate", "-c", config_file])
    result = runner.invoke(
        main, ["user", "passwd", "amy", "-c", config_file], input="amy12345\namy12345\n"
    )
    assert result.exit_code != 0 and "不能包含用户名" in result.output
