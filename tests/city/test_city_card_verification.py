"""Card verification through the facade: random card numbers under the BIN, the card-not-present checks
(54 wrong expiry, N7 wrong CVV2), the freeze and AML flag after 3 failures in 24 h, the operator's reveal,
and the CVV never written anywhere."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from databases import cells_holding
from racing import race
from sqlalchemy import select
from stdnum import luhn

from card.pan import make_pan
from sandbox.city import CryptoCity
from sandbox.tables import audit_log

COFFEE = "alatau-coffee"
CNP = "card_not_present"


@pytest.fixture
def city(db_url):
    c = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    yield c
    c.close()


def _other(cvv: str) -> str:
    return f"{(int(cvv) + 1) % 1000:03d}"


def _wrong_expiry(expiry: str) -> str:
    month, year = expiry.split("/")
    return f"{month}/{int(year) + 1:02d}"


def cvv_written_anywhere(city, cvv: str) -> list[str]:
    return cells_holding(city.ledger.db.engine, cvv)


def test_card_numbers_are_random_under_the_bin_with_a_luhn_digit_and_the_same_seed_gives_the_same(tmp_path):
    def pans(seed: int, name: str) -> list[str]:
        c = CryptoCity.from_config("crypto-city", db=f"sqlite:///{tmp_path / name}", seed=seed)
        try:
            return [c.onboard(actor=f"p{i}", kyc_tier="full").pan for i in range(6)]
        finally:
            c.close()
    first, again, other = pans(7, "a.db"), pans(7, "b.db"), pans(8, "c.db")
    assert first == again                       # deterministic for a seeded city
    assert set(first).isdisjoint(other)          # another seed, other numbers
    bin_prefix = "400000"                        # crypto-city's card.test_bin
    assert all(p.startswith(bin_prefix) and len(p) == 16 and luhn.is_valid(p) for p in first)
    bodies = sorted(int(p[6:15]) for p in first)
    assert all(b - a > 1 for a, b in zip(bodies, bodies[1:]))       # not one after another
    assert not set(first) & {make_pan(i, bin_prefix) for i in range(1, 1000)}   # not the old sequence


def test_card_not_present_checks_the_expiry_then_the_cvv2_and_card_present_needs_neither(city):
    card = city.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 100_000_00})
    assert len(card.cvv) == 3 and card.cvv.isdigit() and len(card.expiry) == 5 and "cvv" not in repr(card)
    before = city.balances("aigerim")
    wrong_cvv = city.pay(actor="aigerim", merchant=COFFEE, amount_minor=1_000_00, ref="w1", channel=CNP,
                         expiry=card.expiry, cvv=_other(card.cvv))
    assert (wrong_cvv.status, wrong_cvv.response_code) == ("declined", "N7") and "CVV2" in wrong_cvv.reason
    wrong_expiry = city.pay(actor="aigerim", merchant=COFFEE, amount_minor=1_000_00, ref="w2", channel=CNP,
                            expiry=_wrong_expiry(card.expiry), cvv=card.cvv)
    assert (wrong_expiry.status, wrong_expiry.response_code) == ("declined", "54")
    assert "expiry date given does not match" in wrong_expiry.reason
    assert city.balances("aigerim") == before   # declines move nothing
    online = city.pay(actor="aigerim", merchant=COFFEE, amount_minor=1_000_00, ref="ok", channel=CNP,
                      expiry=card.expiry, cvv=card.cvv)
    assert online.response_code == "00"
    tap = city.pay(actor="aigerim", merchant=COFFEE, amount_minor=1_000_00, ref="tap")   # card-present: no CVV
    assert tap.response_code == "00"
    # malformed verification data is refused before anything is recorded
    for bad in ({"channel": CNP, "expiry": card.expiry}, {"channel": CNP, "cvv": card.cvv},
                {"channel": CNP, "expiry": "13/28", "cvv": card.cvv}, {"channel": CNP, "expiry": card.expiry,
                                                                       "cvv": "12a"},
                {"channel": "card_present", "cvv": card.cvv}, {"channel": "mail"}):
        with pytest.raises(Exception) as refused:
            city.pay(actor="aigerim", merchant=COFFEE, amount_minor=1_000_00, ref="bad", **bad)
        assert refused.value.code == "invalid_request" and card.cvv not in str(refused.value), bad
    assert [line["response_code"] for line in city.cards.customer_statement("aigerim")] == ["N7", "54", "00", "00"]
    city.verify()


def test_three_failed_verifications_in_24_hours_freeze_the_card_and_raise_an_aml_flag(city):
    card = city.onboard(actor="dana", kyc_tier="full", deposits={"KZT": 100_000_00})
    start = city.last_event_id()
    answers = []
    for i, (expiry, cvv) in enumerate([(card.expiry, _other(card.cvv)), (_wrong_expiry(card.expiry), card.cvv),
                                       (card.expiry, _other(_other(card.cvv)))]):
        city.advance(timedelta(hours=5))
        answers.append(city.pay(actor="dana", merchant=COFFEE, amount_minor=500_00, ref=f"try{i}", channel=CNP,
                                expiry=expiry, cvv=cvv))
    assert [a.response_code for a in answers] == ["N7", "54", "N7"]
    assert [a.flags for a in answers[:2]] == [[], []]
    [(rule, detail)] = answers[2].flags
    assert rule == "card_verification" and "card frozen" in detail
    assert city.cards.card(card.card_id).status == "frozen"
    events = city.events(after=start, limit=100)
    flags = [e for e in events if e["type"] == "aml.flag_raised"]
    assert [f["data"]["rule"] for f in flags] == ["card_verification"]
    assert flags[0]["data"]["authorization_id"] == answers[2].authorization_id
    assert [e["data"]["change"] for e in events if e["type"] == "card.updated"] == ["frozen"]
    assert ("card_verification", detail) in city.flags("dana")
    # a 4th attempt, even with the right details, declines as frozen
    fourth = city.pay(actor="dana", merchant=COFFEE, amount_minor=500_00, ref="try3", channel=CNP,
                      expiry=card.expiry, cvv=card.cvv)
    assert fourth.response_code == "62" and "frozen" in fourth.reason
    with city.ledger.unit_of_work(read_only=True) as uow:
        actions = [r.action for r in uow.conn.execute(select(audit_log.c.action).order_by(audit_log.c.seq))]
    assert actions.count("card.freeze") == 1
    assert city.balances("dana")["KZT"] == 100_000_00
    # unfrozen by the operator, the failures before the freeze no longer count
    city.unfreeze_card(card_id=card.card_id, by="operator")
    again = city.pay(actor="dana", merchant=COFFEE, amount_minor=500_00, ref="try4", channel=CNP,
                     expiry=card.expiry, cvv=_other(card.cvv))
    assert again.response_code == "N7" and not again.flags and city.cards.card(card.card_id).status == "active"
    city.verify()


def test_failures_spread_over_more_than_24_hours_do_not_freeze(city):
    card = city.onboard(actor="erlan", kyc_tier="full", deposits={"KZT": 100_000_00})
    for i in range(5):
        res = city.pay(actor="erlan", merchant=COFFEE, amount_minor=100_00, ref=f"slow{i}", channel=CNP,
                       expiry=card.expiry, cvv=_other(card.cvv))
        assert res.response_code == "N7" and not res.flags
        city.advance(timedelta(hours=12, minutes=1))   # at most two failures in any 24 hours
    assert city.cards.card(card.card_id).status == "active"
    assert city.pay(actor="erlan", merchant=COFFEE, amount_minor=100_00, ref="good", channel=CNP,
                    expiry=card.expiry, cvv=card.cvv).response_code == "00"
    city.verify()


def test_the_operator_reveal_gives_the_details_shown_at_issue_and_is_audited_without_the_cvv(city):
    card = city.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 10_000_00})
    shown = city.reveal_card(card_id=card.card_id, by="ops-1")
    assert (shown.pan, shown.expiry, shown.cvv, shown.cardholder) == (card.pan, card.expiry, card.cvv, "aigerim")
    assert card.cvv not in repr(shown)
    with city.ledger.unit_of_work(read_only=True) as uow:
        [entry] = uow.conn.execute(select(audit_log).where(audit_log.c.action == "card.revealed")).all()
    assert entry.actor == "ops-1" and entry.subject == str(card.card_id)
    assert card.pan not in entry.details and card.pan[-4:] in entry.details
    with pytest.raises(Exception) as unknown:
        city.reveal_card(card_id=999)
    assert unknown.value.code == "card_not_found"


def test_the_cvv_is_never_written_to_the_database_events_or_logs(city, caplog):
    caplog.set_level("DEBUG")
    card = city.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 10_000_00})
    for i in range(3):
        city.pay(actor="aigerim", merchant=COFFEE, amount_minor=100_00, ref=f"x{i}", channel=CNP,
                 expiry=card.expiry, cvv=_other(card.cvv))
    city.unfreeze_card(card_id=card.card_id, by="operator")
    city.pay(actor="aigerim", merchant=COFFEE, amount_minor=100_00, ref="ok", channel=CNP, expiry=card.expiry,
             cvv=card.cvv)
    city.reveal_card(card_id=card.card_id)
    assert cvv_written_anywhere(city, card.cvv) == []
    assert cvv_written_anywhere(city, _other(card.cvv)) == []
    events = json.dumps(city.events(limit=100))
    assert '"cvv"' not in events and f'"{card.cvv}"' not in events
    assert all(card.cvv not in r.getMessage() for r in caplog.records if "cvv" in r.getMessage().lower())
    city.verify()


@pytest.mark.postgres
def test_failures_racing_freeze_the_card_once(pg_url):
    city = CryptoCity.from_config("crypto-city", db=pg_url, seed=7)
    try:
        card = city.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 10_000_00})
        results = race(6, lambda i: city.pay(actor="aigerim", merchant=COFFEE, amount_minor=100_00, ref=f"r{i}",
                                             channel=CNP, expiry=card.expiry, cvv=_other(card.cvv)))
        assert not [r for r in results if isinstance(r, Exception)]
        codes = sorted(r.response_code for r in results)
        assert set(codes) <= {"N7", "62"} and codes.count("N7") >= 3
        assert sum(1 for r in results if r.flags) == 1            # one freeze, one AML flag
        assert city.cards.card(card.card_id).status == "frozen"
        assert [e["type"] for e in city.events(limit=100)].count("aml.flag_raised") == 1
        city.verify()
    finally:
        city.close()
