"""Configuration: errors name the key, secrets come from the environment, the example is complete."""

from __future__ import annotations

import tomllib
import typing
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from bot.config import Config, ConfigError, load_config, parse_config
from laoke.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"
MINIMAL = {"wechat": {"appid": "wx1", "secret": "s", "token": "t"}}


def with_(section: str, **values) -> dict:
    data = {k: dict(v) for k, v in MINIMAL.items()}
    data.setdefault(section, {}).update(values)
    return data


def test_minimal_configuration_gets_the_documented_defaults():
    config = parse_config(MINIMAL, env={})
    assert config.server.webhook_path == "/wechat"
    assert config.server.reply_budget_s == 4.0
    assert config.server.max_body_bytes == 65536
    assert config.wechat.encrypt_mode == "plain"
    assert config.wechat.replay_window_s == 300
    assert config.database.url.startswith("sqlite+aiosqlite:///")


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"server\.prot: unknown key"):
        parse_config(with_("server", prot=80), env={})


def test_unknown_section_is_named():
    with pytest.raises(ConfigError, match=r"webhook: unknown key"):
        parse_config({**MINIMAL, "webhook": {}}, env={})


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"server\.port"):
        parse_config(with_("server", port="8080"), env={})


@pytest.mark.parametrize("key", ["appid", "secret", "token"])
def test_missing_secret_is_named(key):
    data = {"wechat": {k: v for k, v in MINIMAL["wechat"].items() if k != key}}
    with pytest.raises(ConfigError, match=rf"wechat\.{key}: missing"):
        parse_config(data, env={})


def test_secrets_come_from_the_environment_and_win_over_the_file():
    config = parse_config(
        {"wechat": {"appid": "wx1", "token": "from-file"}},
        env={"LAOKE_WECHAT_SECRET": "from-env", "LAOKE_WECHAT_TOKEN": "env-token"},
    )
    assert (config.wechat.secret, config.wechat.token) == ("from-env", "env-token")


def test_encrypted_mode_needs_the_43_character_key():
    with pytest.raises(ConfigError, match="encoding_aes_key"):
        parse_config(with_("wechat", encrypt_mode="safe", encoding_aes_key="short"), env={})


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("abcdefghijklmnopqrstuvwxyz0123456789ABCD-FG", "found '-'"),
        ("abcdefghijklmnopqrstuvwxyz0123456789ABCD FG", "found ' '"),
        ("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", "this one has 42 characters"),
        ("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG=", "this one has 44 characters"),
    ],
)
@pytest.mark.parametrize("mode", ["plain", "compat", "safe"])
def test_an_aes_key_that_cannot_decode_is_refused_in_one_line_naming_it(key, says, mode):
    with pytest.raises(ConfigError) as refused:
        parse_config(with_("wechat", encrypt_mode=mode, encoding_aes_key=key), env={})
    message = str(refused.value)
    assert message.startswith("invalid configuration: wechat.encoding_aes_key: ")
    assert says in message and "\n" not in message


def test_a_43_character_base64_key_is_accepted():
    key = "abcdefghijklmnopqrstuvwxyz0123456789+/CDEFG"
    config = parse_config(with_("wechat", encrypt_mode="safe", encoding_aes_key=key), env={})
    assert config.wechat.encoding_aes_key == key


@pytest.mark.parametrize("key", ["appid", "secret", "token"])
def test_an_empty_credential_is_refused_naming_it(key):
    with pytest.raises(ConfigError, match=rf"^invalid configuration: wechat\.{key}: must not be"):
        parse_config(with_("wechat", **{key: ""}), env={})


def test_serve_refuses_the_unedited_example_in_one_line_naming_the_key(tmp_path, sqlite_url):
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'url = "sqlite+aiosqlite:///data/laoke.db"', f'url = "{sqlite_url}"'
    )
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    for command in (["serve"], ["worker"]):
        result = CliRunner().invoke(main, [*command, "-c", str(path)], env={})
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == [
            "laoke: invalid configuration: wechat.appid: still the placeholder of "
            "config.example.toml; set the value from the Official Account platform"
        ]
    # Edited credentials but the example's AES key: that key is named.
    edited = text.replace("wx0000000000000000", "wx1234").replace("your-app-secret", "s1")
    path.write_text(edited.replace("your-callback-token", "t1"), encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", "-c", str(path)], env={})
    assert result.exit_code == 2
    assert "wechat.encoding_aes_key: still the placeholder" in result.output


def test_unknown_encrypt_mode_is_refused():
    with pytest.raises(ConfigError, match=r"wechat\.encrypt_mode"):
        parse_config(with_("wechat", encrypt_mode="aes"), env={})


def test_reply_budget_must_stay_under_wechats_five_seconds():
    with pytest.raises(ConfigError, match=r"server\.reply_budget_s"):
        parse_config(with_("server", reply_budget_s=5), env={})


def test_webhook_path_must_start_with_a_slash():
    with pytest.raises(ConfigError, match=r"server\.webhook_path"):
        parse_config(with_("server", webhook_path="wechat"), env={})


def test_unsupported_database_driver_is_refused():
    with pytest.raises(ConfigError, match=r"database\.url"):
        parse_config(with_("database", url="mysql://x"), env={})


def test_missing_file_and_bad_toml_say_so(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_cli_stops_on_a_bad_config_naming_the_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[wechat]\nappid = "wx1"\nsecret = "s"\ntoken = "t"\n[server]\nport = "x"\n')
    result = CliRunner().invoke(main, ["serve", "-c", str(path)], env={})
    assert result.exit_code == 2
    assert "server.port" in result.output


def test_serve_refuses_an_out_of_date_schema_and_names_the_fix(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[wechat]\nappid = "wx1"\nsecret = "s"\ntoken = "t"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/empty.db"\n'
    )
    result = CliRunner().invoke(main, ["serve", "-c", str(path)], env={})
    assert result.exit_code == 3
    assert "laoke db upgrade" in result.output


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on leaving: nothing listens there


@pytest.mark.parametrize(
    "command",
    [["serve"], ["worker"], ["db", "upgrade"], ["db", "current"], ["campaign", "list"]],
)
def test_a_database_that_cannot_be_opened_is_one_clear_line_not_a_traceback(tmp_path, command):
    path = tmp_path / "c.toml"
    url = f"postgresql+asyncpg://laoke:hunter2@127.0.0.1:{_closed_port()}/laoke"
    path.write_text(
        f'[wechat]\nappid = "wx1"\nsecret = "s"\ntoken = "t"\n[database]\nurl = "{url}"\n'
    )
    result = CliRunner().invoke(main, [*command, "-c", str(path)], env={})
    assert result.exit_code == 4, result.output
    assert "laoke: cannot open the database postgresql+asyncpg://laoke:***@127.0.0.1" in (
        result.output
    )
    assert "hunter2" not in result.output and "Traceback" not in result.output


def test_a_sqlite_folder_that_cannot_be_created_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    path = tmp_path / "c.toml"
    path.write_text(
        '[wechat]\nappid = "wx1"\nsecret = "s"\ntoken = "t"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{blocker}/data/laoke.db"\n'
    )
    result = CliRunner().invoke(main, ["db", "upgrade", "-c", str(path)], env={})
    assert result.exit_code == 4
    assert f"laoke: cannot create {blocker}/data for the SQLite database" in result.output


@pytest.mark.parametrize("command", ["serve", "demo", "fake-wechat"])
def test_a_port_in_use_is_one_clear_line_naming_it(tmp_path, sqlite_url, command):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        if command == "serve":
            path = tmp_path / "c.toml"
            path.write_text(
                f'[server]\nport = {port}\nspool_dir = "{tmp_path / "spool"}"\n'
                '[wechat]\nappid = "wx1"\nsecret = "s"\ntoken = "t"\n'
                f'[database]\nurl = "{sqlite_url}"\n'
            )
            args = ["serve", "-c", str(path)]
        elif command == "demo":
            args = ["demo", "--data", str(tmp_path / "demo"), "--port", str(port)]
        else:
            args = ["fake-wechat", "--port", str(port)]
        result = CliRunner().invoke(main, args, env={})
    assert result.exit_code == 5, result.output
    assert f"laoke: cannot listen on 127.0.0.1:{port}: Address already in use" in result.output


# --- config.example.toml -------------------------------------------------------------------


def test_example_configuration_is_valid():
    config = load_config(EXAMPLE, env={})
    assert config.wechat.encrypt_mode == "safe"


def _model_of(annotation) -> type[BaseModel] | None:
    """The Section model behind a field's annotation (also inside list[...] / X | None)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _missing_keys(model: type[BaseModel], data: dict, prefix: str) -> list[str]:
    missing = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        if name not in data:
            missing.append(key)
            continue
        nested = _model_of(field.annotation)
        value = data[name]
        if nested is None:
            continue
        if isinstance(value, list):  # e.g. [[tiers.levels]]: the example entry shows every key
            value = value[0] if value else {}
        missing += _missing_keys(nested, value, f"{key}.")
    return missing


def test_example_configuration_documents_every_key():
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert _missing_keys(Config, data, "") == []


def test_trusted_proxies_take_addresses_and_cidrs_and_name_the_key_when_wrong(make_config):
    config = make_config(console={"trusted_proxies": ["127.0.0.1", "10.0.0.0/8", "::1"]})
    assert config.console.trusted_proxies == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    with pytest.raises(ConfigError, match="console.trusted_proxies"):
        make_config(console={"trusted_proxies": ["nginx.local"]})


def test_the_account_kind_decides_the_channels_and_is_checked_at_start():
    config = parse_config(MINIMAL, env={})
    assert (config.wechat.account_type, config.wechat.verified) == ("service", True)
    assert config.wechat.mass_per_follower_month == 4 and config.wechat.mass_per_day == 1
    with pytest.raises(ConfigError, match=r"wechat\.account_type"):
        parse_config(with_("wechat", account_type="enterprise"), env={})
    # Template messages exist only for verified service accounts: ids for any other are refused.
    ids = {"tier_change": "TPL"}
    with pytest.raises(ConfigError, match=r"template_ids: template messages need a verified"):
        parse_config(with_("wechat", account_type="subscription", template_ids=ids), env={})
    with pytest.raises(ConfigError, match=r"template_ids"):
        parse_config(with_("wechat", verified=False, template_ids=ids), env={})
    assert parse_config(with_("wechat", template_ids=ids), env={}).wechat.template_ids == ids
