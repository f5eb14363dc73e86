"""Settings: defaults, environment, `crm.toml`, overrides, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.config import Settings, env_name, load_settings, load_settings_checked
from ops.errors import SettingError


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CRM_* variable from the outside, and a working folder without crm.toml."""
    import os

    for name in list(os.environ):
        if name.startswith("CRM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_start_embedded_servers(isolated: Path) -> None:
    settings = load_settings()
    assert settings.embedded_database and settings.embedded_kafka
    assert settings.kafka_topic == "crm.events"
    assert settings.port == 8000
    assert settings.data_dir == isolated / ".crm"
    assert settings.data_dir.is_absolute()


def test_environment_switches_to_external_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DATABASE_URL", "postgresql://u@db.example:5432/crm")
    monkeypatch.setenv("CRM_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("CRM_KAFKA_TOPIC", "events.prod")
    monkeypatch.setenv("CRM_PORT", "9000")
    settings = load_settings()
    assert not settings.embedded_database and not settings.embedded_kafka
    assert settings.kafka_bootstrap == "k1:9092,k2:9092"
    assert (settings.kafka_topic, settings.port) == ("events.prod", 9000)


def test_crm_toml_is_read_and_environment_wins(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated / "crm.toml").write_text(
        'data_dir = "state"\nport = 8100\nkafka_topic = "from.toml"\n'
        'database_url = "postgresql://x@h/crm"\n'
    )
    settings = load_settings()
    assert settings.data_dir == isolated / "state"
    assert (settings.port, settings.kafka_topic) == (8100, "from.toml")
    assert settings.database_url == "postgresql://x@h/crm"
    monkeypatch.setenv("CRM_PORT", "8200")
    assert load_settings().port == 8200


def test_crm_config_points_at_another_file(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = isolated / "conf" / "prod.toml"
    other.parent.mkdir()
    other.write_text('kafka_bootstrap = "broker:9092"\n')
    monkeypatch.setenv("CRM_CONFIG", str(other))
    assert load_settings().kafka_bootstrap == "broker:9092"


def test_command_line_overrides_win_and_none_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_PORT", "8300")
    assert load_settings(port=8400).port == 8400
    assert load_settings(port=None).port == 8300


def test_derived_paths_and_urls(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, port=8123, host="0.0.0.0")
    assert settings.endpoints_file == tmp_path / "endpoints.json"
    assert settings.run_dir == tmp_path / "run"
    assert settings.logs_dir == tmp_path / "logs"
    assert settings.analytics_path == tmp_path / "analytics" / "analytics.duckdb"
    assert settings.graphql_url == "http://127.0.0.1:8123/graphql"
    assert settings.health_url == "http://127.0.0.1:8123/healthz"


def test_the_relay_keeps_the_default_messages_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().relay_keep_messages is None  # the relay's KEEP_MESSAGES
    monkeypatch.setenv("CRM_RELAY_KEEP_MESSAGES", "5000")
    assert load_settings().relay_keep_messages == 5000


def test_the_consumer_groups_prefix_is_crm_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().kafka_group_prefix == "crm"
    monkeypatch.setenv("CRM_KAFKA_GROUP_PREFIX", "eu-staging")
    assert load_settings().kafka_group_prefix == "eu-staging"
    for bad in ("", "has space", "trailing-", "-leading", "a/b"):
        monkeypatch.setenv("CRM_KAFKA_GROUP_PREFIX", bad)
        with pytest.raises(SettingError) as caught:
            load_settings_checked()
        assert caught.value.setting == "CRM_KAFKA_GROUP_PREFIX"


def test_env_name() -> None:
    assert env_name("port") == "CRM_PORT"
    assert env_name("database_url") == "CRM_DATABASE_URL"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CRM_PORT", "eighty"),
        ("CRM_PORT", "70000"),
        ("CRM_KAFKA_PARTITIONS", "0"),
        ("CRM_RELAY_KEEP_MESSAGES", "-1"),
        ("CRM_LOG_LEVEL", "LOUD"),
        ("CRM_MASTER_KEY", "notbase64!"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingError) as caught:
        load_settings_checked()
    assert caught.value.setting == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert "\n" not in str(caught.value)


def test_setting_error_without_a_setting() -> None:
    assert str(SettingError(None, "plain")) == "plain"
    assert str(SettingError("--role", "unknown")) == "--role: unknown"


def test_the_relay_needs_the_direct_url_behind_a_transaction_pooler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_DATABASE_URL", "postgresql://u@bouncer:6432/crm")
    assert load_settings().relay_session_url is None  # no pooler: the URL keeps sessions
    monkeypatch.setenv("CRM_DATABASE_POOLER", "transaction")
    with pytest.raises(SettingError) as caught:
        load_settings().relay_session_url  # noqa: B018
    assert caught.value.setting == "CRM_DATABASE_DIRECT_URL"
    assert "DIRECT_URL_REQUIRED" in str(caught.value)
    monkeypatch.setenv("CRM_DATABASE_DIRECT_URL", "postgresql://u@db:5432/crm")
    assert load_settings().relay_session_url == "postgresql://u@db:5432/crm"


def test_a_refused_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_MASTER_KEY", "almost-the-real-key")
    with pytest.raises(SettingError) as caught:
        load_settings_checked()
    assert "base64" in str(caught.value) and "almost-the-real-key" not in str(caught.value)


def test_the_log_level_is_taken_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_LOG_LEVEL", " debug ")
    assert load_settings_checked().log_level == "DEBUG"


def test_a_config_file_named_must_exist_and_be_toml(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_CONFIG", str(isolated / "prdo.toml"))
    with pytest.raises(SettingError) as missing:
        load_settings_checked()
    assert (missing.value.setting, missing.value.message) == (
        "CRM_CONFIG",
        f"no file {isolated / 'prdo.toml'}",
    )
    broken = isolated / "crm.toml"
    broken.write_text("port = [\n")
    monkeypatch.delenv("CRM_CONFIG")
    with pytest.raises(SettingError) as not_toml:
        load_settings_checked()
    assert not_toml.value.setting == str(broken.name) and "not TOML" in not_toml.value.message


def test_a_misspelled_key_in_the_config_file_is_refused_with_a_hint(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ignored, the typo would leave the platform on an embedded PostgreSQL.
    (isolated / "crm.toml").write_text('databse_url = "postgresql://db.example/crm"\n')
    with pytest.raises(SettingError) as typo:
        load_settings_checked()
    assert typo.value.setting == "crm.toml"
    assert "'databse_url'" in typo.value.message and "'database_url'" in typo.value.message
    named = isolated / "prod.toml"
    named.write_text('port = 8100\nCRM_KAFKA_TOPIC = "x"\n')
    monkeypatch.setenv("CRM_CONFIG", str(named))
    with pytest.raises(SettingError) as prefixed:
        load_settings_checked()
    assert prefixed.value.setting == str(named)
    assert "'CRM_KAFKA_TOPIC'" in prefixed.value.message
    assert "'kafka_topic'" in prefixed.value.message
    named.write_text('port = 8100\nkafka_topic = "x"\n')
    assert load_settings_checked().port == 8100
