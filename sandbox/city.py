"""CryptoCity: the composition root. One object wires the ledger, the AIFC exchange, KZTE, the card,
the sandbox rules, licences, tax and the audit log, and offers the verbs a tester needs.

    city = CryptoCity.from_config("crypto-city", db="sqlite:///city.db", seed=7)
    city.onboard(actor="aigerim", kyc_tier="full", resident=True, aifc_investor=False, deposits={"BTC": 1_000_000})
    result = city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_500_00, ref="coffee")
    city.capture(ref="coffee"); city.verify()

Every verb takes keyword arguments with amounts in minor units, changes state in one unit of work
that also appends to the hash-chained audit log, and raises a typed error (``.code``) on refusal,
changing nothing. Time moves only through ``advance``; prices, people and ids come from the seed.
The KZTE token (a real Vyper contract on an in-process EVM, ~5 s to start) is deployed lazily, the
first time a verb needs it.

Several processes (gunicorn workers) over one database are one city: the database holds the
sandbox clock, licence states and customer profiles (sandbox/city_state.py); each process caches
them and catches up with one single-row read (``sandbox_city``: time and licence version) at the
start of every verb. Opening a city on a database that already holds one sets nothing up again:
set-up runs once, under a lock, and leaves the ``sandbox_city`` row as its marker. The price model
behind the market makers is path-dependent, so a process replays the city's clock advances (from
the audit log) rather than jumping to the new time. The KZTE chain of each process mirrors the
ledger (sandbox/kzte_mirror.py).
"""
from __future__ import annotations

import copy
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ledger import Database, Ledger, Posting

from . import audit, city_state
from . import withdrawals as _withdrawals
from .city_parts import (AssetBook, CityError, build_exchange, fund_market_makers,
                         funding_settings, spend_controls)
from .clock import SandboxClock, parse_duration
from .config import CityConfig, load_config
from .licensing import LicenceRegistry
from .rules import CustomerProfile, SandboxRules
from .rules.history import card_history
from .tax import (Acquisition, Disposal, Residency, TaxError, TaxStatement, residency_from_days,
                  statement as tax_statement_of)

DEFAULT_DB_DIR = Path(".cryptocity")
WORLD = "world"
MAX_ACTORS = 100_000
MAX_TAX_ROWS = 1_000_000
TAX_ACTIONS = ("funds.deposit", "funds.faucet", "exchange.buy", "exchange.sell", "kzte.mint", "kzte.redeem",
               "card.approved", "funds.withdrawal")


def _pay_key(ref: str) -> str:
    return f"pay:{ref}"


@dataclass
class PaymentResult:
    """What ``pay`` returns: the POS answer plus what was sold to fund it."""
    status: str
    response_code: str
    reason: str
    flags: list[tuple[str, str]] = field(default_factory=list)
    authorization_id: int | None = None
    auth_code: str | None = None
    amount_minor: int = 0
    shortfall_minor: int = 0
    conversion_fee_minor: int = 0
    sold: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class _Actor:
    profile: CustomerProfile
    card_id: int
    bank_ledger_account_id: int
    iban: str
    residency_basis: str = ""

    @classmethod
    def of(cls, row: city_state.CustomerRow) -> "_Actor":
        return cls(CustomerProfile(row.actor, row.kyc_tier, row.resident, row.aifc_investor), row.card_id,
                   row.bank_ledger_account_id, row.iban, row.residency_basis)


class _LazyIssuer:
    """Stands in for the KZTE issuer until first use (deploying the contract costs seconds)."""

    def __init__(self, city: "CryptoCity") -> None:
        self._city = city

    def __getattr__(self, name: str) -> Any:
        return getattr(self._city.issuer, name)


class CryptoCity:
    def __init__(self, cfg: CityConfig, db_url: str, seed: int) -> None:
        started = time.perf_counter()
        self.cfg = cfg
        self.db = Database(db_url)
        self._migrate()
        with self._reading() as conn:
            existing = city_state.head(conn)
        # A city keeps the seed and start it was set up with: every process must price alike.
        self.seed = existing.seed if existing else seed
        created = existing.created_at if existing else cfg.sandbox.start
        self.clock = SandboxClock(existing.now if existing else cfg.sandbox.start)
        self.ledger = Ledger(self.db, self.clock)
        self.assets = AssetBook(cfg)
        self.licences = LicenceRegistry.from_config(cfg)
        self.exchange_id = self._holder("trading_facility", "aifc-exchange")
        self.issuer_id = cfg.stablecoin.issuer
        self.exchange = build_exchange(self.ledger, cfg, self.seed, created)
        self._issuer = None
        self._issuer_lock = threading.Lock()
        self._custodian = None
        self._custody_lock = threading.RLock()   # the embedded regtest node is not thread-safe
        self.btc_node = None
        from card import CardService
        from .funding import ExchangeFunder
        self.funder = ExchangeFunder(self.exchange, _LazyIssuer(self))
        self.rules = SandboxRules(cfg, self.licences, self._profile_of, card_history, exchange_id=self.exchange_id)
        self.cards = CardService(self.ledger, self.funder, self.rules, deadline_ms=cfg.card.auth_deadline_ms,
                                 hold_days=cfg.card.hold_expiry_days, timezone=cfg.sandbox.zone)
        self._actors: dict[str, _Actor] = {}
        self._merchant_ids = {m.name.lower(): m.id for m in cfg.merchants}
        # What this process has taken from the database: the licence version, the last clock advance
        # replayed into the price model, and the trading state last applied to the exchange.
        self._state_lock = threading.RLock()
        self._licences_version = -1
        self._replayed_seq: int | None = None
        self._trading_licensed: bool | None = None
        self.set_up_here = self.ledger.transaction(self._set_up_once)
        self._load_actors()
        self._sync()
        self.startup_seconds = time.perf_counter() - started

    # ------------------------------------------------------------------ construction
    def _migrate(self) -> None:
        """Migrate under a cross-process lock: workers starting together on a fresh PostgreSQL
        database would otherwise race to create the same tables."""
        if self.db.is_sqlite:
            # The migration's transaction takes SQLite's single write lock, but a brand-new file's first
            # connection switches it to WAL before its busy timeout applies (ledger/db.py), so a second
            # process opening it at that instant sees "database is locked": retry, briefly.
            from ledger.db import backoff, is_retryable
            for attempt in range(8):
                try:
                    self.db.migrate()
                    return
                except Exception as error:  # noqa: BLE001 - filtered just below
                    if attempt == 7 or not is_retryable(error):
                        raise
                    backoff(attempt)
        from sqlalchemy import text
        key = "sandbox:migrate"
        with self.db.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": key})
            try:
                self.db.migrate()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": key})
                conn.commit()

    def _set_up_once(self, uow) -> bool:
        """Set the city up unless the database already holds one; True if this call did it.

        Under ``sandbox:setup`` (an advisory lock; SQLite's single writer) the ``sandbox_city`` row is
        the marker: two processes opening a fresh database together end with exactly one set-up, and
        reopening never funds the market makers or appends ``city.created`` again."""
        cfg = self.cfg
        uow.advisory_lock(city_state.SETUP_LOCK)
        conn = uow.conn
        did = False
        if city_state.head(conn) is None:
            legacy = city_state.legacy_city(conn)
            if legacy is not None:
                self._adopt_legacy(uow, *legacy)
            else:
                from card import issuing
                for m in cfg.merchants:
                    issuing.register_merchant(uow, m.id, m.name, m.mcc, in_zone=m.in_zone, mdr_bps=cfg.card.mdr_bps)
                fund_market_makers(uow, self.exchange, self._world)
                self.exchange.market_makers.requote(uow, self.clock.now())
                audit.append(uow, "sandbox", "city.created", cfg.sandbox.name,
                             {"seed": self.seed, "merchants": [m.id for m in cfg.merchants],
                              "licences": sorted(lic.id for h in list(cfg.participants) + list(cfg.merchants)
                                                 for lic in h.licences)})
                city_state.create_head(conn, cfg.sandbox.name, self.seed, self.clock.now(), self.clock.now(),
                                       cfg.sandbox.timezone)
                did = True
        self._keep_calendar(uow)
        # Licences the configuration names but the table lacks (a fresh city: all of them).
        city_state.seed_licences(conn, LicenceRegistry.from_config(cfg).states())
        return did

    def _keep_calendar(self, uow) -> None:
        """Keep the card's spend counters in the calendar of ``sandbox.timezone``: when the zone they were
        counted in differs (the setting was changed, or the city predates it and counted UTC days), recount
        them once from the authorizations, so a reversal gives back the day its purchase counted in."""
        counted_in = city_state.head(uow.conn).timezone or "UTC"
        wanted = self.cfg.sandbox.timezone
        if counted_in == wanted:
            return
        counters = self.cards.rebuild_usage(uow)
        city_state.set_timezone(uow.conn, wanted)
        audit.append(uow, "sandbox", "city.timezone_changed", self.cfg.sandbox.name,
                     {"from": counted_in, "to": wanted, "spend_counters_recounted": counters})

    def _adopt_legacy(self, uow, created: datetime, last_change: datetime) -> None:
        """A database set up before the city's state had tables: write the marker, the customers and
        the licence states from its audit log (nothing is funded or announced again)."""
        from card import issuing
        conn = uow.conn
        city_state.create_head(conn, self.cfg.sandbox.name, self.seed, created, last_change, None)
        registry = LicenceRegistry.from_config(self.cfg)
        for verb, licence_id, at, reason in city_state.licence_history(conn):
            if any(lic.id == licence_id for lic in registry.states()):
                getattr(registry, verb)(licence_id, at, reason)
        city_state.seed_licences(conn, registry.states())
        for actor, at, d in city_state.onboarded_in_audit(conn, MAX_ACTORS):
            bank = issuing.bank_account_of(uow, actor)
            city_state.insert_customer(conn, city_state.CustomerRow(
                actor, d["kyc_tier"], bool(d["resident"]), "declared at onboarding", bool(d["aifc_investor"]),
                None, None, int(d["card_id"]), bank.ledger_account_id, bank.iban, at))

    def _sync(self) -> None:
        """Catch up with the database before a verb: one single-row read of (time, licence version);
        more work only when another process advanced the clock or changed a licence."""
        state = city_state.tick_raw(self.db.engine)
        if state is None:
            return
        now, version = state
        if now <= self.clock.now() and version == self._licences_version and self._replayed_seq is not None:
            self._apply_trading()
            return   # the usual case: nothing moved since this process last looked
        with self._reading() as conn, self._state_lock:
            if now > self.clock.now() or self._replayed_seq is None:
                self._replay_advances(conn)
                self.clock.catch_up(now)
            if version != self._licences_version:
                self._install_licences(LicenceRegistry.from_config(self.cfg, city_state.load_licences(conn)),
                                       version)
            self._apply_trading()

    def _replay_advances(self, conn) -> None:
        """Move the price model through every clock advance it has not seen, in order (same seed and
        same advance times => same prices in every process)."""
        model = self.exchange.price_model
        self._replayed_seq = self._replayed_seq or 0
        for seq, at in city_state.advances_since(conn, self._replayed_seq):
            model.advance(at)
            self._replayed_seq = seq

    def _install_licences(self, registry: LicenceRegistry, version: int) -> None:
        with self._state_lock:
            if version > self._licences_version:
                self.licences.replace(registry)
                self._licences_version = version
                self._apply_trading()

    def _apply_trading(self) -> None:
        """Halt the exchange's books while its trading-facility licence is not active, resume them when
        it is again. Only a change of the licence's verdict touches the books (an operator's own halt of
        one instrument stays as it is)."""
        licensed = self.licences.is_licensed(self.exchange_id, "trading_facility", self.clock.now())
        if licensed == self._trading_licensed:
            return
        if self._trading_licensed is not None or not licensed:
            for inst in self.exchange.instruments:
                if inst.trading_enabled != licensed:
                    self.exchange.set_trading(inst.symbol, licensed)
        self._trading_licensed = licensed

    def _start_issuer_if_issued(self) -> None:
        """A reopened city (or another process) with KZTE in circulation starts its chain, re-seeded from
        the ledger, so the peg is proven and reported rather than skipped."""
        if not self.issuer_started:
            from .kzte_mirror import kzte_in_circulation
            with self._reading() as conn:
                issued = kzte_in_circulation(conn)
            if issued:
                self.issuer   # noqa: B018 - starting it installs the peg check

    @contextmanager
    def _reading(self):
        """A connection for single-statement reads outside any unit of work: no write lock on SQLite
        (a deferred BEGIN), no BEGIN/ROLLBACK round trips on PostgreSQL (autocommit)."""
        from ledger.db import READ_ONLY
        with self.db.engine.connect() as conn:
            if self.db.is_sqlite:
                yield conn.execution_options(**{READ_ONLY: True})
            else:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def _last_audit_time(self) -> datetime | None:
        """When this database's city last changed."""
        from .tables import audit_log as log
        with self.db.engine.connect() as conn:
            seq = conn.execute(select(log.c.seq).order_by(log.c.seq.desc()).limit(1)).scalar()
            return None if seq is None else conn.execute(select(log.c.at).where(log.c.seq == seq)).scalar()

    @classmethod
    def from_config(cls, config: "str | Path | CityConfig" = "crypto-city", db: str | None = None,
                    seed: int | None = None) -> "CryptoCity":
        """Build a city from a preset name, a YAML path or a CityConfig, on ``db`` (default: a fresh SQLite
        file under .cryptocity/). ``seed`` overrides the configuration's seed."""
        cfg = config if isinstance(config, CityConfig) else load_config(config)
        seed = cfg.sandbox.seed if seed is None else seed
        if db is None:
            DEFAULT_DB_DIR.mkdir(exist_ok=True)
            path = DEFAULT_DB_DIR / f"city-seed-{seed}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            db = f"sqlite:///{path}"
        return cls(cfg, db, seed)

    def _holder(self, scope: str, default: str) -> str:
        for p in self.cfg.participants:
            if any(lic.scope == scope for lic in p.licences):
                return p.id
        return default

    @property
    def issuer(self):
        """The KZTE issuer on an in-process EVM, deployed on first use and seeded from the ledger's
        journal of mints and redemptions (a mirror: see sandbox/kzte_mirror.py); ``verify()`` then
        proves the peg."""
        if self._issuer is None:
            with self._issuer_lock:
                if self._issuer is None:
                    from web3 import EthereumTesterProvider, Web3
                    from stablecoin import deploy
                    from stablecoin.issuer import LOCK
                    from .kzte_mirror import MirroredIssuer
                    w3 = Web3(EthereumTesterProvider())
                    owner, minter, custodian = w3.eth.accounts[:3]
                    token = deploy(w3, owner, symbol=self.cfg.stablecoin.symbol)
                    token.configure_minter(owner, minter, 10**15)
                    issuer = MirroredIssuer(token, minter=minter, custodian=custodian, owner=owner)
                    with self.ledger.unit_of_work(read_only=True) as uow:
                        uow.advisory_lock(LOCK)
                        issuer.sync(uow.conn)   # KZTE already in circulation: re-seed this chain
                    issuer.install_check(self.ledger)
                    self._issuer = issuer
        return self._issuer

    @property
    def issuer_started(self) -> bool:
        return self._issuer is not None

    # ------------------------------------------------------------------ helpers
    def _world(self, uow, asset: str) -> int:
        acct = uow.find_account(f"external:{WORLD}:{asset}") or uow.open_account(WORLD, asset, "external",
                                                                                 allow_negative=True)
        return acct.id

    def _customer_account(self, uow, owner: str, asset: str) -> int:
        acct = uow.find_account(f"customer:{owner}:{asset}") or uow.open_account(owner, asset, "customer")
        return acct.id

    def _actor(self, actor: str) -> _Actor:
        """The customer, from this process's cache or (onboarded by another process) the table."""
        a = self._actors.get(actor)
        if a is None and isinstance(actor, str):
            with self._reading() as conn:
                a = self._remember(city_state.customer(conn, actor))
        if a is None:
            raise CityError("unknown_actor", f"{actor!r} has not been onboarded; onboard them first")
        return a

    def _remember(self, row: city_state.CustomerRow | None) -> _Actor | None:
        # A profile's card, bank account and residency never change after onboarding, so a committed row
        # is safe to cache for good; its KYC tier may (``set_kyc_tier``): decisions read it fresh.
        if row is None:
            return None
        return self._actors.setdefault(row.actor, _Actor.of(row))

    @staticmethod
    def _with_tier(a: _Actor, tier: str | None) -> CustomerProfile:
        """The cached profile with the KYC tier the database holds now (another process may have changed it)."""
        if tier is not None and tier != a.profile.kyc_tier:
            a.profile = replace(a.profile, kyc_tier=tier)
        return a.profile

    def _profile_of(self, uow, cardholder_id: str) -> CustomerProfile:
        a = self._actors.get(cardholder_id) or self._remember(city_state.customer(uow.conn, cardholder_id))
        if a is None:
            return CustomerProfile(cardholder_id, kyc_tier="none")
        return self._with_tier(a, city_state.kyc_tier_in(uow, cardholder_id))

    def _merchant(self, merchant: str) -> str:
        if self.cfg.merchant(merchant) is not None:
            return merchant
        return self._merchant_ids.get(str(merchant).lower(), merchant)

    def _ref(self, ref: str) -> int:
        """The authorization id of the purchase ``ref`` (read from the card's tables: survives restarts)."""
        from card.tables import authorizations as t_auth
        with self.ledger.unit_of_work(read_only=True) as uow:
            auth_id = uow.conn.execute(select(t_auth.c.id).where(t_auth.c.idempotency_key == _pay_key(ref))).scalar()
        if auth_id is None:
            raise CityError("unknown_reference", f"no purchase with reference {ref!r}")
        return int(auth_id)

    def _load_actors(self) -> None:
        """Customers onboarded earlier on this database (a previous run), from the customers table; ones
        onboarded later by another process are looked up when first named."""
        with self._reading() as conn:
            for row in city_state.all_customers(conn, MAX_ACTORS):
                self._remember(row)

    def _require(self, participant: str, scope: str) -> None:
        self.licences.require(participant, scope, self.clock.now())

    def _can_trade(self, actor: str) -> None:
        tier = self._current_profile(actor).kyc_tier
        tier_cfg = self.cfg.kyc.tiers.get(tier)
        if tier_cfg is None or not tier_cfg.can_trade:
            raise CityError("kyc_not_permitted", f"{actor} (KYC tier {tier}) may not trade; complete KYC first")

    def _kzt_value(self, asset: str, amount_minor: int) -> int:
        """Tiyn worth of ``amount_minor`` of a quote asset (KZT and KZTE at par, others at the model price)."""
        return self._model_value_kzt(asset, amount_minor)

    def _model_value_kzt(self, asset: str, qty_minor: int) -> int:
        """The fair value in tiyn of ``qty_minor`` of ``asset`` at the model price (a deposit's cost basis)."""
        if asset in ("KZT", "KZTE"):
            return qty_minor
        price = self.exchange.price_model.price_minor(asset) if asset in self.exchange.price_model.dynamics else 0
        return price * qty_minor // self.assets.unit(asset)

    @staticmethod
    def _tax(kind: str, asset: str, qty_minor: int, kzt_minor: int, source: str, ref: str = "") -> list[dict]:
        """A tax event for the audit entry of the change (the tax statement is rebuilt from the audit log)."""
        if asset == "KZT" or qty_minor <= 0:
            return []
        return [{"kind": kind, "asset": asset, "qty_minor": qty_minor, "kzt_minor": kzt_minor, "source": source,
                 "ref": ref}]

    # ------------------------------------------------------------------ customers
    def onboard(self, *, actor: str, kyc_tier: str = "basic", resident: bool | None = None,
                aifc_investor: bool = False, deposits: dict[str, int] | None = None,
                days_in_kazakhstan: int | None = None) -> dict:
        """A customer with KYC tier and residency, a tenge bank account (KZ IBAN) and a card; ``deposits``
        credited (KZT to the bank account, KZTE minted against tenge, other crypto to the exchange wallet).

        Residency: from ``days_in_kazakhstan`` (days present in the 12 months before the sandbox's
        current time) by the tax rule — 183 days, 90 for an ``aifc_investor``; ``resident=`` given
        explicitly overrides it; with neither the customer is taken as resident."""
        self._sync()
        if not isinstance(actor, str) or not 0 < len(actor) <= 120:
            raise CityError("invalid_actor", f"an actor is a name of 1 to 120 characters, got {actor!r}")
        if actor in self._actors:
            raise CityError("already_onboarded", f"{actor} is already a customer")
        if kyc_tier not in self.cfg.kyc.tiers:
            raise CityError("invalid_kyc_tier", f"KYC tier {kyc_tier!r} is not configured; use one of "
                                                f"{', '.join(self.cfg.kyc.tiers)}")
        for asset, amount in (deposits or {}).items():
            self._check_deposit(asset, amount)
        today = self.clock.now().astimezone(self.cfg.sandbox.zone).date()   # presence days are local days
        residency = self._residency(resident, days_in_kazakhstan, aifc_investor, today)
        cfg = self.cfg

        def work(uow):
            from card import issuing
            if city_state.customer(uow.conn, actor) is not None:
                raise CityError("already_onboarded", f"{actor} is already a customer")
            if city_state.customer_count(uow.conn) >= MAX_ACTORS:
                raise CityError("too_many_actors", f"a city holds at most {MAX_ACTORS} customers")
            card, _cvv = issuing.issue_card(uow, actor, funding=funding_settings(cfg), controls=spend_controls(cfg),
                                            bin_prefix=cfg.card.test_bin, seed=f"{self.seed}")
            bank = issuing.bank_account_of(uow, actor)
            row = city_state.CustomerRow(
                actor, kyc_tier, residency.resident, residency.basis[:300], aifc_investor, days_in_kazakhstan,
                None if days_in_kazakhstan is None else today - timedelta(days=days_in_kazakhstan),
                card.id, bank.ledger_account_id, bank.iban, uow.now())
            city_state.insert_customer(uow.conn, row)
            audit.append(uow, cfg.card.issuer, "customer.onboarded", actor,
                         {"kyc_tier": kyc_tier, "resident": residency.resident, "aifc_investor": aifc_investor,
                          "days_in_kazakhstan": days_in_kazakhstan, "residency_basis": residency.basis,
                          "iban": bank.iban, "card_id": card.id})
            return card, row
        card, row = self.ledger.transaction(work)
        self._remember(row)
        for asset, amount in (deposits or {}).items():
            if amount:
                self.deposit(actor=actor, asset=asset, amount_minor=amount)
        return {"status": "ok", "actor": actor, "iban": row.iban, "card_id": card.id, "pan": card.pan,
                "resident": residency.resident, "residency_basis": residency.basis}

    def _residency(self, resident: bool | None, days: int | None, aifc_investor: bool, today: date) -> Residency:
        if resident is not None and not isinstance(resident, bool):
            raise CityError("invalid_residency", f"resident is true or false, got {resident!r}")
        derived = None
        if days is not None:
            try:
                derived = residency_from_days(days, today, self.cfg.tax, aifc_investor)
            except TaxError as error:
                raise CityError("invalid_days_in_kazakhstan", str(error)) from None
        if resident is None:
            return derived or Residency(True, "resident as declared: no presence days were given at onboarding")
        if derived is None:
            return Residency(resident, f"{'resident' if resident else 'non-resident'} as declared at onboarding")
        return Residency(resident, f"{'resident' if resident else 'non-resident'} as declared at onboarding, "
                                   f"overriding the presence rule ({derived.basis})")

    def _check_deposit(self, asset: str, amount_minor: int) -> None:
        if self.cfg.asset(asset) is None:
            raise CityError("unknown_asset", f"{asset} is not an asset of this city; configured: "
                                             f"{', '.join(a.code for a in self.cfg.assets)}")
        if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor < 0:
            raise CityError("invalid_amount", f"a deposit is a non-negative whole number of minor units, "
                                              f"got {amount_minor!r}")

    def deposit(self, *, actor: str, asset: str, amount_minor: int, source: str = "deposit") -> dict:
        """Money arriving from outside the city: KZT to the bank account, KZTE minted 1:1 against tenge paid
        into the reserve, other crypto to the customer's custodial exchange account."""
        self._sync()
        a = self._actor(actor)
        self._check_deposit(asset, amount_minor)
        if amount_minor == 0:
            raise CityError("invalid_amount", "a deposit must be more than zero")
        if asset == "KZTE":
            self._require(self.issuer_id, "stablecoin_issuer")
            issuer = self.issuer

        def work(uow):
            if asset == "KZT":
                uow.transfer([Posting(self._world(uow, "KZT"), -amount_minor),
                              Posting(a.bank_ledger_account_id, amount_minor)], memo=f"{source}: tenge to {a.iban}")
            elif asset == "KZTE":
                issuer.mint(uow, actor, None, amount_minor, pay_from_account_id=self._world(uow, "KZT"))
            else:
                uow.transfer([Posting(self._world(uow, asset), -amount_minor),
                              Posting(self._customer_account(uow, actor, asset), amount_minor)],
                             memo=f"{source}: {asset} into custody")
            audit.append(uow, actor, f"funds.{source}", actor, {
                "customer": actor, "asset": asset, "amount_minor": amount_minor,
                "tax": self._tax("acquisition", asset, amount_minor, self._model_value_kzt(asset, amount_minor),
                                 source)})
        self.ledger.transaction(work)
        return {"status": "ok", "asset": asset, "amount_minor": amount_minor}

    @property
    def custodian(self):
        """The exchange's BTC custodian on the embedded regtest node (HD keys from the seed), built on first use."""
        if self._custodian is None:
            from wallet.bitcoin.node import RegtestNode
            from wallet.custodian import Custodian, WalletConfig
            from wallet.keys import HDKeys, MasterSeed
            self.btc_node = RegtestNode(self.clock, seed=self.seed)
            conf = dict(self.cfg.custody.confirmations)
            # The travel rule's threshold is the city's, in tenge (custody.travel_rule_threshold), checked by
            # ``withdraw`` at the model price; the custodian's own fixed BTC threshold is set out of reach.
            wallet_cfg = WalletConfig(confirmations=conf, travel_rule_threshold_minor={"BTC": _withdrawals.MAX_BTC_SAT})
            self._custodian = Custodian(self.ledger, HDKeys(MasterSeed.for_sandbox(f"city:{self.seed}")),
                                        btc=self.btc_node, config=wallet_cfg)
        return self._custodian

    def onchain_deposit(self, *, actor: str, amount_minor: int) -> dict:
        """A real BTC deposit: a regtest transaction to the actor's own deposit address, mined to the
        configured confirmations, then credited exactly once by the custodian's scan."""
        self._sync()
        self._actor(actor)
        self._check_deposit("BTC", amount_minor)
        self._require(self.cfg.custody.custodian, "custody")
        custodian = self.custodian
        address = custodian.deposit_address(actor, "bitcoin")
        txid = self.btc_node.faucet(address, amount_minor)
        confirmations = max(1, self.cfg.custody.confirmations.get("BTC", 1))
        self.btc_node.mine(confirmations)
        credited = [d for d in custodian.scan() if d.get("owner") == actor]

        def record(uow):
            audit.append(uow, self.cfg.custody.custodian, "funds.deposit", actor, {
                "customer": actor, "asset": "BTC", "amount_minor": amount_minor, "txid": txid, "address": address,
                "tax": self._tax("acquisition", "BTC", amount_minor, self._model_value_kzt("BTC", amount_minor),
                                 "deposit", txid)})
        self.ledger.transaction(record)
        return {"status": "ok", "txid": txid, "address": address, "confirmations": confirmations,
                "credited": len(credited)}

    def faucet(self, *, actor: str, asset: str, amount_minor: int) -> dict:
        """Test money from the sandbox faucet (same path as a deposit)."""
        return self.deposit(actor=actor, asset=asset, amount_minor=amount_minor, source="faucet")

    # ------------------------------------------------------------------ trading
    def _instrument(self, instrument: str):
        return self.exchange.instruments.get(instrument)

    def buy(self, *, actor: str, instrument: str, quote_amount_minor: int) -> dict:
        """Market buy on the AIFC exchange spending ``quote_amount_minor`` (fee included). Tenge comes from
        the bank account when the exchange account lacks it."""
        self._sync()
        a = self._actor(actor)
        self._require(self.exchange_id, "trading_facility")
        self._can_trade(actor)
        inst = self._instrument(instrument)

        def work(uow):
            if inst.quote == "KZT":
                ex_kzt = self._customer_account(uow, actor, "KZT")
                have = uow.balance(ex_kzt).available_minor
                if have < quote_amount_minor:
                    move = quote_amount_minor - have
                    uow.transfer([Posting(a.bank_ledger_account_id, -move), Posting(ex_kzt, move)],
                                 memo="tenge from the bank account to the exchange")
            res = self.exchange.place_order(uow, actor, instrument, "buy", "market", quote_qty_minor=quote_amount_minor)
            audit.append(uow, actor, "exchange.buy", instrument,
                         {"customer": actor, "quote_amount_minor": quote_amount_minor,
                          "filled_qty_minor": res.filled_qty_minor, "quote_filled_minor": res.quote_filled_minor,
                          "fee_minor": res.fee_minor,
                          "tax": self._tax("acquisition", inst.base, res.filled_qty_minor,
                                           self._kzt_value(inst.quote, res.quote_filled_minor + res.fee_minor),
                                           "buy", f"order {res.order_id}")})
            return res
        res = self.ledger.transaction(work)
        return {"status": "ok", "order_id": res.order_id, "filled_qty_minor": res.filled_qty_minor,
                "quote_filled_minor": res.quote_filled_minor, "fee_minor": res.fee_minor}

    def sell(self, *, actor: str, instrument: str, base_qty_minor: int) -> dict:
        """Market sell of ``base_qty_minor``; proceeds (net of fee) stay in the customer's exchange account."""
        self._sync()
        self._actor(actor)
        self._require(self.exchange_id, "trading_facility")
        self._can_trade(actor)
        inst = self._instrument(instrument)

        def work(uow):
            res = self.exchange.place_order(uow, actor, instrument, "sell", "market", qty_minor=base_qty_minor)
            proceeds = self._kzt_value(inst.quote, res.quote_filled_minor - res.fee_minor)
            audit.append(uow, actor, "exchange.sell", instrument,
                         {"customer": actor, "base_qty_minor": base_qty_minor, "filled_qty_minor": res.filled_qty_minor,
                          "quote_filled_minor": res.quote_filled_minor, "fee_minor": res.fee_minor,
                          "tax": self._tax("disposal", inst.base, res.filled_qty_minor, proceeds, "sell",
                                           f"order {res.order_id}")})
            return res
        res = self.ledger.transaction(work)
        return {"status": "ok", "order_id": res.order_id, "filled_qty_minor": res.filled_qty_minor,
                "proceeds_minor": res.quote_filled_minor - res.fee_minor, "fee_minor": res.fee_minor}

    # ------------------------------------------------------------------ KZTE
    def mint(self, *, actor: str, amount_minor: int) -> dict:
        """Pay tenge from the bank account into the KZTE reserve and receive the same KZTE."""
        self._sync()
        a = self._actor(actor)
        self._require(self.issuer_id, "stablecoin_issuer")
        issuer = self.issuer

        def work(uow):
            op = issuer.mint(uow, actor, None, amount_minor, pay_from_account_id=a.bank_ledger_account_id)
            audit.append(uow, self.issuer_id, "kzte.mint", actor, {
                "customer": actor, "amount_minor": amount_minor,
                "tax": self._tax("acquisition", "KZTE", amount_minor, amount_minor, "mint")})
            return op
        self.ledger.transaction(work)
        return {"status": "ok", "amount_minor": amount_minor}

    def redeem(self, *, actor: str, amount_minor: int) -> dict:
        """Burn KZTE and receive the same tenge on the bank account."""
        self._sync()
        a = self._actor(actor)
        self._require(self.issuer_id, "stablecoin_issuer")
        issuer = self.issuer

        def work(uow):
            issuer.redeem_to_tenge(uow, actor, amount_minor, a.bank_ledger_account_id)
            audit.append(uow, self.issuer_id, "kzte.redeem", actor, {
                "customer": actor, "amount_minor": amount_minor,
                "tax": self._tax("disposal", "KZTE", amount_minor, amount_minor, "redeem")})
        self.ledger.transaction(work)
        return {"status": "ok", "amount_minor": amount_minor}

    # ------------------------------------------------------------------ card
    def pay(self, *, actor: str, merchant: str, amount_minor: int, ref: str) -> PaymentResult:
        """Tap the actor's card at ``merchant``: approved (hold placed, crypto sold just in time if the bank
        account is short) or declined with an ISO response code and a reason; flags are AML observations."""
        self._sync()
        a = self._actor(actor)
        merchant_id = self._merchant(merchant)
        def record(uow, res) -> None:
            # Runs inside the card's own transaction: the purchase and its audit entry commit together.
            status = "approved" if res.approved else "declined"
            tax = [e for leg in res.sold for e in self._tax("disposal", leg["asset"], leg["sold_qty_minor"],
                                                             leg["proceeds_minor"], "card", ref)]
            audit.append(uow, actor, f"card.{status}", ref,
                         {"customer": actor, "merchant": merchant_id, "amount_minor": amount_minor,
                          "response_code": res.response_code, "reason": res.reason, "sold": list(res.sold),
                          "flags": [list(f) for f in res.flags], "tax": tax})
        res = self.cards.authorize(card_id=a.card_id, amount_minor=amount_minor, merchant_id=merchant_id,
                                   idempotency_key=_pay_key(ref), on_decided=record)
        status = "approved" if res.approved else "declined"
        return PaymentResult(status, res.response_code, res.reason, [tuple(f) for f in res.flags],
                             res.authorization_id, res.auth_code, res.amount_minor, res.shortfall_minor,
                             res.conversion_fee_minor, [dict(leg) for leg in res.sold])

    def _clearing(self, verb: str, ref: str, amount_minor: int | None, key: str | None = None) -> dict:
        from . import city_ops
        self._sync()
        out = city_ops.clear(self, verb, authorization_id=self._ref(ref), amount_minor=amount_minor, key=key,
                             subject=ref)
        return {**out, "status": "ok"}

    def capture(self, *, ref: str, amount_minor: int | None = None, key: str | None = None) -> dict:
        """Clear a purchase (all of it, or ``amount_minor`` of it): the merchant is paid in tenge, minus fees.
        With ``key``, a retry of the same capture changes nothing (another request with it is refused)."""
        return self._clearing("capture", ref, amount_minor, key)

    def reverse(self, *, ref: str, key: str | None = None) -> dict:
        """Void an uncleared purchase: the hold is released (crypto already sold stays sold, as tenge)."""
        return self._clearing("reverse", ref, None, key)

    def refund(self, *, ref: str, amount_minor: int | None = None, key: str | None = None) -> dict:
        """The merchant pays back a cleared purchase (all of it or ``amount_minor``) to the bank account.
        With ``key``, a retried partial refund pays once."""
        return self._clearing("refund", ref, amount_minor, key)

    # ------------------------------------------------------------------ time and licences
    def advance(self, delta: timedelta | str) -> dict:
        """Move the sandbox clock (for every process on this database); market makers requote at the new
        prices and stale holds expire."""
        if isinstance(delta, str):
            delta = parse_duration(delta)
        self._sync()
        return self.ledger.transaction(lambda uow: self.advance_in(uow, delta))

    def _licence_change(self, verb: str, licence_id: str, reason: str, until: datetime | None = None) -> dict:
        self._sync()

        def work(uow):
            # The change is made to the states as the database has them, under the licences' lock, and
            # committed with its audit entry; every process picks it up by the version number.
            uow.advisory_lock(city_state.LICENCE_LOCK)
            now = uow.now()
            registry = LicenceRegistry.from_config(self.cfg, city_state.load_licences(uow.conn))
            before = registry.get(licence_id)
            before = (before.suspended_at, before.valid_until)
            if verb == "renew":
                lic = registry.renew(licence_id, until, now)
            else:
                lic = getattr(registry, verb)(licence_id, now, reason or "")
            if (lic.suspended_at, lic.valid_until) == before:
                return lic, now   # suspending a suspended licence (or reinstating an active one) changes nothing
            city_state.save_licence(uow.conn, lic)
            version = city_state.bump_licences_version(uow.conn)
            details = {"participant": lic.participant, "scope": lic.scope, "reason": reason or ""}
            if verb == "renew":
                details["valid_until"] = lic.valid_until.isoformat()
            audit.append(uow, lic.regulator, f"licence.{verb}", licence_id, details)
            uow.after_commit(lambda: self._install_licences(registry, version))
            return lic, now
        lic, now = self.ledger.transaction(work)
        return {"status": "ok", "licence": licence_id, "state": lic.status(now)}

    def suspend_licence(self, *, licence_id: str, reason: str = "") -> dict:
        """Suspend a licence from now on, for every process; suspending the exchange's trading-facility
        licence also halts its books until it is reinstated."""
        return self._licence_change("suspend", licence_id, reason)

    def reinstate_licence(self, *, licence_id: str, reason: str = "") -> dict:
        return self._licence_change("reinstate", licence_id, reason)

    # ------------------------------------------------------------------ reading
    def balances(self, actor: str) -> dict[str, int]:
        """AVAILABLE minor units per asset: "KZT" is the card's bank account, crypto the custodial accounts,
        "KZT@exchange" tenge left on the exchange."""
        self._sync()
        a = self._actor(actor)
        out: dict[str, int] = {}
        with self.ledger.unit_of_work(read_only=True) as uow:
            out["KZT"] = uow.balance(a.bank_ledger_account_id).available_minor
            for acct in uow.accounts_of(actor):
                if acct.purpose != "customer":
                    continue
                key = "KZT@exchange" if acct.asset == "KZT" else acct.asset
                out[key] = uow.balance(acct.id).available_minor
        return out

    def flags(self, actor: str) -> list[tuple[str, str]]:
        """Every (rule, reason) flag raised on the actor's purchases so far, approved or declined, in order."""
        self._sync()
        from card.tables import authorizations as t_auth
        self._actor(actor)
        with self.ledger.unit_of_work(read_only=True) as uow:
            rows = uow.conn.execute(select(t_auth.c.flags).where(t_auth.c.cardholder_id == actor)
                                    .order_by(t_auth.c.id).limit(10_000)).scalars().all()
        return [tuple(f) for row in rows for f in (row or [])]

    def tax_statement(self, actor: str, year: int) -> TaxStatement:
        """Disposals of ``year`` (a calendar year in the city's time zone; exchange and card-funded sales)
        with FIFO basis, gain and PIT."""
        self._sync()
        a = self._actor(actor)
        from .tables import audit_log as log
        acquisitions, disposals = [], []
        with self.ledger.unit_of_work(read_only=True) as uow:
            rows = uow.conn.execute(select(log.c.at, log.c.details).where(log.c.action.in_(TAX_ACTIONS))
                                    .order_by(log.c.seq).limit(MAX_TAX_ROWS)).all()
        for at, details in rows:
            d = json.loads(details)
            if d.get("customer") != actor:
                continue
            for e in d.get("tax", []):
                if e["kind"] == "acquisition":
                    acquisitions.append(Acquisition(at, e["asset"], e["qty_minor"], e["kzt_minor"], e["source"]))
                else:
                    disposals.append(Disposal(at, e["asset"], e["qty_minor"], e["kzt_minor"], e["source"], e["ref"]))
        return tax_statement_of(actor, year, acquisitions, disposals, a.profile.resident, self.cfg.tax,
                                residency_basis=a.residency_basis, tz=self.cfg.sandbox.zone)

    def verify(self):
        """Prove the ledger's invariants, the KZTE peg (whenever KZTE was ever issued on this database:
        a reopened city's chain is re-seeded from the ledger first) and the audit chain."""
        self._sync()
        self._start_issuer_if_issued()
        report = self.ledger.verify()
        with self.ledger.unit_of_work(read_only=True) as uow:
            chain = audit.verify(uow.conn)
        if not chain.ok:
            raise CityError("audit_tampered", str(chain))
        return report

    def now(self) -> datetime:
        """The sandbox time, as the database has it (another process may have advanced it)."""
        self._sync()
        return self.clock.now()

    def close(self) -> None:
        self.db.dispose()

    # ------------------------------------------------------------------ merchants and accounts
    def register_merchant(self, *, merchant_id: str, name: str, mcc: str, in_zone: bool = True) -> dict:
        """Register a merchant that is not in the configuration (e.g. from the population generator)."""
        self._sync()
        def work(uow):
            from card import issuing
            rec = issuing.register_merchant(uow, merchant_id, name, mcc, in_zone=in_zone,
                                            mdr_bps=self.cfg.card.mdr_bps)
            audit.append(uow, "sandbox", "merchant.registered", merchant_id,
                         {"name": name, "mcc": mcc, "in_zone": in_zone})
            return rec
        self.ledger.transaction(work)
        self._merchant_ids.setdefault(name.lower(), merchant_id)
        return {"status": "ok", "merchant": merchant_id}

    def account_balance(self, code: str) -> int:
        """Ledger balance (minor units) of the account ``code``; 0 if it was never opened."""
        with self.ledger.unit_of_work(read_only=True) as uow:
            acct = uow.find_account(code)
            return 0 if acct is None else uow.balance(acct.id).ledger_minor

    # ------------------------------------------------------------------ reports
    def regulator_summary(self) -> dict:
        """What the regulators read: card volumes, declines by code and reason, AML flags, exchange
        volume, KZTE reserves vs supply (attestation), licence states and whether invariants hold."""
        self._sync()
        self._start_issuer_if_issued()
        from .city_report import regulator_summary
        return regulator_summary(self)

    # ------------------------------------------------------------------ shared state (added verbs)
    def advance_in(self, uow, delta: timedelta | str) -> dict:
        """``advance`` inside the caller's unit of work (e.g. the web layer's idempotent write): the
        clock row, expired holds, the market makers' new quotes and the audit entry commit together.
        Nothing moves in memory unless that unit of work commits."""
        from card import clearing
        if isinstance(delta, str):
            delta = parse_duration(delta)
        if not isinstance(delta, timedelta) or delta < timedelta(0):
            raise CityError("invalid_duration", f"the sandbox clock only moves forward; got {delta!r}")
        # One advancer at a time across processes; the row read after the lock is the latest time.
        uow.advisory_lock(city_state.CLOCK_LOCK)
        head = city_state.head(uow.conn, for_update=True)
        model = self.exchange.price_model
        with self._state_lock:
            if head.now > self.clock.now() or self._replayed_seq is None:
                self._replay_advances(uow.conn)   # another process advanced since our last look
                self.clock.catch_up(head.now)
            saved_model, saved_seq = copy.deepcopy(model.__dict__), self._replayed_seq
        now = max(head.now, self.clock.now()) + delta

        def undo() -> None:   # rolled back: the price model must not keep a draw the city never made
            with self._state_lock:
                model.__dict__.update(saved_model)
                self._replayed_seq = saved_seq

        uow.after_rollback(undo)
        with self.clock.pending(now):
            # Every row this advance writes carries the new time. A caller's unit of work may already
            # have read its (old) time — the web layer's idempotency claim does — so move it on.
            uow.move_time_to(now)
            expired = clearing.expire_holds(self.cards, uow)
            placed = self.exchange.market_makers.requote(uow, now)
            seq = audit.append(uow, "sandbox", "clock.advanced", now.isoformat(), {"expired_holds": expired,
                                                                                    "orders_requoted": placed})
            city_state.set_now(uow.conn, now)

        def publish() -> None:
            with self._state_lock:
                self.clock.catch_up(now)
                self._replayed_seq = max(self._replayed_seq or 0, seq)
                self._apply_trading()   # a licence may have expired at the new time
        uow.after_commit(publish)
        return {"status": "ok", "now": now.isoformat(), "expired_holds": expired}

    def renew_licence(self, *, licence_id: str, valid_until: datetime, reason: str = "") -> dict:
        """Extend a renewable licence to ``valid_until`` (for every process); refused with
        ``licensing_error`` if it is not renewable or the date does not extend it."""
        from .clock import utc
        if not isinstance(valid_until, datetime):
            raise CityError("invalid_date", f"valid_until is a date and time, got {valid_until!r}")
        return self._licence_change("renew", licence_id, reason, until=utc(valid_until))

    def refresh(self) -> None:
        """Catch up with the database now (time, licences and the trading halt they imply): what every
        verb does first. For code that reaches the city's parts (exchange, cards) without a verb."""
        self._sync()

    # ------------------------------------------------------------------ KYC changes and withdrawals (added verbs)
    def profile(self, actor: str) -> CustomerProfile:
        """The customer's profile, with the KYC tier as the database has it now."""
        self._sync()
        return self._current_profile(actor)

    def _current_profile(self, actor: str) -> CustomerProfile:
        a = self._actor(actor)
        with self._reading() as conn:
            return self._with_tier(a, city_state.kyc_tier_of(conn, actor))

    def set_kyc_tier(self, *, actor: str, kyc_tier: str, reason: str = "") -> dict:
        """Move the customer to another configured KYC tier (for every process): the new tier's permissions
        and limits apply from the next purchase or trade. Audited as ``customer.kyc_changed`` (old and new
        tier, reason); setting the tier the customer already has changes nothing."""
        self._sync()
        if kyc_tier not in self.cfg.kyc.tiers:
            raise CityError("invalid_kyc_tier", f"KYC tier {kyc_tier!r} is not configured; use one of "
                                                f"{', '.join(self.cfg.kyc.tiers)}")
        if not isinstance(reason, str) or len(reason) > 300 or not reason.isprintable():
            raise CityError("invalid_reason", "a reason is printable text of at most 300 characters")
        a = self._actor(actor)

        def work(uow):
            uow.advisory_lock(f"sandbox:kyc:{actor}")
            before = city_state.kyc_tier_of(uow.conn, actor)
            if before == kyc_tier:
                return before, False
            city_state.set_kyc_tier(uow.conn, actor, kyc_tier)
            audit.append(uow, self.cfg.card.issuer, "customer.kyc_changed", actor,
                         {"customer": actor, "from_tier": before, "to_tier": kyc_tier, "reason": reason})
            uow.after_commit(lambda: self._with_tier(a, kyc_tier))
            return before, True
        before, changed = self.ledger.transaction(work)
        self._with_tier(a, kyc_tier)
        return {"status": "ok", "actor": actor, "kyc_tier": kyc_tier, "previous_kyc_tier": before,
                "changed": changed}

    def withdraw(self, *, actor: str, asset: str = "BTC", address: str, amount_minor: int, key: str,
                 travel_rule: dict | None = None) -> dict:
        """Send ``amount_minor`` of the actor's BTC to ``address`` on the regtest chain, through the licensed
        custodian; the network fee is debited too (see ``sandbox/withdrawals.py``). Same ``key`` + same
        request returns the same withdrawal; a different request with that key is ``idempotency_conflict``."""
        return _withdrawals.withdraw(self, actor=actor, asset=asset, address=address, amount_minor=amount_minor,
                                     key=key, travel_rule=travel_rule)

    def withdrawals(self, actor: str, *, limit: int = 50, after_id: int | None = None) -> list[dict]:
        """The actor's withdrawals, oldest first (``after_id``: the last id of the previous page)."""
        return _withdrawals.withdrawals(self, actor, limit=limit, after_id=after_id)
