"""Errors raised by the storage layer (case store, audit log, customer store).

StorageError (RuntimeError)
 ├── AuditChainError        the audit log does not verify (names the first broken seq)
 ├── AuditWriteError        an audit event could not be appended
 ├── SchemaError            the database is not at the expected migration
 ├── ConcurrentUpdateError  a row changed under us (optimistic check failed)
 ├── SealError              a sealed value does not open (changed, or its key is missing)
 └── CustomerStoreError     the customer store; its other errors are in storage.customer.errors
      └── DataMapError (ValueError)  the data map is malformed or does not fit the database

`CustomerStoreError` and `DataMapError` live here, not in `storage.customer.errors`, because
`storage.datamap` raises `DataMapError` and `storage.customer` imports `storage.datamap`: defining
them in the package would make the two import each other.
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


class SealError(StorageError):
    """A sealed value in `where` (`table.column`) does not open; `case_ref` names the case when
    the caller knows it (never the customer)."""

    def __init__(self, where: str, reason: str, case_ref: str | None = None) -> None:
        self.where, self.reason, self.case_ref = where, reason, case_ref
        prefix = f"{case_ref}: " if case_ref else ""
        super().__init__(f"{prefix}the sealed value in {where} {reason}")

    def of_case(self, case_ref: str) -> SealError:
        """The same error, naming the case it belongs to."""
        return SealError(self.where, self.reason, case_ref)


class CustomerStoreError(StorageError):
    """Base of the customer-store errors."""


class DataMapError(CustomerStoreError, ValueError):
    """The data map cannot be used; the message names the table and column and the fix."""
