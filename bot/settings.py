"""The one frozen `Settings` object, read once from the environment and `.env` (prefix `DSR_`).

Secrets are `SecretStr` and print as '**********'. `load_settings()` turns every problem into a
`SettingsError` that names the variable and the fix, so start-up stops before doing anything;
database URLs are checked for form here (a platform's `postgres://` is accepted), a `DSR_*`
variable we do not know is warned about with the nearest one we do, and `$PORT` (set by hosting
platforms) is the HTTP port unless `DSR_HTTP_PORT` is set.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import SettingsError

if TYPE_CHECKING:
    from storage.sealing import Keyring

TlsMode = Literal["none", "starttls", "tls"]
PACKAGED_DATAMAP = Path(__file__).resolve().parent.parent / "storage" / "datamap.yaml"
#: The folder of the embedded default; `dsr` creates it (and what lies in it) when missing.
DEFAULT_DIR = Path("var")
#: Variables with our prefix that are read elsewhere (the test suite), not by `Settings`.
OTHER_VARIABLES = frozenset({"DSR_REQUIRE_SERVERS"})
_URL_EXAMPLES = "sqlite:///./var/dsr.db or postgresql://user:password@host:5432/dbname"
_SCHEME = re.compile(r"^(?P<base>[A-Za-z][A-Za-z0-9.-]*)(?:\+(?P<driver>[A-Za-z0-9_]+))?://")
_DRIVERS = {"sqlite": {None, "aiosqlite", "pysqlite"}, "postgresql": {None, "asyncpg"}}

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: The default privacy address (valid and normalised as it stands).
DEFAULT_PRIVACY_ADDRESS = "privacy@example.com"


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
    # Seals what the desk keeps about people: `new[,old…]` (default: derived from DSR_SECRET_KEY)
    data_key: SecretStr | None = None
    # Mail identity and intake
    privacy_address: str = DEFAULT_PRIVACY_ADDRESS
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
    # Seconds one message may take to parse (MIME and HTML to text) before it is kept unread.
    parse_budget_seconds: float = Field(default=10.0, ge=0.1, le=600.0)
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
    # Challenges one address may receive in 24 hours, whoever asks (a burst is withheld).
    challenges_per_address_per_day: int = Field(default=3, ge=1, le=50)
    # Art. 12(5): this many requests of one intent from one address within the window are
    # flagged for staff as a repetitive stream (never refused automatically)
    repeat_threshold: int = Field(default=3, ge=2, le=100)
    repeat_window_days: int = Field(default=30, ge=1, le=365)
    reminder_days: int = Field(default=7, ge=1, le=28)
    # Recipients told of an erasure or correction (Art. 19): days to answer before staff hear.
    recipient_answer_days: int = Field(default=14, ge=1, le=90)
    # Webhook signing keys, JSON {"usersnap": "…"} (the data map's `secret:` names the key);
    # a name not set here signs with a key derived from DSR_SECRET_KEY (`dsr keys webhook`).
    webhook_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    # How long a closed case keeps its personal content (for accountability), then it is purged:
    # a period such as 3y, 36m or 1095d, counted from the close.
    case_retention: str = "3y"
    authority_name: str = "your national data protection authority"
    authority_url: str = "https://edpb.europa.eu/about-edpb/about-edpb/members_en"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Audit log: the chain key, where heads are anchored, who may read /audit
    audit_key: SecretStr | None = None
    audit_token: SecretStr | None = None
    auditor_address: str | None = None
    audit_anchor_channel: str | None = None
    audit_head_file: Path = Path("var/audit-heads.jsonl")
    # What processes keep for the next one (the reflected customer schema, compiled templates)
    cache_dir: Path = Path("var/cache")
    audit_anchor_hour: int = Field(default=2, ge=0, le=23)

    @field_validator("privacy_address", "auditor_address")
    @classmethod
    def _valid_address(cls, value: str | None) -> str | None:
        if value is None or value == DEFAULT_PRIVACY_ADDRESS:
            return value  # BaseSettings validates defaults too; this one is known to be valid
        # imported only when an address is set: its patterns take 15 ms to compile
        from email_validator import EmailNotValidError, validate_email

        try:
            return validate_email(
                value, check_deliverability=False, globally_deliverable=False
            ).normalized
        except EmailNotValidError as exc:
            raise ValueError(f"not a valid e-mail address ({exc})") from exc

    @field_validator("database_url", "customer_database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("case_retention")
    @classmethod
    def _retention_period(cls, value: str) -> str:
        period = value.strip().lower()
        match = re.fullmatch(r"([1-9][0-9]{0,4})([dmy])", period)
        if match is None:
            raise ValueError(
                f"{value!r} is not a period; write a number and d, m or y after the close, "
                "e.g. 3y, 36m or 1095d"
            )
        days = int(match.group(1)) * {"d": 1, "m": 31, "y": 366}[match.group(2)]
        if days < 30 or days > 366 * 30:
            raise ValueError(
                f"{value!r} is outside 30 days to 30 years; a case must stay answerable for a "
                "while after its close (e.g. 3y)"
            )
        return period

    @field_validator("secret_key")
    @classmethod
    def _strong_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(
                "must be at least 32 characters; generate one with `dsr keys generate`"
            )
        return value

    @field_validator("data_key")
    @classmethod
    def _data_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        keys = [k.strip() for k in value.get_secret_value().split(",")]
        if any(len(k) < 32 for k in keys):
            raise ValueError(
                "every key (comma-separated, newest first) must be at least 32 characters; "
                "generate one with `dsr keys generate`"
            )
        if len(set(keys)) != len(keys):
            raise ValueError("names the same key twice; list each key once, newest first")
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

    def data_keys(self) -> list[str]:
        """The `DSR_DATA_KEY` secrets, newest first (empty when unset)."""
        if self.data_key is None:
            return []
        return [k.strip() for k in self.data_key.get_secret_value().split(",")]

    def keyring(self) -> Keyring | None:
        """The keys that seal the case store's personal data (`storage.sealing`): DSR_DATA_KEY's
        (the first seals, every one opens), or — unset — one derived from DSR_SECRET_KEY with
        HKDF, so the embedded default needs no second key; lookups are keyed from
        DSR_SECRET_KEY. None when neither is set."""
        from storage.sealing import Keyring

        secret = self.secret_key.get_secret_value().encode() if self.secret_key else None
        if not self.data_keys() and secret is None:
            return None
        return Keyring.from_secrets(self.data_keys(), secret)

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

    def suppression_key_bytes(self) -> bytes:
        """The key of the marketing suppression list's address hashes: derived from
        DSR_SECRET_KEY with HKDF-SHA-256 (info `dsr-bot suppression`), so the list can be matched
        by the desk and importer but never against the audit log's pseudonyms.

        Raises:
            SettingsError: DSR_SECRET_KEY is not set.
        """
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        secret = self.secret_key_bytes()
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"dsr-bot suppression")
        return hkdf.derive(secret)


def _shown(url: str) -> str:
    """A URL as it may be printed: nothing after the scheme when it may hold a password."""
    return url if "@" not in url and len(url) <= 80 else url.split("://", 1)[0] + "://…"


def check_database_url(url: str) -> str:
    """The URL in the form our engines take: `postgres://` (what hosting platforms give) becomes
    `postgresql://`; anything but SQLite or PostgreSQL is refused with the forms that work.

    Raises:
        ValueError: naming what is wrong and an example of a working URL.
    """
    url = url.strip()
    match = _SCHEME.match(url)
    if match is None:
        raise ValueError(f"{_shown(url)!r} is not a database URL; write {_URL_EXAMPLES}")
    base, driver = match["base"].lower(), match["driver"]
    if base == "postgres":  # Heroku-style; SQLAlchemy only knows "postgresql"
        base = "postgresql"
        url = "postgresql" + url[len(match["base"]) :]
    if base not in _DRIVERS:
        raise ValueError(
            f"{base} databases are not supported; dsr-bot runs on SQLite or PostgreSQL: "
            f"write {_URL_EXAMPLES}"
        )
    if driver is not None and driver.lower() not in _DRIVERS[base] and base == "sqlite":
        raise ValueError(f"the SQLite driver {driver!r} is not supported; write {_URL_EXAMPLES}")
    return url


def sqlite_directory(url: str) -> Path | None:
    """The directory a SQLite URL's file lives in; None for PostgreSQL and in-memory SQLite."""
    match = _SCHEME.match(url)
    if match is None or match["base"].lower() != "sqlite":
        return None
    path = url[match.end() :].split("?", 1)[0]
    if not path.startswith("/") or path in ("/", "/:memory:") or path.startswith("/file:"):
        return None
    return Path(path[1:]).parent  # sqlite:///rel/path.db -> rel; sqlite:////abs -> /abs


def prepare_store_dirs(settings: Settings, *, create: bool = False) -> None:
    """Make sure the SQLite stores' directories exist before anything opens them.

    The embedded default's `var/` is created; a directory named in `DSR_DATABASE_URL` or
    `DSR_CUSTOMER_DATABASE_URL` must exist already (a typo would otherwise start an empty
    database), unless `create` (`dsr db upgrade --create-dirs`) asks for it.

    Raises:
        SettingsError: naming the variable, the directory and both fixes.
    """
    for variable, url in (
        ("DSR_DATABASE_URL", settings.database_url),
        ("DSR_CUSTOMER_DATABASE_URL", settings.customer_database_url),
    ):
        directory = sqlite_directory(url)
        if directory is None or directory.is_dir():
            continue
        if create or _under_default(directory):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            continue
        raise SettingsError(
            f"{variable}: the directory {directory} does not exist, so the SQLite database "
            f"cannot be opened; correct the path, or create it with `dsr db upgrade --create-dirs`"
        )


def _under_default(directory: Path) -> bool:
    try:
        return directory.resolve().is_relative_to(DEFAULT_DIR.resolve())
    except OSError:
        return False


def _known_variables() -> set[str]:
    return {f"DSR_{name.upper()}" for name in Settings.model_fields} | OTHER_VARIABLES


def unknown_variables(names: list[str]) -> list[str]:
    """One warning per `DSR_*` name that no setting reads, with the nearest known name."""
    known = _known_variables()
    warnings = []
    for name in sorted({n.upper() for n in names if n.upper().startswith("DSR_")} - known):
        near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]}?" if near else "; see README.md, Configuration"
        warnings.append(f"{name} is not a setting dsr-bot knows, so it is ignored{hint}")
    return warnings


def _dotenv_names() -> list[str]:
    env_file = Path(".env")
    if not env_file.is_file():
        return []
    from dotenv import dotenv_values

    return [str(k) for k in dotenv_values(env_file)]


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "__root__"]
        name = loc[0].upper() if loc else "settings"
        name = name if name.startswith("DSR_") else f"DSR_{name}"
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        lines.append(f"{name}: {msg}" if loc else msg)
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and `.env`) once; warn about `DSR_*` names no setting reads.

    Raises:
        SettingsError: naming the offending variable(s) and the fix.
    """
    dotenv = _dotenv_names()
    for warning in unknown_variables([*os.environ, *dotenv]):
        log.warning("%s", warning)
    port = os.environ.get("PORT")
    if port and "http_port" not in overrides and not _set("DSR_HTTP_PORT", dotenv):
        overrides["http_port"] = port  # a hosting platform's port (Procfile `web:`)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(f"invalid configuration: {_describe(exc)}") from None


def _set(variable: str, dotenv: list[str]) -> bool:
    return any(n.upper() == variable for n in [*os.environ, *dotenv])
