"""A few sandbox days of a living city, from a seed: people and shops (``populate``), then each day a
few card purchases, a deposit, a trade, and on the second day a licence incident (the exchange's
trading-facility licence suspended for a few hours, purchases that need a crypto sale declined meanwhile,
then reinstated).

Every step is one of the facade's verbs (one committed transaction each), so the dashboard, the event log
and the reports show it all. The same seed on a fresh database gives the same city; a small one takes a
few seconds.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from ledger.errors import DomainError

from ..populate import populate

DAY_STEPS = 4                           # the clock moves on in quarter days: the makers requote each time
PURCHASES_PER_STEP = 2
PURCHASE_RANGE_KZT = (800, 9_000)       # far below every tier's per-purchase limit and the AML threshold
TRADE_RANGE_KZT = (5_000, 25_000)
DEPOSIT_RANGE_USDT = (20, 120)          # whole USDT (about 10 000 to 60 000 KZT)
USDT_MICRO = 10**6
INCIDENT_DAY, INCIDENT_STEP = 2, 1      # the licence incident: day 2, second quarter
INCIDENT_LENGTH = timedelta(hours=4)
INCIDENT_REASON = "workshop history: late filing of the exchange's quarterly prudential return"


@dataclass(frozen=True)
class History:
    """What the history made (counts), for the command's summary."""
    seed: int
    days: int
    customers: list[str]
    merchants: list[str]
    purchases_approved: int
    purchases_declined: int
    deposits: int
    trades: int
    licence_incident: str


def build_history(city, *, customers: int, merchants: int, days: int, seed: int) -> History:
    """Populate ``city`` (a fresh ``CryptoCity``) with ``customers`` people and ``merchants`` shops, then
    play ``days`` sandbox days of purchases, deposits and trades with one licence incident (see the module
    docstring). Deterministic in ``seed``."""
    made = populate(city, customers, merchants, seed)
    people = [c.actor for c in made.customers]
    shops = [m.id for m in made.merchants]
    rng = random.Random(f"workshop:{seed}")
    approved, declined = made.purchases_approved, made.purchases_declined
    deposits, trades = made.deposits, made.trades
    licence = city.ctx.licence_of("trading_facility")[1]
    if licence is None:
        raise LookupError("this city's configuration licenses no trading facility")
    step = timedelta(days=1) / DAY_STEPS
    for day in range(1, days + 1):
        for quarter in range(DAY_STEPS):
            city.advance(step)
            if (day, quarter) == (INCIDENT_DAY, INCIDENT_STEP):
                city.suspend_licence(licence_id=licence, reason=INCIDENT_REASON)
            elif (day, quarter) == (INCIDENT_DAY, INCIDENT_STEP + 1):
                city.reinstate_licence(licence_id=licence, reason="return filed; suspension lifted")
            for n in range(PURCHASES_PER_STEP):
                ok = _purchase(city, rng, rng.choice(people), rng.choice(shops), f"workshop-d{day}q{quarter}-{n}")
                approved, declined = approved + ok, declined + (not ok)
            # deposits of crypto, not tenge: the people short of tenge stay so, and their card keeps selling
            # crypto just in time, which is what a workshop comes to see
            actor = rng.choice(people)
            city.deposit(actor=actor, asset="USDT", amount_minor=rng.randrange(*DEPOSIT_RANGE_USDT) * USDT_MICRO)
            deposits += 1
            trades += _trade(city, rng, rng.choice(people))
    if days < INCIDENT_DAY:   # a short history still shows the incident, at its end
        city.suspend_licence(licence_id=licence, reason=INCIDENT_REASON)
        city.reinstate_licence(licence_id=licence, reason="return filed; suspension lifted")
    return History(seed, days, people, shops, approved, declined, deposits, trades, licence)


def _purchase(city, rng: random.Random, actor: str, shop: str, ref: str) -> bool:
    """One purchase; approved ones are captured (a few stay uncaptured, as at a real merchant)."""
    result = city.pay(actor=actor, merchant=shop, amount_minor=rng.randrange(*PURCHASE_RANGE_KZT) * 100, ref=ref)
    if result.status != "approved":
        return False
    if rng.random() < 0.85:
        city.capture(ref=ref)
    return True


def _trade(city, rng: random.Random, actor: str) -> int:
    """A market buy of BTC with tenge; 0 when the exchange refuses (e.g. the customer's KYC tier may not
    trade, or the book is thin): a refused order changes nothing."""
    try:
        city.buy(actor=actor, instrument="BTC/KZT", quote_qty_minor=rng.randrange(*TRADE_RANGE_KZT) * 100)
    except DomainError:
        return 0
    return 1
