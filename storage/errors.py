"""Errors raised by the storage layer (case store, audit log, customer store).

StorageError (RuntimeError)
 ├── AuditChainError        the audit log does not verify (names the first broken seq)
 ├── AuditWriteError        an audit event could not be appended
 ├── SchemaError            the database is not at the expected migration
 └── ConcurrentUpdateError  a row changed under us (optimistic check failed)
"""

from __future__ import annotations


class StorageError(RuntimeError):
    """Base of every storage error."""


class AuditChainError(StorageError):
    """The audit chain is broken; `seq` is the first event that does not verify."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"audit log broken at event {seq}: {reason}")
        self.seq = seq
        self.reason = reason


class AuditWriteError(StorageError):
    """An audit event could not be appended."""


class SchemaError(StorageError):
    """The case store is missing or not at the current migration."""


class ConcurrentUpdateError(StorageError):
    """A row changed between read and write; the caller should reload and retry."""
