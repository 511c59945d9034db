"""The error tree of dsr-bot. Lower layers keep their own roots (they may not import `bot`);
this module names them all so that callers can catch by meaning.

DsrError (Exception)                     bot/ errors
 ├── SettingsError (ValueError)          a setting is missing, malformed or contradicts another
 ├── DatabaseUnavailable (ConnectionError) a configured database cannot be reached or opened
 ├── IllegalTransition (ValueError)      lifecycle: event not allowed in the case's state
 ├── CaseNotFound (LookupError)          no case with that reference
 ├── RecordNotFound (LookupError)        bot.case.inbox: no inbound record with that number
 ├── NotAuthorized (PermissionError)     actor may not do that (e.g. not an approver)
 ├── NotAvailable (RuntimeError)         a command whose part is not built yet
 ├── ReasonRequired (ValueError)         bot.work.actions: an action that must be explained was not
 ├── SlackSendError (RuntimeError)       bot.slack.client: Slack refused a post for good
 └── StaffIntakeError (ValueError)       bot.slack.intake: a staff-opened case lacks what it needs
storage.errors.StorageError (RuntimeError)
 ├── AuditChainError, AuditWriteError, SchemaError, ConcurrentUpdateError, SealError
mail.errors.MailError (Exception)
 ├── MailParseError (ValueError), MailSendError (OSError, .transient),
 └── MailConnectionError (ConnectionError), TemplateError (LookupError)
intents.errors.IntentsError (Exception)
 ├── CorpusError (ValueError), ModelError (OSError)
storage.errors.CustomerStoreError (StorageError)
 ├── DataMapError (ValueError), SubjectNotFound (LookupError), AmbiguousSubject (LookupError)
 └── InvalidChange (ValueError), ImportFileError (ValueError)
"""

from __future__ import annotations


class DsrError(Exception):
    """Base of the bot's own errors."""


class SettingsError(DsrError, ValueError):
    """A setting is missing, malformed or contradicts another; the message names it and the fix."""


class DatabaseUnavailable(DsrError, ConnectionError):
    """A configured database cannot be reached or opened; the message names the variable."""

    @classmethod
    def at(cls, variable: str, url: str, exc: BaseException) -> DatabaseUnavailable:
        """The error for `exc` raised when opening `url` (read from `variable`)."""
        cause = getattr(exc, "orig", None) or exc
        where = url.split("@", 1)[-1] if "@" in url else url  # never the password
        return cls(
            f"{variable}: cannot open the database at {where} ({type(cause).__name__}); start "
            f"the server or correct {variable}, then try again"
        )


class IllegalTransition(DsrError, ValueError):
    """An event that the lifecycle does not allow in the case's current state."""

    def __init__(self, case_ref: str, state: str, event: str, allowed: tuple[str, ...]) -> None:
        options = ", ".join(allowed) or "none (the case is closed)"
        super().__init__(
            f"{case_ref}: event '{event}' is not allowed in state '{state}'; "
            f"allowed events there: {options}"
        )
        self.case_ref, self.state, self.event = case_ref, state, event


class CaseNotFound(DsrError, LookupError):
    """No case with that reference exists."""


class RecordNotFound(DsrError, LookupError):
    """No inbound record with that number (`dsr inbox`)."""


class NotAuthorized(DsrError, PermissionError):
    """The actor may not perform this action."""


class NotAvailable(DsrError, RuntimeError):
    """A command that exists in the interface but is not built yet."""
