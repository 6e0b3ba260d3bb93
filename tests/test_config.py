from __future__ import annotations

import pytest

from tidings.config import Settings
from tidings.errors import ConfigError


def test_user_file_and_environment_overlay_defaults(tmp_path):
    user = tmp_path / "tidings.toml"
    user.write_text("[ingest]\nhttp_timeout = 5.0\n")
    settings = Settings.load(user, env={"TIDINGS_INGEST__MAX_BYTES": "1000"})
    section = settings.section("ingest")
    assert section["http_timeout"] == 5.0
    assert section["max_bytes"] == 1000


def test_unknown_setting_is_an_error_naming_the_file(tmp_path):
    user = tmp_path / "bad.toml"
    user.write_text("[ingest]\nhttp_timeot = 5.0\n")
    with pytest.raises(ConfigError, match="bad.toml.*unknown setting ingest.http_timeot"):
        Settings.load(user, env={})


def test_malformed_settings_file_is_reported(tmp_path):
    user = tmp_path / "broken.toml"
    user.write_text("[ingest\n")
    with pytest.raises(ConfigError, match="broken.toml"):
        Settings.load(user, env={})


def test_sections_are_copies():
    settings = Settings.load(env={})
    settings.section("ingest")["max_bytes"] = 1
    assert settings.section("ingest")["max_bytes"] != 1
