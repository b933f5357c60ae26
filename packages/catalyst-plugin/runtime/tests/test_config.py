from __future__ import annotations

import os
from pathlib import Path

import pytest

from catalyst_runtime import ConfigError, Settings
from catalyst_runtime.config import load_env_file, missing_variables, read_env_file


def test_defaults_without_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({}, env_file=tmp_path / "missing.env")
    assert settings == Settings()
    assert settings.postgres_dsn is None
    assert settings.http_timeout == 30.0


def test_environment_overrides_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\n"
        "\n"
        "export DATABASE_URL=postgresql://u:pw@db/app\n"
        "REDIS_URL='redis://cache:6379/1'\n"
        'QDRANT_API_KEY="a\\"b\\\\c\\nd"\n'
        "CATALYST_HTTP_TIMEOUT=12 # seconds\n"
        "CATALYST_POSTGRES_MAX_SIZE=4\n"
    )
    settings = Settings.from_env({"CATALYST_POSTGRES_MAX_SIZE": "8"}, env_file=env_file)
    assert settings.postgres_dsn == "postgresql://u:pw@db/app"
    assert settings.redis_url == "redis://cache:6379/1"
    assert settings.qdrant_api_key == 'a"b\\c\nd'
    assert settings.http_timeout == 12.0
    assert settings.postgres_max_size == 8


def test_reads_process_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CATALYST_LLM_TIMEOUT", "2.5")
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env().llm_timeout == 2.5
    assert Settings.from_env(env_file=None).llm_timeout == 2.5


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CATALYST_HTTP_TIMEOUT", "soon", "CATALYST_HTTP_TIMEOUT: expected a number of seconds"),
        ("CATALYST_HTTP_TIMEOUT", "-1", "CATALYST_HTTP_TIMEOUT: expected a positive number"),
        ("CATALYST_POSTGRES_MAX_SIZE", "ten", "CATALYST_POSTGRES_MAX_SIZE: expected a whole"),
        (
            "CATALYST_POSTGRES_MAX_SIZE",
            "0",
            "CATALYST_POSTGRES_MAX_SIZE: expected a whole number >= 1",
        ),
        ("REDIS_URL", "cache:6379", "REDIS_URL: expected a URL starting with redis://"),
        ("QDRANT_URL", "qdrant:6333", "QDRANT_URL: expected a URL starting with http://"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_env({variable: value}, env_file=None)
    assert caught.value.variable == variable
    assert caught.value.status_code == 500


def test_a_bad_url_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DATABASE_URL": "mysql://root:hunter2@db/x"}, env_file=None)
    assert "DATABASE_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_pool_sizes_must_agree() -> None:
    with pytest.raises(ConfigError, match="must not exceed CATALYST_POSTGRES_MAX_SIZE"):
        Settings.from_env(
            {"CATALYST_POSTGRES_MIN_SIZE": "5", "CATALYST_POSTGRES_MAX_SIZE": "2"}, env_file=None
        )


def test_repr_hides_urls_and_keys() -> None:
    settings = Settings(postgres_dsn="postgresql://u:hunter2@db/x", qdrant_api_key="k-123")
    text = repr(settings)
    assert "hunter2" not in text
    assert "k-123" not in text
    assert "postgres_dsn='<set>'" in text
    assert "redis_url=None" in text


def test_load_env_file_fills_only_unset_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CATALYST_T_SET=from-file\nCATALYST_T_NEW=from-file\nREF=${HOME}\n")
    monkeypatch.setenv("CATALYST_T_SET", "exported")
    monkeypatch.delenv("CATALYST_T_NEW", raising=False)
    monkeypatch.delenv("REF", raising=False)
    load_env_file(env_file)
    assert os.environ["CATALYST_T_SET"] == "exported"
    assert os.environ["CATALYST_T_NEW"] == "from-file"
    # Values are literal: no interpolation of other variables.
    assert os.environ["REF"] == "${HOME}"
    monkeypatch.delenv("CATALYST_T_NEW")
    monkeypatch.delenv("REF")


def test_missing_variables_are_named_sorted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALYST_T_PRESENT", "1")
    monkeypatch.delenv("CATALYST_T_B", raising=False)
    monkeypatch.delenv("CATALYST_T_A", raising=False)
    names = ["CATALYST_T_B", "CATALYST_T_PRESENT", "CATALYST_T_A"]
    assert missing_variables(names) == ["CATALYST_T_A", "CATALYST_T_B"]
    assert read_env_file(Path("/nonexistent/.env")) == {}


def test_the_service_limits_have_safe_defaults_and_read_their_variables() -> None:
    defaults = Settings()
    assert (defaults.max_body_bytes, defaults.max_validation_errors) == (1024 * 1024, 20)
    assert (defaults.max_header_bytes, defaults.header_timeout) == (16 * 1024, 10.0)
    assert (defaults.max_connections, defaults.keep_alive_timeout) == (512, 5.0)
    assert (defaults.body_timeout, defaults.shutdown_timeout) == (30.0, 20.0)
    assert defaults.http_max_response_bytes == 4 * 1024 * 1024
    assert defaults.log_repeat_seconds == 10.0
    environ = {
        "CATALYST_MAX_BODY_BYTES": "2048",
        "CATALYST_BODY_TIMEOUT": "3.5",
        "CATALYST_MAX_VALIDATION_ERRORS": "5",
        "CATALYST_MAX_HEADER_BYTES": "4096",
        "CATALYST_HEADER_TIMEOUT": "2",
        "CATALYST_KEEP_ALIVE_TIMEOUT": "1.5",
        "CATALYST_MAX_CONNECTIONS": "64",
        "CATALYST_SHUTDOWN_TIMEOUT": "7",
        "CATALYST_HTTP_MAX_RESPONSE_BYTES": "1000",
        "CATALYST_LOG_REPEAT_SECONDS": "60",
    }
    settings = Settings.from_env(environ, env_file=None)
    assert (settings.max_body_bytes, settings.body_timeout) == (2048, 3.5)
    assert (settings.max_validation_errors, settings.max_header_bytes) == (5, 4096)
    assert (settings.header_timeout, settings.keep_alive_timeout) == (2.0, 1.5)
    assert (settings.max_connections, settings.shutdown_timeout) == (64, 7.0)
    assert (settings.http_max_response_bytes, settings.log_repeat_seconds) == (1000, 60.0)
    with pytest.raises(ConfigError, match="CATALYST_MAX_BODY_BYTES: expected a whole number"):
        Settings.from_env({"CATALYST_MAX_BODY_BYTES": "1MB"}, env_file=None)


def test_qdrant_local_folder_and_timeout_are_read() -> None:
    assert (Settings().qdrant_path, Settings().qdrant_timeout) == (None, 10.0)
    environ = {"CATALYST_QDRANT_PATH": "/srv/qdrant", "CATALYST_QDRANT_TIMEOUT": "2.5"}
    settings = Settings.from_env(environ, env_file=None)
    assert (settings.qdrant_path, settings.qdrant_timeout) == ("/srv/qdrant", 2.5)
    with pytest.raises(ConfigError, match="CATALYST_QDRANT_TIMEOUT: expected a positive number"):
        Settings.from_env({"CATALYST_QDRANT_TIMEOUT": "0"}, env_file=None)


def test_a_qdrant_server_and_a_local_folder_exclude_each_other() -> None:
    environ = {"QDRANT_URL": "http://qdrant:6333", "CATALYST_QDRANT_PATH": "/srv/qdrant"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(environ, env_file=None)
    assert str(caught.value) == (
        "CATALYST_QDRANT_PATH: set either QDRANT_URL (a Qdrant server) or CATALYST_QDRANT_PATH "
        "(local mode, one process), not both"
    )
