"""Validators for rectified values (pure): normalisation, refusals naming the field, no echo."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import storage.customer
from storage.customer.errors import InvalidChange
from storage.customer.validate import normalise


@pytest.mark.parametrize(
    ("kind", "value", "country", "expected"),
    [
        ("phone", "+49 (30) 901820", None, "+4930901820"),
        ("phone", "030 901820", "DE", "+4930901820"),
        ("phone", "(202) 555-0143", "us", "+12025550143"),
        ("email", "Jane.Doe@EXAMPLE.org", None, "Jane.Doe@example.org"),
        ("name", "  Zoë   O'Brien-Åberg ", None, "Zoë O'Brien-Åberg"),
        ("country", " fr ", None, "FR"),
        ("postal_code", "sw1a 1aa", "GB", "SW1A 1AA"),
        ("postal_code", "00-950", "PL", "00-950"),
        ("text", "Rue   de la Paix 5", None, "Rue de la Paix 5"),
    ],
    ids=[
        "phone-intl",
        "phone-national",
        "phone-us",
        "email",
        "name",
        "country",
        "gb",
        "pl",
        "text",
    ],
)
def test_normalises(kind: str, value: str, country: str | None, expected: str) -> None:
    assert normalise(kind, "f", value, country) == expected


@pytest.mark.parametrize(
    ("kind", "value", "country"),
    [
        ("phone", "030 901820", None),
        ("phone", "+49 1", None),
        ("email", "jane@@example.org", None),
        ("name", "Jane 2", None),
        ("country", "Germany", None),
        ("postal_code", "1234", "DE"),
        ("text", "", None),
        ("text", "line\nbreak\x07", None),
    ],
    ids=[
        "phone-no-region",
        "phone-short",
        "email",
        "name-digit",
        "country",
        "postal",
        "empty",
        "ctrl",
    ],
)
def test_refuses_naming_the_field(kind: str, value: str, country: str | None) -> None:
    with pytest.raises(InvalidChange) as info:
        normalise(kind, "the_field", value, country)
    assert info.value.field == "the_field" and "'the_field'" in str(info.value)


@given(
    st.sampled_from(["phone", "email", "name", "postal_code", "country", "text"]),
    st.text(max_size=30),
)
def test_errors_never_echo_the_value(kind: str, tail: str) -> None:
    value = "qzxq" + tail  # a marker that no message contains by itself
    try:
        result = normalise(kind, "f", value, "DE")
    except InvalidChange as exc:
        assert "qzxq" not in str(exc).lower()
    else:
        assert normalise(kind, "f", result, "DE") == result  # normalising is idempotent


def test_public_api_is_pinned() -> None:
    assert sorted(storage.customer.__all__) == [
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
