"""The one frozen `Settings` object, read once from the environment and `.env` (prefix `DSR_`).

Secrets are `SecretStr` and print as '**********'. `load_settings()` turns every problem into a
`SettingsError` that names the variable and the fix, so start-up stops before doing anything.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal, Self

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import SettingsError

TlsMode = Literal["none", "starttls", "tls"]
PACKAGED_DATAMAP = Path(__file__).resolve().parent.parent / "storage" / "datamap.yaml"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Every knob of dsr-bot; field `foo_bar` is read from `DSR_FOO_BAR`."""

    model_config = SettingsConfigDict(
        env_prefix="DSR_", env_file=".env", env_file_encoding="utf-8", frozen=True, extra="ignore"
    )

    # Stores
    database_url: str = "sqlite+aiosqlite:///./var/dsr.db"
    customer_database_url: str = "sqlite+aiosqlite:///./var/customers.db"
    datamap: Path = PACKAGED_DATAMAP
    secret_key: SecretStr | None = None
    # Mail identity and intake
    privacy_address: str = "privacy@example.com"
    imap_host: str | None = None
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_tls: TlsMode = "tls"
    imap_mailbox: str = "INBOX"
    imap_quarantine: str = "Quarantine"
    maildir: Path = Path("var/maildir")
    smtp_receiver_port: int = Field(default=2525, ge=0, le=65535)
    max_message_bytes: int = Field(default=10_000_000, ge=10_000)
    trusted_authserv_id: str | None = None
    # Outbound mail
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: TlsMode = "starttls"
    outbox_maildir: Path = Path("var/outbox")
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    # How long a claimed case or outbox row stays with a process that may have died.
    work_lease_seconds: float = Field(default=300.0, ge=1.0, le=86_400.0)
    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_channel: str | None = None
    slack_intake_channel: str | None = None
    slack_approvers: str = ""
    slack_approver_group: str | None = None
    four_eyes_delete: bool = False
    # HTTP server
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    # Classifier decision (None: the model's tuned values)
    classify_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    classify_margin: float | None = Field(default=None, ge=0.0, le=1.0)
    # Verification and deadlines
    challenge_ttl_days: int = Field(default=7, ge=1, le=30)
    challenge_max_attempts: int = Field(default=5, ge=1, le=20)
    reminder_days: int = Field(default=7, ge=1, le=28)
    authority_name: str = "your national data protection authority"
    authority_url: str = "https://edpb.europa.eu/about-edpb/about-edpb/members_en"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Audit log: the chain key, where heads are anchored, who may read /audit
    audit_key: SecretStr | None = None
    audit_token: SecretStr | None = None
    auditor_address: str | None = None
    audit_anchor_channel: str | None = None
    audit_head_file: Path = Path("var/audit-heads.jsonl")
    audit_anchor_hour: int = Field(default=2, ge=0, le=23)

    @field_validator("privacy_address", "auditor_address")
    @classmethod
    def _valid_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_email(
                value, check_deliverability=False, globally_deliverable=False
            ).normalized
        except EmailNotValidError as exc:
            raise ValueError(f"not a valid e-mail address ({exc})") from exc

    @field_validator("secret_key")
    @classmethod
    def _strong_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(
                "must be at least 32 characters; generate one with `dsr keys generate`"
            )
        return value

    @field_validator("audit_key", "audit_token")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(
                "must be at least 32 characters; generate one with `dsr keys generate`"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.imap_host and not (self.imap_user and self.imap_password):
            raise ValueError(
                "DSR_IMAP_HOST is set, so DSR_IMAP_USER and DSR_IMAP_PASSWORD are needed"
            )
        if bool(self.smtp_user) != bool(self.smtp_password):
            raise ValueError("DSR_SMTP_USER and DSR_SMTP_PASSWORD go together; set both or neither")
        if (
            self.smtp_user
            and self.smtp_host
            and self.smtp_tls == "none"
            and not _is_loopback(self.smtp_host)
        ):
            raise ValueError(
                "DSR_SMTP_TLS=none with DSR_SMTP_USER would send the password in clear to a remote "
                "host; use DSR_SMTP_TLS=starttls or tls"
            )
        if self.imap_host and self.imap_tls == "none" and not _is_loopback(self.imap_host):
            raise ValueError(
                "DSR_IMAP_TLS=none would send the mailbox password in clear to a remote host; "
                "use DSR_IMAP_TLS=tls or starttls"
            )
        if self.slack_bot_token:
            if not self.slack_channel:
                raise ValueError("DSR_SLACK_BOT_TOKEN is set, so DSR_SLACK_CHANNEL is needed")
            if not (self.slack_signing_secret or self.slack_app_token):
                raise ValueError(
                    "Slack needs DSR_SLACK_SIGNING_SECRET (HTTP mode) or DSR_SLACK_APP_TOKEN "
                    "(Socket Mode)"
                )
            if not (self.approvers or self.slack_approver_group):
                raise ValueError(
                    "Slack is configured but nobody may approve: set DSR_SLACK_APPROVERS "
                    "(comma-separated user ids) or DSR_SLACK_APPROVER_GROUP"
                )
        elif self.slack_app_token or self.slack_signing_secret:
            raise ValueError(
                "DSR_SLACK_APP_TOKEN/SIGNING_SECRET are set but DSR_SLACK_BOT_TOKEN is not"
            )
        if self.audit_anchor_channel and not self.slack_bot_token:
            raise ValueError(
                "DSR_AUDIT_ANCHOR_CHANNEL is set but DSR_SLACK_BOT_TOKEN is not; anchors cannot "
                "be posted"
            )
        if not self.slack_api_url.endswith("/"):
            raise ValueError("DSR_SLACK_API_URL must end with '/' (e.g. https://slack.com/api/)")
        return self

    @property
    def approvers(self) -> frozenset[str]:
        """Slack user ids allowed to act on cases."""
        return frozenset(a.strip() for a in self.slack_approvers.split(",") if a.strip())

    @property
    def own_domain(self) -> str:
        """The domain of the privacy address; our Message-IDs use it."""
        return self.privacy_address.rsplit("@", 1)[1]

    @property
    def imap_port_effective(self) -> int:
        """The IMAP port, defaulting by TLS mode."""
        return self.imap_port or (993 if self.imap_tls == "tls" else 143)

    @property
    def smtp_port_effective(self) -> int:
        """The SMTP port, defaulting by TLS mode."""
        return self.smtp_port or {"tls": 465, "starttls": 587, "none": 25}[self.smtp_tls]

    def secret_key_bytes(self) -> bytes:
        """The HMAC key for pseudonyms and codes.

        Raises:
            SettingsError: DSR_SECRET_KEY is not set.
        """
        if self.secret_key is None:
            raise SettingsError(
                "DSR_SECRET_KEY is not set; it keys the pseudonyms in the audit log. Generate one "
                "with `dsr keys generate` and put it in the environment or .env (keep it safe: "
                "losing it makes pseudonyms unlinkable)"
            )
        return self.secret_key.get_secret_value().encode()

    def audit_key_bytes(self) -> bytes | None:
        """The key of the audit chain (HMAC-SHA-256), never stored in the database.

        DSR_AUDIT_KEY when set; otherwise derived from DSR_SECRET_KEY with HKDF-SHA-256 (info
        `dsr-bot audit chain`), so the pseudonym key itself never touches the chain; None when
        neither is set (the chain then stays plain SHA-256).
        """
        if self.audit_key is not None:
            return self.audit_key.get_secret_value().encode()
        if self.secret_key is None:
            return None
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"dsr-bot audit chain")
        return hkdf.derive(self.secret_key.get_secret_value().encode())


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "__root__"]
        name = f"DSR_{loc[0].upper()}" if loc else "settings"
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        lines.append(f"{name}: {msg}" if loc else msg)
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and `.env`) once.

    Raises:
        SettingsError: naming the offending variable(s) and the fix.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(f"invalid configuration: {_describe(exc)}") from None
