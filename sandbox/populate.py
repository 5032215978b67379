"""Populating a city: seeded people and shops brought in through the city's own verbs, so that everything
``cryptocity populate`` prints exists in the database and the dashboard and reports show a living city.

Each merchant is registered, each customer onboarded with their full name, given opening balances (tenge
deposited to the bank account, crypto into custody) and a little history: a trade or two on the AIFC
exchange and a few card purchases at the merchants just registered, captured and now and then refunded.
Every step is one of the facade's verbs (one committed transaction each, audited); nothing writes the
ledger directly.

Ids continue after the ones the city already has (``cust-00021`` after ``cust-00020``), so populating
again adds more people; the same seed on the same database state gives the same people, amounts and
history. What is reported back is read from the database after the work.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from ledger.errors import DomainError

from .errors import InvalidKycTier, TooManyActors
from .population import generate
from .population.generator import Customer, MerchantSpec
from .population.provider import MERCHANT_KINDS
from .services import custody, customers, merchants

CUSTOMER_PREFIX, MERCHANT_PREFIX = "cust-", "merch-"
MAX_LISTED = 100_000
# Opening balances, in minor units (crypto in whole exchange lots so it can be sold again).
TENGE_RANGE_KZT = (20_000, 300_000)
LOW_TENGE_RANGE_KZT = (1_000, 5_000)
BTC_LOT_SATS, ETH_LOT_GWEI, USDT_LOT_MICRO = 1_000, 100_000, 10_000
PURCHASE_RANGE_KZT = (500, 12_000)     # well below every tier's per-purchase limit and the AML threshold
GENERATED_TIERS = ("none", "basic", "full")
REQUOTE_EVERY, REQUOTE_STEP = 25, timedelta(minutes=15)
_KINDS = {mcc: kind for mcc, kind, _patterns in MERCHANT_KINDS}

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PopulatedCustomer:
    """A customer as the database has them after populating."""
    actor: str
    full_name: str | None
    iban: str
    kyc_tier: str | None
    balances: dict[str, int]


@dataclass(frozen=True)
class PopulatedMerchant:
    """A merchant as the database has it after populating (``kind`` is what its MCC means)."""
    id: str
    name: str
    mcc: str
    kind: str
    in_zone: bool


@dataclass(frozen=True)
class Populated:
    """What one populate run added (the first few, read back from the database) and the history it made."""
    seed: int
    customers_added: int
    merchants_added: int
    customers: list[PopulatedCustomer]
    merchants: list[PopulatedMerchant]
    deposits: int
    trades: int
    purchases_approved: int
    purchases_declined: int
    refunds: int
    city_customers: int
    city_merchants: int


def next_numbers(city) -> tuple[int, int]:
    """The first free ``cust-NNNNN`` and ``merch-NNNN`` numbers on this city's database."""
    def read(ctx, uow):
        from . import city_state
        people = city_state.actors_starting(uow.conn, CUSTOMER_PREFIX, MAX_LISTED)
        shops = merchants.ids_starting(ctx, uow, MERCHANT_PREFIX)
        return _after(people, CUSTOMER_PREFIX), _after(shops, MERCHANT_PREFIX)
    return city.read(read)


def _after(ids: list[str], prefix: str) -> int:
    numbers = [int(i[len(prefix):]) for i in ids if i[len(prefix):].isdigit()]
    return max(numbers, default=0) + 1


def register_shops(city, shops: list[MerchantSpec]) -> None:
    """Register each merchant (with the programme's merchant fee) so the card can pay there."""
    for m in shops:
        city.register_merchant(merchant_id=m.id, name=m.name, mcc=m.mcc, in_zone=m.in_zone)


def onboard_person(city, person: Customer, deposits: dict[str, int] | None = None) -> customers.Onboarded:
    """Onboard a generated person under their id, with their full name, KYC tier and residency."""
    return city.onboard(actor=person.id, full_name=person.full_name, kyc_tier=person.kyc_tier,
                        resident=person.resident, aifc_investor=person.aifc_investor, deposits=deposits or {})


def populate(city, customers_count: int, merchants_count: int, seed: int,
             progress: Progress | None = None, show: int = MAX_LISTED) -> Populated:
    """Add ``customers_count`` people and ``merchants_count`` shops to ``city`` (a ``CryptoCity``) with opening
    balances and a little history (see the module docstring); the result holds the first ``show`` of each
    as the database has them. Refuses before anything changes: ``TooManyActors`` when the city would pass
    its customer limit, ``InvalidKycTier`` when its configuration lacks a KYC tier people are given."""
    from .context import MAX_ACTORS
    first_customer, first_merchant = next_numbers(city)
    existing = city.read(lambda ctx, uow: _customer_count(uow))
    if existing + customers_count > MAX_ACTORS:
        raise TooManyActors(f"this city has {existing} customers; {customers_count} more would pass its limit of "
                            f"{MAX_ACTORS}")
    tiers = city.cfg.kyc.tiers
    missing = [tier for tier in GENERATED_TIERS if tier not in tiers]
    if missing:
        raise InvalidKycTier(f"populate gives people the KYC tiers {', '.join(GENERATED_TIERS)}; this city's "
                             f"configuration lacks {', '.join(missing)}")
    population = generate(customers_count, merchants_count, seed, first_customer=first_customer,
                          first_merchant=first_merchant)
    rng = random.Random(f"populate:{seed}:{first_customer}:{first_merchant}")
    assets = {a.code for a in city.cfg.assets}
    can_trade_btc = any(ins.symbol == "BTC/KZT" for ins in city.cfg.instruments)
    report = progress or (lambda stage, done, total: None)

    register_shops(city, population.merchants)
    report("registering merchants", len(population.merchants), len(population.merchants))
    deposits = trades = approved = declined = refunds = 0
    total = len(population.customers)
    for n, person in enumerate(population.customers, start=1):
        onboard_person(city, person)
        for asset, amount in _opening_balances(rng):
            if asset in assets:   # a configuration without that asset: the draw is made all the same
                city.deposit(actor=person.id, asset=asset, amount_minor=amount)
                deposits += 1
        tier = tiers[person.kyc_tier]
        if tier.can_trade and can_trade_btc:
            trades += _trade(city, rng, person.id)
        if population.merchants:
            # a customer whose KYC tier may not pay tries once: the decline is on record, with its reason
            a, d, r = _shop(city, rng, person.id, population.merchants, tries=None if tier.can_pay else 1)
            approved, declined, refunds = approved + a, declined + d, refunds + r
        report("onboarding customers", n, total)
        if n % REQUOTE_EVERY == 0 and n < total:
            # a big population's history spreads over sandbox time: the market makers requote (their
            # books refill) and the AML velocity windows move on
            city.advance(REQUOTE_STEP)

    def read_back(ctx, uow):
        people = []
        for person in population.customers[:show]:
            row = customers.customer(uow, person.id)
            people.append(PopulatedCustomer(row.customer_id, row.full_name, row.iban, row.kyc_tier,
                                            custody.balances(ctx, uow, person.id)))
        shops = []
        for spec in population.merchants[:show]:
            m = merchants.merchant(ctx, uow, spec.id)
            shops.append(PopulatedMerchant(m.id, m.name, m.mcc, _KINDS.get(m.mcc, "merchant"), m.in_zone))
        from card import issuing
        counts = issuing.counts(uow)
        return people, shops, counts
    people, shops, counts = city.read(read_back)
    return Populated(seed, len(population.customers), len(population.merchants), people, shops, deposits, trades, approved, declined, refunds,
                     counts["customers"], counts["merchants"])


def _customer_count(uow) -> int:
    from . import city_state
    return city_state.customer_count(uow.conn)


def _opening_balances(rng: random.Random) -> list[tuple[str, int]]:
    """Tenge for the bank account and some crypto for custody: everyone has BTC, some ETH or USDT too.
    About a third keep little tenge in the bank, so their card sells crypto just in time when they pay."""
    tenge = rng.randrange(*LOW_TENGE_RANGE_KZT) if rng.random() < 0.3 else rng.randrange(*TENGE_RANGE_KZT)
    out = [("KZT", tenge * 100), ("BTC", rng.randrange(50, 1_500) * BTC_LOT_SATS)]
    if rng.random() < 0.4:
        out.append(("ETH", rng.randrange(100, 3_000) * ETH_LOT_GWEI))
    if rng.random() < 0.4:
        out.append(("USDT", rng.randrange(2_000, 50_000) * USDT_LOT_MICRO))
    return out


def _trade(city, rng: random.Random, actor: str) -> int:
    """Now and then a market buy of BTC with tenge from the bank account, or a sale of some BTC.
    Returns how many orders the exchange took (0 or 1)."""
    roll = rng.random()
    try:
        if roll < 0.3:
            budget = min(rng.randrange(5_000, 30_000) * 100, city.balances(actor).get("KZT", 0) // 2)
            if budget >= 1_000_00:   # what the bank account can spare, above the instrument's minimum notional
                city.buy(actor=actor, instrument="BTC/KZT", quote_qty_minor=budget)
                return 1
        elif roll < 0.5:
            lots = city.balances(actor).get("BTC", 0) // BTC_LOT_SATS // 2
            if lots >= 20:   # above the instrument's minimum notional
                city.sell(actor=actor, instrument="BTC/KZT", qty_minor=lots * BTC_LOT_SATS)
                return 1
    except DomainError:
        # The exchange refused (e.g. no liquidity left on that side until the makers requote): a refused
        # order changes nothing, and this customer simply did not trade.
        pass
    return 0


def _shop(city, rng: random.Random, actor: str, shops: list[MerchantSpec],
          tries: int | None = None) -> tuple[int, int, int]:
    """One to three card purchases (or ``tries``) at the shops just registered; approved ones are
    captured, one in eight refunded. Returns (approved, declined, refunded)."""
    approved = declined = refunded = 0
    for k in range(rng.randrange(1, 4) if tries is None else tries):
        shop = rng.choice(shops)
        ref = f"populate-{actor}-{k + 1}"
        result = city.pay(actor=actor, merchant=shop.id, amount_minor=rng.randrange(*PURCHASE_RANGE_KZT) * 100,
                          ref=ref)
        if result.status != "approved":
            declined += 1
            continue
        approved += 1
        city.capture(ref=ref)
        if rng.random() < 0.125:
            city.refund(ref=ref)
            refunded += 1
    return approved, declined, refunded

