"""The exit codes every `dsr` command keeps, and which of our errors means which.

0 done; 1 failed (the work was attempted and did not complete: a database that cannot be
reached, a write that failed, a broken audit chain); 2 usage or nothing to do (bad arguments or
settings, an unknown case or customer, an action that changed nothing).
"""

from __future__ import annotations

from bot.errors import DatabaseUnavailable, DsrError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def exit_code_for(exc: BaseException) -> int:
    """`EXIT_FAILED` for work that was attempted and failed, else `EXIT_USAGE`."""
    from storage.errors import AuditChainError, AuditWriteError, ConcurrentUpdateError, SealError

    # a sealed value that does not open is a damaged store (or a missing key), not a usage slip
    failed = (AuditChainError, AuditWriteError, ConcurrentUpdateError, SealError, ConnectionError)
    return EXIT_FAILED if isinstance(exc, failed) else EXIT_USAGE


def as_our_error(exc: BaseException) -> BaseException | None:
    """`exc` if it is one of ours; a database error that escaped the adapters as one
    `DatabaseUnavailable` naming the settings; None for anything else (a bug: let it show)."""
    from storage.errors import StorageError

    if isinstance(exc, DsrError | StorageError):
        return exc
    import socket

    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError | ConnectionError | TimeoutError | socket.gaierror):
        kind = type(getattr(exc, "orig", None) or exc).__name__
        return DatabaseUnavailable(
            f"a database could not be used ({kind}); check that the server behind "
            "DSR_DATABASE_URL / DSR_CUSTOMER_DATABASE_URL is running and reachable, then try again"
        )
    return None
