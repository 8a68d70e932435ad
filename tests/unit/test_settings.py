"""Settings.from_env: every DISCUSS_* variable with its embedded default (README,
Configuration), an entry point's own defaults under the environment, overrides above."""

from __future__ import annotations

import pytest

from domain.settings import Database, Settings


def test_the_embedded_defaults():
    settings = Settings.from_env({})
    assert settings.database == Database.from_url("sqlite:///var/discuss.db")
    assert settings.redis_url is None and settings.queue == "projections"
    assert settings.embedded_runner is True  # no Redis: the web process runs projections
    assert settings.secret_key is None and settings.master_key is None
    assert settings.seal_content is True and settings.open_registration is True
    assert settings.cors_origins == () and settings.max_body_bytes == 65536
    assert settings.write_rate_limit == "30 per minute" and settings.read_wait_seconds == 5.0
    assert settings.history_policy == "public" and settings.pg_connect_timeout == 5
    assert settings.checkpoint_every == 100
    assert (settings.text_min_length, settings.text_max_length) == (1, 20000)
    assert settings.group_commit is True


def test_every_variable_is_read():
    settings = Settings.from_env(
        {
            "DISCUSS_DATABASE_URL": "postgresql://u:p@db:5433/site",
            "DISCUSS_REDIS_URL": "redis://r:6379/0",
            "DISCUSS_QUEUE": "site-a",
            "DISCUSS_SECRET_KEY": "s",
            "DISCUSS_MASTER_KEY": "m",
            "DISCUSS_SEAL_CONTENT": "off",
            "DISCUSS_OPEN_REGISTRATION": "false",
            "DISCUSS_CORS_ORIGINS": " https://a.example, https://b.example ,",
            "DISCUSS_MAX_BODY_BYTES": "1024",
            "DISCUSS_WRITE_RATE_LIMIT": "5 per minute",
            "DISCUSS_READ_WAIT_SECONDS": "0.5",
            "DISCUSS_HISTORY_POLICY": "restricted",
            "DISCUSS_PG_CONNECT_TIMEOUT": "3",
            "DISCUSS_CHECKPOINT_EVERY": "7",
            "DISCUSS_TEXT_MAX_LENGTH": "500",
            "DISCUSS_TEXT_MIN_LENGTH": "2",
            "DISCUSS_GROUP_COMMIT": "off",
        }
    )
    assert (settings.database.backend, settings.database.host) == ("postgres", "db")
    assert settings.redis_url == "redis://r:6379/0" and settings.queue == "site-a"
    assert settings.embedded_runner is False  # Redis: catch-up jobs instead
    assert (settings.secret_key, settings.master_key) == ("s", "m")
    assert settings.seal_content is False and settings.open_registration is False
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert (settings.max_body_bytes, settings.write_rate_limit) == (1024, "5 per minute")
    assert (settings.read_wait_seconds, settings.history_policy) == (0.5, "restricted")
    assert (settings.pg_connect_timeout, settings.checkpoint_every) == (3, 7)
    assert (settings.text_min_length, settings.text_max_length) == (2, 500)
    assert settings.group_commit is False
    assert "'m'" not in repr(settings) and "'s'" not in repr(settings)  # keys not shown


def test_an_empty_variable_is_unset():
    assert Settings.from_env({"DISCUSS_MAX_BODY_BYTES": "", "DISCUSS_QUEUE": ""}) == (
        Settings.from_env({})
    )


def test_the_embedded_runner_can_be_forced_either_way():
    with_redis = {"DISCUSS_REDIS_URL": "redis://r/0"}
    assert Settings.from_env({**with_redis, "DISCUSS_EMBEDDED_RUNNER": "on"}).embedded_runner
    assert not Settings.from_env({"DISCUSS_EMBEDDED_RUNNER": "0"}).embedded_runner
    assert not Settings.from_env({}, redis_url="redis://r/0").embedded_runner


def test_an_entry_points_default_yields_to_the_environment():
    """web/wsgi.py's gunicorn default: 2 s unless DISCUSS_PG_CONNECT_TIMEOUT says."""
    defaults = {"pg_connect_timeout": 2}
    assert Settings.from_env({}, defaults=defaults).pg_connect_timeout == 2
    env = {"DISCUSS_PG_CONNECT_TIMEOUT": "9"}
    assert Settings.from_env(env, defaults=defaults).pg_connect_timeout == 9


def test_overrides_win_and_unknown_names_are_refused():
    env = {"DISCUSS_DATABASE_URL": "not a url", "DISCUSS_READ_WAIT_SECONDS": "9"}
    database = Database.from_url("sqlite:///elsewhere.db")
    settings = Settings.from_env(env, database=database, read_wait_seconds=1.0)
    assert settings.database == database and settings.read_wait_seconds == 1.0
    with pytest.raises(TypeError, match="read_wait"):
        Settings.from_env({}, read_wait=1.0)
    with pytest.raises(TypeError, match="timeout"):
        Settings.from_env({}, defaults={"timeout": 2})


def test_malformed_values_are_refused():
    with pytest.raises(ValueError, match="DISCUSS_HISTORY_POLICY"):
        Settings.from_env({"DISCUSS_HISTORY_POLICY": "secret"})
    with pytest.raises(ValueError, match="DISCUSS_DATABASE_URL"):
        Settings.from_env({"DISCUSS_DATABASE_URL": "mysql://x/y"})
    with pytest.raises(ValueError):
        Settings.from_env({"DISCUSS_MAX_BODY_BYTES": "lots"})


def test_a_bare_database_takes_the_environment_now(monkeypatch):
    database = Database.from_url("sqlite:///x.db")
    monkeypatch.setenv("DISCUSS_CHECKPOINT_EVERY", "3")
    assert Settings.of(database) == Settings.from_env(database=database)
    assert Settings.of(database).checkpoint_every == 3
    given = Settings.from_env({})
    assert Settings.of(given) is given


def test_settings_are_hashable_keys():
    """The bootstrap keys each process's objects by its settings."""
    assert hash(Settings.from_env({})) == hash(Settings.from_env({}))
    assert Settings.from_env({}, cors_origins=["https://a.example"]).cors_origins == (
        "https://a.example",
    )
