"""CryptoCity: the facade for test scripts — open a unit of work, call a service, commit.

    city = CryptoCity.from_config("crypto-city", db="sqlite:///city.db", seed=7)
    city.onboard(actor="aigerim", kyc_tier="full", resident=True, aifc_investor=False, deposits={"BTC": 1_000_000})
    result = city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_500_00, ref="coffee")
    city.capture(ref="coffee"); city.verify()

Every verb takes keyword arguments with amounts in minor units, runs ONE transaction (the service's
change, its audit entry, all of it or nothing), returns a typed result (``sandbox/services/``) and
raises a typed error with a stable ``.code`` on refusal, changing nothing. Time moves only through
``advance``; prices, people and ids come from the seed.

The wiring lives in ``CityContext`` (``sandbox/context.py``); the use cases in ``sandbox/services/``.
Several processes (gunicorn workers) over one database are one city: every unit of work starts by
reading the city's clock row, and everything a decision needs is read from the database.
"""
from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from . import events as event_log
from .config import CityConfig, load_config
from .city_card import CardVerbs
from .city_mining import MiningVerbs
from .context import CityContext
from .rules import CustomerProfile
from .services import (
    clock,
    custody,
    custody_tiers,
    customers,
    licences,
    reports,
    stablecoin,
    trading,
    withdrawals,
)
from .services.payments import PaymentResult  # noqa: F401 - part of the facade's vocabulary
from .tax import TaxStatement

DEFAULT_DB_DIR = Path(".cryptocity")
MAX_SWEEPS = 1_000   # batches of expiring holds after one advance (card.clearing.MAX_EXPIRY_PER_UNIT each)


class CryptoCity(CardVerbs, MiningVerbs):
    """The whole sandbox behind one object (see the module docstring)."""

    def __init__(self, cfg: CityConfig, db_url: str, seed: int, *,
                 evm_url: str | None = None) -> None:
        self.ctx = CityContext(cfg, db_url, seed, evm_url=evm_url)

    @classmethod
    def from_config(cls, config: "str | Path | CityConfig" = "crypto-city", db: str | None = None,
                    seed: int | None = None, *, evm_url: str | None = None) -> "CryptoCity":
        """Build a city from a preset name, a YAML path or a CityConfig, on ``db`` (default: a fresh SQLite
        file under .cryptocity/). ``seed`` overrides the configuration's seed. Any number of processes may
        open one city: the Bitcoin chain is in the database. ``evm_url`` (default ``$CRYPTOCITY_EVM_URL``): the city's shared EVM node (anvil) for KZTE, ETH and USDT."""
        cfg = config if isinstance(config, CityConfig) else load_config(config)
        seed = cfg.sandbox.seed if seed is None else seed
        if db is None:
            DEFAULT_DB_DIR.mkdir(exist_ok=True)
            path = DEFAULT_DB_DIR / f"city-seed-{seed}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            db = f"sqlite:///{path}"
        if evm_url is None:
            evm_url = os.environ.get("CRYPTOCITY_EVM_URL") or None
        return cls(cfg, db, seed, evm_url=evm_url)

    # ------------------------------------------------------------------ running services
    def run(self, service: Callable[..., Any], /, *, retries: int | None = None, **kwargs: Any) -> Any:
        """``service(ctx, uow, **kwargs)`` in one committed transaction (retried whole on deadlocks unless
        ``retries=0``)."""
        return self.ctx.transaction(lambda uow: service(self.ctx, uow, **kwargs), retries=retries)

    def read(self, service: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``service(ctx, uow, …)`` in a read-only unit of work."""
        return self.ctx.read(lambda uow: service(self.ctx, uow, *args, **kwargs))

    # ------------------------------------------------------------------ the city's parts (read-only views)
    cfg = property(lambda self: self.ctx.cfg)
    seed = property(lambda self: self.ctx.seed)
    db = property(lambda self: self.ctx.db)
    ledger = property(lambda self: self.ctx.ledger)
    exchange = property(lambda self: self.ctx.exchange)
    cards = property(lambda self: self.ctx.cards)
    licences = property(lambda self: self.ctx.licences)
    clock = property(lambda self: self.ctx.clock)
    issuer = property(lambda self: self.ctx.issuer)
    issuer_started = property(lambda self: self.ctx.issuer_started)
    custodian = property(lambda self: self.ctx.custodian)
    btc_node = property(lambda self: self.ctx.btc_node)
    set_up_here = property(lambda self: self.ctx.set_up_here)
    startup_seconds = property(lambda self: self.ctx.startup_seconds)

    # ------------------------------------------------------------------ customers
    def onboard(self, **kwargs: Any) -> customers.Onboarded:
        """See ``services.customers.onboard``."""
        return self.run(customers.onboard, **kwargs)

    def set_kyc_tier(self, *, actor: str, kyc_tier: str, reason: str = "") -> customers.KycChanged:
        return self.run(customers.set_kyc_tier, actor=actor, kyc_tier=kyc_tier, reason=reason)

    def profile(self, actor: str) -> CustomerProfile:
        """The customer's profile, with the KYC tier as the database has it now."""
        return self.read(customers.profile, actor)

    # ------------------------------------------------------------------ money in and out
    def deposit(self, *, actor: str, asset: str, amount_minor: int, source: str = "deposit") -> custody.Deposited:
        return self.run(custody.deposit, actor=actor, asset=asset, amount_minor=amount_minor, source=source)

    def faucet(self, *, actor: str, asset: str, amount_minor: int) -> custody.Deposited:
        return self.run(custody.faucet, actor=actor, asset=asset, amount_minor=amount_minor)

    def onchain_deposit(self, *, actor: str, amount_minor: int, asset: str = "BTC") -> custody.OnchainDeposited:
        # BTC commits with the ledger (its chain is in the database), so a deadlock may retry it whole; a
        # transaction sent to the EVM node cannot be taken back, so that one is never retried
        return self.run(custody.onchain_deposit, **({} if asset == "BTC" else {"retries": 0}), actor=actor,
                        amount_minor=amount_minor, asset=asset)

    def scan_evm_deposits(self, *, mine_blocks: int = 0) -> int:
        """Credit ETH and test-USDT deposits sent to deposit addresses on the shared EVM node (see
        ``services.custody.scan_evm_deposits``); returns how many were credited."""
        return self.run(custody.scan_evm_deposits, retries=0, mine_blocks=mine_blocks)

    def deposit_address(self, *, actor: str, chain: str = "bitcoin") -> str:
        return self.run(custody.deposit_address, actor=actor, chain=chain)

    def withdraw(self, *, actor: str, asset: str = "BTC", address: str, amount_minor: int, key: str,
                 travel_rule: dict | None = None) -> dict:
        """See ``services.withdrawals.withdraw`` (the chain is in the database: a retry repeats nothing)."""
        return self.run(withdrawals.withdraw, actor=actor, asset=asset, address=address,
                        amount_minor=amount_minor, key=key, travel_rule=travel_rule)

    def custody_tiers(self) -> custody_tiers.CustodyTiers:
        return self.read(custody_tiers.tiers)

    def rebalance_custody(self, *, by: str = "operator") -> custody_tiers.CustodyTiers:
        """Move BTC between the custodian's hot, warm and cold wallets to the configured shares."""
        return self.run(custody_tiers.rebalance, by=by)

    def whitelist_address(self, *, actor: str, chain: str = "bitcoin", address: str) -> withdrawals.Whitelisted:
        """See ``services.withdrawals.whitelist_address``."""
        return self.run(withdrawals.whitelist_address, actor=actor, chain=chain, address=address)

    def withdrawals(self, actor: str, *, limit: int = 50, after_id: int | None = None) -> list[dict]:
        return self.read(withdrawals.withdrawals, actor, limit=limit, after_id=after_id)

    # ------------------------------------------------------------------ trading and KZTE
    def buy(self, *, actor: str, instrument: str, quote_qty_minor: int) -> trading.MarketOrderDone:
        return self.run(trading.buy, actor=actor, instrument=instrument, quote_qty_minor=quote_qty_minor)

    def sell(self, *, actor: str, instrument: str, qty_minor: int) -> trading.MarketOrderDone:
        return self.run(trading.sell, actor=actor, instrument=instrument, qty_minor=qty_minor)

    def place_order(self, **kwargs: Any):
        return self.run(trading.place_order, **kwargs)

    def cancel_order(self, *, order_id: int):
        return self.run(trading.cancel_order, order_id=order_id)

    def mint(self, *, actor: str, amount_minor: int) -> stablecoin.KzteMoved:
        return self.run(stablecoin.mint, actor=actor, amount_minor=amount_minor)

    def redeem(self, *, actor: str, amount_minor: int) -> stablecoin.KzteMoved:
        return self.run(stablecoin.redeem, actor=actor, amount_minor=amount_minor)

    # ------------------------------------------------------------------ time and licences
    def advance(self, delta: timedelta | str) -> clock.Advanced:
        """Move the sandbox clock (for every process on this database); every hold it leaves past its date
        is expired before it returns (thousands of them in batches, a unit of work each)."""
        done = self.run(clock.advance, delta=delta)
        if not done.expiry_pending:
            return done
        swept, pending = self._sweep(MAX_SWEEPS)
        return replace(done, expired_holds=done.expired_holds + swept, expiry_pending=pending)

    def sweep_expired(self) -> int:
        """Expire the holds past their date that an advance left (``Advanced.expiry_pending``: more were due
        than one unit of work expires), a bounded batch per unit of work; how many authorizations expired.
        Safe to call at any time, from any process: with none due it only reads."""
        if not self.ctx.read(lambda uow: uow.holds_due()):
            return 0
        return self._sweep(MAX_SWEEPS)[0]

    def _sweep(self, batches: int) -> tuple[int, bool]:
        total, pending = 0, True
        for _ in range(batches):
            swept = self.run(clock.sweep)
            total += swept.expired_holds
            pending = swept.expiry_pending
            if not pending:
                break
        return total, pending

    def advance_in(self, uow, delta: timedelta | str) -> clock.Advanced:
        """``advance`` inside the caller's unit of work (which must have begun: ``ctx.begin(uow)``)."""
        return clock.advance(self.ctx, uow, delta=delta)

    def suspend_licence(self, *, licence_id: str, reason: str = "") -> licences.LicenceChanged:
        return self.run(licences.suspend_licence, licence_id=licence_id, reason=reason)

    def reinstate_licence(self, *, licence_id: str, reason: str = "") -> licences.LicenceChanged:
        return self.run(licences.reinstate_licence, licence_id=licence_id, reason=reason)

    def renew_licence(self, *, licence_id: str, valid_until: datetime, reason: str = "",
                      applied_at: datetime | None = None, exit_plan: str | None = None) -> licences.LicenceChanged:
        return self.run(licences.renew_licence, licence_id=licence_id, valid_until=valid_until, reason=reason,
                        applied_at=applied_at, exit_plan=exit_plan)

    # ------------------------------------------------------------------ reading
    def balances(self, actor: str) -> dict[str, int]:
        """AVAILABLE minor units per asset ("KZT" is the card's bank account, "KZT@exchange" tenge at the exchange)."""
        return self.read(custody.balances, actor)

    def flags(self, actor: str) -> list[tuple[str, str]]:
        return self.read(reports.flags, actor)

    def tax_statement(self, actor: str, year: int) -> TaxStatement:
        return self.read(reports.tax_statement, actor, year)

    def events(self, *, after: str | None = None, types: list[str] | None = None, limit: int = 100) -> list[dict]:
        """Events after the event id ``after`` (from the first when None), oldest first, at most 100, only
        ``types`` when given: each ``{"id", "type", "created_at", "data", "request"}`` (docs/events.md)."""
        seq = event_log.parse_id(after)
        wanted = event_log.check_types(types) if types else None
        return self.ctx.read(lambda uow: [e.to_dict() for e in event_log.read(uow.conn, after=seq, limit=limit,
                                                                              types=wanted)])

    def last_event_id(self) -> str | None:
        """The id of the newest event (None while the log is empty): read events after it to see what
        happens next."""
        seq = self.ctx.read(lambda uow: event_log.last_seq(uow.conn))
        return event_log.format_id(seq) if seq else None

    def regulator_summary(self) -> dict:
        """What the regulators read (``services.reports.regulator_summary``), its card figures from one state
        of the database: totals, days and declines agree while purchases go on."""
        return self.ctx.read(lambda uow: reports.regulator_summary(self.ctx, uow), snapshot=True)

    def verify(self):
        """Prove the ledger's invariants, the KZTE peg and the audit chain (raises naming the first problem)."""
        return reports.verify(self.ctx)

    def account_balance(self, code: str) -> int:
        """Ledger balance (minor units) of the account ``code``; 0 if it was never opened."""
        def read(uow):
            acct = uow.find_account(code)
            return 0 if acct is None else acct.balance_minor
        return self.ctx.read(read)

    def now(self) -> datetime:
        """The sandbox time, as the database has it (another process may have advanced it)."""
        return self.ctx.read(lambda uow: uow.now())

    def refresh(self) -> None:
        """Catch up with the database now (time, licences and the trading halt they imply)."""
        self.ctx.read(lambda uow: None)

    def close(self) -> None:
        self.ctx.close()
