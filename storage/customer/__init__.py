"""The customer store: reference schema, executor over the data map, access packages.

`Executor` is imported lazily so that `storage.datamap` (which raises our errors) can be
imported first without a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.customer.errors import (
    AmbiguousSubject,
    CustomerStoreError,
    DataMapError,
    ImportFileError,
    InvalidChange,
    SubjectNotFound,
)
from storage.customer.plans import (
    AccessPackage,
    ChangePlan,
    ErasurePlan,
    FieldChange,
    OperationResult,
    Subject,
    SubjectMatch,
    TableCount,
    TableErasure,
)

if TYPE_CHECKING:
    from storage.customer.executor import Executor, Ledger


def __getattr__(name: str) -> Any:
    if name in ("Executor", "Ledger"):
        from storage.customer import executor

        return getattr(executor, name)
    raise AttributeError(f"module 'storage.customer' has no attribute {name!r}")


__all__ = [
    "AccessPackage",
    "AmbiguousSubject",
    "ChangePlan",
    "CustomerStoreError",
    "DataMapError",
    "ErasurePlan",
    "Executor",
    "FieldChange",
    "ImportFileError",
    "InvalidChange",
    "Ledger",
    "OperationResult",
    "Subject",
    "SubjectMatch",
    "SubjectNotFound",
    "TableCount",
    "TableErasure",
]
