"""A customer's full name: stored at onboarding as given (trimmed) and read back by any process; an empty
or over-long name is refused with ``invalid_name`` before anything is written."""
from __future__ import annotations

import pytest

from sandbox.city import CryptoCity
from sandbox.errors import InvalidName
from sandbox.services import customers


def test_a_full_name_is_stored_and_read_back_by_another_process(db_url):
    city = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    other = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    try:
        out = city.onboard(actor="aigerim", full_name="  Aigerim Seitkali ", kyc_tier="full")
        city.onboard(actor="bob", kyc_tier="basic")
        seen = other.read(lambda ctx, uow: customers.customer(uow, "aigerim"))
        assert (seen.full_name, seen.iban) == ("Aigerim Seitkali", out.iban)
        assert other.read(lambda ctx, uow: customers.customer(uow, "bob")).full_name is None
        city.verify()
    finally:
        other.close()
        city.close()


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "tab\there", 42])
def test_an_empty_or_overlong_name_is_refused_and_changes_nothing(sqlite_url, name):
    city = CryptoCity.from_config("crypto-city", db=sqlite_url, seed=7)
    try:
        with pytest.raises(InvalidName) as refused:
            city.onboard(actor="aigerim", full_name=name, kyc_tier="full")
        assert refused.value.code == "invalid_name" and "full name" in str(refused.value)
        assert city.read(lambda ctx, uow: customers.customers(uow)) == []
        city.verify()
    finally:
        city.close()
