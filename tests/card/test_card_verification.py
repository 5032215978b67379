"""The card package's own verification, without a city: card-not-present checks through CardService,
the freeze after three failures (a card status event, the flag on the decline), and what ``presented``
accepts."""
from __future__ import annotations

from datetime import timedelta

import pytest
from card_helpers import setup_city, snapshot

from card import response_codes as rc
from card import verification
from card.errors import InvalidRequest


def test_card_not_present_declines_54_then_n7_and_the_third_failure_freezes_the_card(ledger, clock):
    cards, card = setup_city(ledger, tenge_minor=100_000_00)
    with ledger.unit_of_work(read_only=True) as uow:
        cvv = verification.reveal(uow, card.id).cvv
    expiry = f"{card.expiry_month:02d}/{card.expiry_year % 100:02d}"
    wrong = f"{(int(cvv) + 1) % 1000:03d}"
    before = snapshot(ledger)

    def buy(key, given_expiry, given_cvv):
        return cards.authorize(card_id=card.id, amount_minor=1_000_00, merchant_id="cafe", idempotency_key=key,
                               presented=verification.presented("card_not_present", given_expiry, given_cvv))
    assert buy("k1", expiry, wrong).response_code == rc.CVV_MISMATCH == "N7"
    clock.advance(timedelta(hours=23))
    assert buy("k2", f"{card.expiry_month:02d}/{(card.expiry_year + 1) % 100:02d}", cvv).response_code == "54"
    third = buy("k3", expiry, wrong)
    assert third.response_code == "N7" and [f[0] for f in third.flags] == [verification.FLAG_RULE]
    assert snapshot(ledger) == before and cards.card(card.id).status == "frozen"
    assert buy("k4", expiry, cvv).response_code == rc.RESTRICTED_CARD
    assert rc.reason("N7").startswith("CVV2 mismatch")
    ledger.verify()


@pytest.mark.parametrize("args", [("card_not_present", None, "123"), ("card_not_present", "06/28", None),
                                  ("card_not_present", "00/28", "123"), ("card_not_present", "06/28", "12"),
                                  ("card_present", "06/28", None), ("atm", None, None)])
def test_presented_refuses_what_cannot_be_checked_without_echoing_the_cvv(args):
    with pytest.raises(InvalidRequest) as refused:
        verification.presented(*args)
    assert "123" not in str(refused.value)


def test_presented_reads_mm_yy_and_mm_yyyy():
    assert verification.presented("card_not_present", "06/28", "007").expiry == (6, 2028)
    assert verification.presented("card_not_present", "12/2031", "007").expiry == (12, 2031)
    assert verification.presented() == verification.CARD_PRESENT_PURCHASE
    assert "007" not in repr(verification.presented("card_not_present", "06/28", "007"))
