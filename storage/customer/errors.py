"""Errors of the customer store, the data map and the executor.

CustomerStoreError (storage.errors.StorageError)
 ├── DataMapError (ValueError)        the data map is malformed or does not fit the database
 ├── SubjectNotFound (LookupError)    no row holds that identity
 ├── AmbiguousSubject (LookupError)   several accounts hold that identity
 ├── InvalidChange (ValueError)       a change names an unknown field or an invalid value
 └── ImportFileError (ValueError)     an import file has bad lines (all are listed)

`CustomerStoreError` and `DataMapError` are defined in `storage.errors` (so that
`storage.datamap` need not import this package) and re-exported here.
"""

from __future__ import annotations

from storage.errors import CustomerStoreError, DataMapError

__all__ = [
    "AmbiguousSubject",
    "CustomerStoreError",
    "DataMapError",
    "ImportFileError",
    "InvalidChange",
    "SubjectNotFound",
]


class SubjectNotFound(CustomerStoreError, LookupError):
    """No row in any mapped table holds the identity."""


class AmbiguousSubject(CustomerStoreError, LookupError):
    """The identity matches several accounts; the caller must pick one (e.g. by handle)."""

    def __init__(self, count: int, labels: tuple[str, ...]) -> None:
        super().__init__(
            f"the identity matches {count} accounts ({', '.join(labels)}); "
            "repeat the command with one account's handle or username"
        )
        self.count, self.labels = count, labels


class InvalidChange(CustomerStoreError, ValueError):
    """A requested change is not allowed or its value is invalid; nothing was changed."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field {field!r}: {reason}; nothing was changed")
        self.field, self.reason = field, reason


class ImportFileError(CustomerStoreError, ValueError):
    """An import file has invalid lines; nothing was imported."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        shown = "; ".join(f"line {n}: {msg}" for n, msg in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(
            f"{len(problems)} invalid line(s), nothing was imported: {shown}{more}; "
            "fix the lines and run the import again"
        )
        self.problems = problems
