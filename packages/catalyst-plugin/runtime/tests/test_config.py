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
