"""Every verb that changes the city writes its events, exactly once, in the same transaction; a verb that
changes nothing (a replay, a refusal, a no-op) writes none."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from sandbox import events
from sandbox.services import cards

BTC_KZT = "BTC/KZT"


def written_by(city, verb):
    """(result or error, the events ``verb(city)`` wrote)."""
    mark = city.last_event_id()
    try:
        outcome = verb(city)
    except Exception as error:  # noqa: BLE001 - a refusal is an outcome here
        outcome = error
    return outcome, city.events(after=mark)


def types(found):
    return [e["type"] for e in found]


def _paid(city, ref="coffee", amount_minor=1_500_00):
    result = city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=amount_minor, ref=ref)
    assert result.status == "approved"
    return result


def _resting_order(city):
    return city.place_order(actor="aigerim", instrument=BTC_KZT, side="buy", type="limit", qty_minor=1_000_000,
                            price_minor=1_000_000_00)   # 0.01 BTC at 1 000 000 KZT: far below the market


# (name, set-up, the verb, the event types it writes, in order)
CASES = [
    ("onboard", None, lambda c: c.onboard(actor="dana", kyc_tier="basic", deposits={"KZT": 5_000_00}),
     ["customer.created", "card.created", "deposit.confirmed"]),
    ("kyc changed", None, lambda c: c.set_kyc_tier(actor="bob", kyc_tier="full", reason="documents"),
     ["customer.kyc_changed"]),
    ("kyc unchanged", None, lambda c: c.set_kyc_tier(actor="bob", kyc_tier="basic"), []),
    ("freeze", None, lambda c: c.freeze_card(card_id=1, by="aigerim"), ["card.updated"]),
    ("unfreeze", lambda c: c.freeze_card(card_id=1, by="aigerim"), lambda c: c.unfreeze_card(card_id=1, by="aigerim"),
     ["card.updated"]),
    ("freeze a frozen card (refused)", lambda c: c.freeze_card(card_id=1, by="aigerim"),
     lambda c: c.freeze_card(card_id=1, by="aigerim"), []),
    ("controls", None, lambda c: c.run(cards.update_controls, card_id=1, by="aigerim",
                                       controls={"per_transaction_limit_minor": 1_000_00, "daily_limit_minor": 5_000_00,
                                                 "daily_count_limit": 5}),
     ["card.updated"]),
    ("the same controls again", None,
     lambda c: c.run(cards.update_controls, card_id=1, by="aigerim", controls=c.cards.card(1).controls.to_dict()),
     []),
    ("funding", None, lambda c: c.run(cards.update_funding, card_id=1, by="aigerim", order=["BTC", "USDT"]),
     ["card.updated"]),
    ("pay approved", None, lambda c: _paid(c), ["authorization.created"]),
    ("pay declined", None,
     lambda c: c.pay(actor="bob", merchant="alatau-coffee", amount_minor=90_000_00, ref="too-much"),
     ["authorization.created"]),
    ("pay replayed", lambda c: _paid(c), lambda c: _paid(c), []),
    ("pay flagged", None, lambda c: _paid(c, ref="tv", amount_minor=250_000_00),
     ["authorization.created", "aml.flag_raised"]),
    ("pay by an unknown actor (refused)", None,
     lambda c: c.pay(actor="nobody", merchant="alatau-coffee", amount_minor=100, ref="x"), []),
    ("capture", lambda c: _paid(c), lambda c: c.capture(ref="coffee"), ["authorization.captured"]),
    ("capture replayed by key", lambda c: (_paid(c), c.capture(ref="coffee", key="cap-1")),
     lambda c: c.capture(ref="coffee", key="cap-1"), []),
    ("capture twice (nothing to capture)", lambda c: (_paid(c), c.capture(ref="coffee")),
     lambda c: c.capture(ref="coffee"), []),
    ("reverse", lambda c: _paid(c), lambda c: c.reverse(ref="coffee"), ["authorization.reversed"]),
    ("refund", lambda c: (_paid(c), c.capture(ref="coffee")), lambda c: c.refund(ref="coffee", amount_minor=500_00),
     ["authorization.refunded"]),
    ("increment", lambda c: _paid(c), lambda c: c.increment(ref="coffee", amount_minor=500_00, key="inc-1"),
     ["authorization.incremented"]),
    ("increment declined", lambda c: _paid(c),
     lambda c: c.increment(ref="coffee", amount_minor=300_000_00, key="inc-1"), ["authorization.increment_declined"]),
    ("increment replayed by key", lambda c: (_paid(c), c.increment(ref="coffee", amount_minor=500_00, key="inc-1")),
     lambda c: c.increment(ref="coffee", amount_minor=500_00, key="inc-1"), []),
    ("advice", None, lambda c: c.advise(actor="bob", merchant="alatau-coffee", amount_minor=1_000_00, ref="offline"),
     ["authorization.advice_booked"]),
    ("advice replayed", lambda c: c.advise(actor="bob", merchant="alatau-coffee", amount_minor=1_000_00, ref="offline"),
     lambda c: c.advise(actor="bob", merchant="alatau-coffee", amount_minor=1_000_00, ref="offline"), []),
    ("partial capture", lambda c: _paid(c), lambda c: c.capture(ref="coffee", amount_minor=500_00, final=False),
     ["authorization.captured"]),
    ("over-capture beyond the tolerance (refused)", lambda c: _paid(c),
     lambda c: c.capture(ref="coffee", amount_minor=1_800_01), []),
    ("expire now", lambda c: _paid(c), lambda c: c.expire(ref="coffee"), ["authorization.expired"]),
    ("expire an expired hold (refused)", lambda c: (_paid(c), c.expire(ref="coffee")),
     lambda c: c.expire(ref="coffee"), []),
    ("force post", None,
     lambda c: c.force_post(actor="aigerim", merchant="alatau-coffee", amount_minor=1_000_00, ref="offline"),
     ["authorization.force_posted"]),
    ("unlinked refund", lambda c: (_paid(c), c.capture(ref="coffee")),
     lambda c: c.unlinked_refund(actor="aigerim", merchant="alatau-coffee", amount_minor=100_00, ref="goodwill"),
     ["authorization.refunded"]),
    ("advance", None, lambda c: c.advance(timedelta(hours=1)), ["clock.advanced"]),
    ("advance past a hold", lambda c: _paid(c), lambda c: c.advance("8d"),
     ["authorization.expired", "clock.advanced"]),
    ("deposit", None, lambda c: c.deposit(actor="bob", asset="KZT", amount_minor=1_000_00), ["deposit.confirmed"]),
    ("faucet", None, lambda c: c.faucet(actor="bob", asset="KZT", amount_minor=1_000_00), ["deposit.confirmed"]),
    ("deposit of nothing (refused)", None, lambda c: c.deposit(actor="bob", asset="KZT", amount_minor=0), []),
    ("limit order resting", None, _resting_order, ["order.created"]),
    ("cancel", lambda c: _resting_order(c), lambda c: c.cancel_order(order_id=c.last_order_id),
     ["order.cancelled"]),
    ("suspend", None, lambda c: c.suspend_licence(licence_id="AFSA-TF-001", reason="inspection"),
     ["licence.suspended"]),
    ("suspend a suspended licence", lambda c: c.suspend_licence(licence_id="AFSA-TF-001"),
     lambda c: c.suspend_licence(licence_id="AFSA-TF-001"), []),
    ("reinstate", lambda c: c.suspend_licence(licence_id="AFSA-TF-001"),
     lambda c: c.reinstate_licence(licence_id="AFSA-TF-001", reason="passed"), ["licence.reinstated"]),
    ("reinstate an active licence", None, lambda c: c.reinstate_licence(licence_id="AFSA-TF-001"), []),
    ("renew", None, lambda c: c.renew_licence(licence_id="AFSA-TF-001", valid_until=datetime(2028, 1, 1, tzinfo=UTC),
                                                   exit_plan="wind-down"),
     ["licence.renewed"]),
]
# Written by the tests below (an exchange fill, the chain verbs).
ELSEWHERE = {"trade.created", "order.filled", "kzte.minted", "kzte.redeemed", "kzte.address_frozen",
             "kzte.address_unfrozen", "deposit.pending", "withdrawal.created", "withdrawal.confirmed",
             "mining.reward", "mining.levy_charged", "mining.farm_closed",   # tests/mining/
             "incident.started", "incident.resolved"}   # incidents: tests/web/test_web_incidents.py


def test_every_event_type_is_covered_by_a_case():
    covered = {t for case in CASES for t in case[3]} | ELSEWHERE
    assert covered == set(events.EVENT_TYPES)


@pytest.mark.parametrize(("name", "setup", "act", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_verb_writes_its_events_once_and_a_no_op_writes_none(city, name, setup, act, expected):
    if setup is not None:
        out = setup(city)
        if hasattr(out, "order_id"):
            city.last_order_id = out.order_id
    outcome, found = written_by(city, act)
    if expected:
        assert not isinstance(outcome, Exception), outcome
    assert types(found) == expected, (name, outcome)
    ids = [events.parse_id(e["id"]) for e in found]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(e["created_at"] == city.now().isoformat() for e in found)
    city.verify()


def test_a_market_buy_writes_the_order_each_trade_and_the_fill(city):
    outcome, found = written_by(city, lambda c: c.place_order(actor="aigerim", instrument=BTC_KZT, side="buy",
                                                              type="market", quote_qty_minor=50_000_00))
    assert outcome.status == "filled" and outcome.fills
    counts = Counter(types(found))
    assert counts == {"order.created": 1, "trade.created": len(outcome.fills), "order.filled": 1}
    assert types(found)[0] == "order.created" and types(found)[-1] == "order.filled"
    trades = [e["data"] for e in found if e["type"] == "trade.created"]
    assert sum(t["qty_minor"] for t in trades) == outcome.filled_qty_minor
    assert {t["order_id"] for t in trades} == {outcome.order_id}
    city.verify()


def test_an_authorization_event_carries_its_answer(city):
    declined = city.pay(actor="bob", merchant="alatau-coffee", amount_minor=90_000_00, ref="too-much")
    (event,) = city.events(after=None, types=["authorization.created"])
    data = event["data"]
    assert declined.status == "declined" and declined.response_code != "00"
    assert (data["status"], data["response_code"], data["reason"]) == ("declined", declined.response_code,
                                                                        declined.reason)
    assert data["amount_minor"] == 90_000_00 and data["customer"] == "bob" and data["merchant_id"] == "alatau-coffee"
    assert event["id"].startswith("evt_") and event["request"] == {"id": None, "idempotency_key": None}
    city.verify()


def test_writing_the_events_costs_one_statement_per_unit_of_work(city):
    from sandbox.services import payments
    with city.ledger.unit_of_work() as uow:
        city.ctx.begin(uow)
        payments.pay(city.ctx, uow, actor="aigerim", merchant="alatau-coffee", amount_minor=1_500_00, ref="c")
        payments.pay(city.ctx, uow, actor="aigerim", merchant="alatau-coffee", amount_minor=1_000_00, ref="d")
        assert events.pending(uow) == ["authorization.created", "authorization.created"]
        before, queued = uow.statements, uow.queued_at_commit   # the audit entries, sent with the COMMIT too
        uow.commit()
        assert uow.statements - before == queued + 1
    assert types(city.events())[-2:] == ["authorization.created", "authorization.created"]
    city.verify()


def test_a_rolled_back_unit_of_work_writes_no_event_and_a_savepoint_forgets_its_own(city):
    with city.ledger.unit_of_work() as uow:
        city.ctx.begin(uow)
        events.emit(uow, "clock.advanced", {"object": "clock"})
        with pytest.raises(RuntimeError):
            with uow.savepoint():
                events.emit(uow, "licence.suspended", {"object": "licence"})
                raise RuntimeError("undo the savepoint")
        assert events.pending(uow) == ["clock.advanced"]
    assert city.events(types=["clock.advanced", "licence.suspended"]) == []


def test_snapshots_are_bounded():
    from sandbox.events.log import MAX_DATA_CHARS, bounded_json
    text = bounded_json({"object": "authorization", "authorization_id": 7, "sold": [{"leg": "x" * 100}] * 500})
    assert len(text) <= MAX_DATA_CHARS and '"truncated":true' in text and '"authorization_id":7' in text


def test_event_ids_and_types_are_checked():
    assert events.parse_id(events.format_id(42)) == 42 and events.parse_id(None) == 0
    for bad in ("42", "evt_", "evt_x1", "evt_1" + "0" * 20):
        with pytest.raises(events.InvalidEventId):
            events.parse_id(bad)
    with pytest.raises(events.UnknownEventType):
        events.check_types(["authorization.created", "payment.made"])


def test_the_chain_verbs_write_their_events_once(city):
    """KZTE mint, redeem and an address freeze (the in-process EVM), an on-chain BTC deposit and a
    withdrawal (the regtest node): each writes its events once; a replay or a no-op writes none."""
    from sandbox.services import stablecoin
    from wallet.keys import HDKeys, MasterSeed

    checks = [
        (lambda c: c.mint(actor="aigerim", amount_minor=1_000_00), ["kzte.minted"]),
        (lambda c: c.redeem(actor="aigerim", amount_minor=400_00), ["kzte.redeemed"]),
        (lambda c: c.onchain_deposit(actor="bob", amount_minor=200_000), ["deposit.pending", "deposit.confirmed"]),
    ]
    dest = HDKeys(MasterSeed.for_sandbox("outside-wallet")).address("bitcoin", "deposit", 0)
    withdraw = lambda c: c.withdraw(actor="aigerim", address=dest, amount_minor=300_000, key="w-1")  # noqa: E731
    checks += [(withdraw, ["withdrawal.created", "withdrawal.confirmed"]), (withdraw, [])]
    holder = "0x" + "ab" * 20
    freeze = lambda frozen: lambda c: c.run(stablecoin.set_address_frozen, address=holder,  # noqa: E731
                                            frozen=frozen, by="nbk-sandbox", reason="court order")
    checks += [(freeze(True), ["kzte.address_frozen"]), (freeze(True), []), (freeze(False), ["kzte.address_unfrozen"])]
    for act, expected in checks:
        outcome, found = written_by(city, act)
        assert not isinstance(outcome, Exception), outcome
        assert types(found) == expected, (expected, outcome)
    confirmed = city.events(types=["withdrawal.confirmed"])[0]["data"]
    assert (confirmed["status"], confirmed["amount_minor"], confirmed["address"]) == ("confirmed", 300_000, dest)
    city.verify()
