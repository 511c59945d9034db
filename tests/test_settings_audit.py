"""The audit settings: a wrong one stops start-up naming it; the chain key is DSR_AUDIT_KEY or
derived from DSR_SECRET_KEY (HKDF), never the secret key itself."""

from __future__ import annotations

import pytest

from bot.errors import SettingsError
from bot.settings import load_settings

SECRET = "s" * 40


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"audit_key": "short"}, "DSR_AUDIT_KEY"),
        ({"audit_token": "short"}, "DSR_AUDIT_TOKEN"),
        ({"auditor_address": "not an address"}, "DSR_AUDITOR_ADDRESS"),
        ({"audit_anchor_hour": 24}, "DSR_AUDIT_ANCHOR_HOUR"),
        ({"audit_anchor_channel": "C0AUDIT"}, "DSR_AUDIT_ANCHOR_CHANNEL"),
    ],
    ids=["short-key", "short-token", "bad-address", "hour", "channel-without-slack"],
)
def test_a_wrong_audit_setting_is_named(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(**overrides)


def test_audit_key_is_given_or_derived() -> None:
    derived = load_settings(secret_key=SECRET).audit_key_bytes()
    assert derived is not None and len(derived) == 32 and derived != SECRET.encode()
    assert load_settings(secret_key=SECRET).audit_key_bytes() == derived  # stable
    assert load_settings(secret_key="t" * 40).audit_key_bytes() != derived
    given = load_settings(secret_key=SECRET, audit_key="k" * 32).audit_key_bytes()
    assert given == b"k" * 32
    assert "k" * 32 not in repr(load_settings(audit_key="k" * 32))
