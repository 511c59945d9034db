"""The customer store: reference schema, executor over the data map, access packages."""

from __future__ import annotations

from storage.customer.errors import (
    AmbiguousSubject,
    CustomerStoreError,
    DataMapError,
    ImportFileError,
    InvalidChange,
    SubjectNotFound,
)
from storage.customer.executor import Executor, Ledger
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
