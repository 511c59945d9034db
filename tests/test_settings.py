"""Settings: read once, secrets hidden, wrong or contradictory values named with the fix."""

from __future__ import annotations

import pytest

from bot.errors import SettingsError
from bot.settings import load_settings


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DSR_IMAP_HOST": "imap.example.com"}, "DSR_IMAP_USER"),
        ({"DSR_SMTP_USER": "bot"}, "DSR_SMTP_PASSWORD"),
        ({"DSR_SLACK_BOT_TOKEN": "xoxb-1"}, "DSR_SLACK_CHANNEL"),
        ({"DSR_SLACK_BOT_TOKEN": "xoxb-1", "DSR_SLACK_CHANNEL": "C1"}, "DSR_SLACK_SIGNING_SECRET"),
        (
            {
                "DSR_SLACK_BOT_TOKEN": "x",
                "DSR_SLACK_CHANNEL": "C1",
                "DSR_SLACK_SIGNING_SECRET": "s",
            },
            "DSR_SLACK_APPROVERS",
        ),
        ({"DSR_SECRET_KEY": "short"}, "DSR_SECRET_KEY"),
        ({"DSR_HTTP_PORT": "eighty"}, "DSR_HTTP_PORT"),
        ({"DSR_IMAP_TLS": "ssl"}, "DSR_IMAP_TLS"),
        ({"DSR_PRIVACY_ADDRESS": "not-an-address"}, "DSR_PRIVACY_ADDRESS"),
        (
            {
                "DSR_SMTP_HOST": "smtp.example.com",
                "DSR_SMTP_USER": "u",
                "DSR_SMTP_PASSWORD": "p",
                "DSR_SMTP_TLS": "none",
            },
            "DSR_SMTP_TLS",
        ),
        ({"DSR_SLACK_API_URL": "http://127.0.0.1:1/api"}, "DSR_SLACK_API_URL"),
        ({"DSR_CASE_RETENTION": "three years"}, "DSR_CASE_RETENTION"),
        ({"DSR_CASE_RETENTION": "2d"}, "DSR_CASE_RETENTION"),
        ({"DSR_CASE_RETENTION": "0y"}, "DSR_CASE_RETENTION"),
    ],
    ids=lambda v: v if isinstance(v, str) else ",".join(v),
)
def test_bad_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSR_SMTP_USER", "bot")
    monkeypatch.setenv("DSR_SMTP_PASSWORD", "hunter2-very-secret")
    settings = load_settings()
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "hunter2-very-secret"


def test_settings_are_frozen_and_parse_approvers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSR_SLACK_APPROVERS", " U1, U2 ,,U3")
    settings = load_settings()
    assert settings.approvers == frozenset({"U1", "U2", "U3"})
    with pytest.raises(ValueError, match="frozen"):
        settings.http_port = 1  # type: ignore[misc]


def test_missing_secret_key_is_named_when_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSR_SECRET_KEY", raising=False)
    monkeypatch.chdir("/")  # no .env here
    with pytest.raises(SettingsError, match="DSR_SECRET_KEY"):
        load_settings().secret_key_bytes()
