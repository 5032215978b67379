"""The city's wiring in one process: configuration, ledger, exchange, card, rules, KZTE and custody.

``CityContext`` is what every service function receives first (``service(city, uow, …)``). It holds
only what is the same in every process or is versioned by the database:

* immutable wiring — the configuration, the seed, the exchange's instruments, the card service;
* caches stamped with the database version they were built at — the licence states
  (``sandbox_city.licences_version``), the price model (the audit sequence of the last clock advance
  replayed into it), the exchange's books (their own sequence numbers, see ``exchange/service.py``);
* the embedded chains (``sandbox/chains.py``): the Bitcoin regtest chain is in the database (every process
  uses the same one); KZTE's EVM lives in this process as a mirror of the ledger's journal.

Mutable state that any process may change — customers, KYC tiers, the clock, balances — is read from
the database inside the unit of work that uses it. ``begin(uow)`` is the first statement of every unit
of work: one single-row read of ``sandbox_city`` (the time and the licence version) that fixes the unit
of work's instant and catches the caches up when another process moved them.
"""
from __future__ import annotations

import copy
import threading
import time
from datetime import datetime
from typing import Any, Callable

from ledger import Database, Ledger, Posting

from . import audit, city_state, maker_fills
from .chains import EmbeddedChains, LazyIssuer
from .city_parts import AssetBook, build_exchange, fund_market_makers, permitted_kinds
from .clock import SandboxClock
from .config import CityConfig
from .incidents.state import price_shocks
from .licensing import LicenceRegistry
from .rules import CustomerProfile, SandboxRules
from .rules.history import card_history_later

WORLD = "world"
MAX_ACTORS = 100_000


class CityContext(EmbeddedChains):
    """One process's view of one city (see the module docstring). Thread-safe: per-request state lives
    in the unit of work, shared caches change under ``_state_lock``. The embedded chains (KZTE's EVM, the
    Bitcoin regtest node) come from ``sandbox/chains.py``."""

    def __init__(self, cfg: CityConfig, db_url: str, seed: int, *,
                 evm_url: str | None = None) -> None:
        started = time.perf_counter()
        self.cfg = cfg
        self.db = Database(db_url)
        self._migrate()
        with self.db.engine.connect() as conn:
            existing = city_state.head(conn)
        # A city keeps the seed and start it was set up with: every process must price alike.
        self.seed = existing.seed if existing else seed
        created = existing.created_at if existing else cfg.sandbox.start
        self.clock = SandboxClock(existing.now if existing else cfg.sandbox.start)
        self.ledger = Ledger(self.db, self.clock)
        self.assets = AssetBook(cfg)
        self.licences = LicenceRegistry.from_config(cfg)
        self.exchange_id = self.holder_of("trading_facility", "aifc-exchange")
        self.issuer_id = cfg.stablecoin.issuer
        self.custodian_id = cfg.custody.custodian
        self.exchange = build_exchange(self.ledger, cfg, self.seed, created)
        self.init_chains(evm_url)
        from card import CardService, ClearingPolicy

        from .funding import ExchangeFunder
        self.funder = ExchangeFunder(self.exchange, LazyIssuer(self))
        self.rules = SandboxRules(cfg, self.licences, self.profile_in, card_history_later,
                                  exchange_id=self.exchange_id)
        self.cards = CardService(self.ledger, self.funder, self.rules, deadline_ms=cfg.card.auth_deadline_ms,
                                 hold_days=cfg.card.hold_expiry_days,
                                 extended_hold_days=cfg.card.extended_hold_expiry_days, timezone=cfg.sandbox.zone,
                                 permitted_kinds=permitted_kinds(cfg),
                                 policy=ClearingPolicy(dict(cfg.card.over_capture_tolerance_bps),
                                                       cfg.card.refund_policy, cfg.card.refund_conversion_fee,
                                                       cfg.card.reversal_policy))
        # What this process has taken from the database: the licence version, the last clock advance
        # replayed into the price model, and the trading state last applied to the exchange.
        self._state_lock = threading.RLock()
        self._licences_version = -1
        self._replayed_seq: int | None = None
        self._trading_licensed: bool | None = None
        self.set_up_here = self.ledger.transaction(self._set_up_once)
        self.transaction(lambda uow: None)   # catch the caches up once
        try:
            self.start_shared_evm()
        except BaseException:
            self.close()   # a node without this database's contracts: refused, nothing left open
            raise
        self.startup_seconds = time.perf_counter() - started

    # ------------------------------------------------------------------ units of work
    def transaction(self, fn: Callable[[Any], Any], *, retries: int | None = None) -> Any:
        """Run ``fn(uow)`` in one write transaction that starts at the city's time (``begin``) and commits
        at the end; retried whole on deadlocks and serialization failures (``retries=0``: never — for work
        that touched an in-process chain, which a retry would repeat)."""
        def work(uow):
            self.begin(uow)
            return fn(uow)
        if retries is None:
            return self.ledger.transaction(work)
        return self.ledger.transaction(work, retries=retries)

    def read(self, fn: Callable[[Any], Any], *, snapshot: bool = False) -> Any:
        """Run ``fn(uow)`` in a read-only unit of work at the city's time (no write lock on SQLite);
        ``snapshot``: all its statements see one state of the database (a report's figures agree)."""
        with self.ledger.unit_of_work(read_only=True, snapshot=snapshot) as uow:
            self.begin(uow)
            return fn(uow)

    def begin(self, uow) -> datetime:
        """First statement of every unit of work: read the city's time and version (licences, price crashes),
        fix the unit of work's instant, and catch this process's caches up if another process moved them."""
        state = city_state.tick_in(uow)
        if state is None:   # a bare database being set up
            return uow.now()
        now, version = state
        uow.start_at(now)
        # Customers' resting orders that this unit of work trades against get their tax lots and events
        # before it commits, whichever verb traded (an order, a card's sale, a requote).
        uow.before_commit(lambda: maker_fills.record(self, uow))
        if now > self.clock.now() or version != self._licences_version or self._replayed_seq is None:
            with self._state_lock:
                if now > self.clock.now() or self._replayed_seq is None:
                    self._replay_advances(uow.conn)
                    self.clock.catch_up(now)
                if version != self._licences_version:
                    self.install_licences(LicenceRegistry.from_config(self.cfg, city_state.load_licences(uow.conn)),
                                          version)
                # price crashes (sandbox/incidents/) are the database's: starting one bumps the version
                self.exchange.price_model.shocks = price_shocks(uow.conn)
        self.apply_trading(now)
        return now

    # ------------------------------------------------------------------ construction
    def _migrate(self) -> None:
        """Migrate under a cross-process lock: workers starting together on a fresh PostgreSQL database
        would otherwise race to create the same tables."""
        from ledger.db import backoff, is_retryable
        if self.db.is_sqlite:
            # A brand-new file's first connection switches it to WAL before its busy timeout applies
            # (ledger/db.py), so a second process opening it at that instant sees "database is locked".
            for attempt in range(8):
                try:
                    self.db.migrate()
                    return
                except Exception as error:  # noqa: BLE001 - filtered just below
                    if attempt == 7 or not is_retryable(error):
                        raise
                    backoff(attempt)
        self.db.migrate_locked("sandbox:migrate")

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
                fund_market_makers(uow, self.exchange, self.world_account)
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

    def holder_of(self, scope: str, default: str) -> str:
        """The configured participant licensed for ``scope`` (e.g. the exchange for trading_facility)."""
        return self.licence_of(scope, default)[0]

    def licence_of(self, scope: str, default_holder: str = "") -> tuple[str, str | None]:
        """(holder, licence id) of the first configured licence for ``scope``; (``default_holder``, None)
        when the configuration grants none."""
        for p in self.cfg.participants:
            for lic in p.licences:
                if lic.scope == scope:
                    return p.id, lic.id
        return default_holder, None

    # ------------------------------------------------------------------ versioned caches
    def _replay_advances(self, conn) -> None:
        """Move the price model through every clock advance it has not seen, in order (same seed and
        same advance times => same prices in every process)."""
        model = self.exchange.price_model
        self._replayed_seq = self._replayed_seq or 0
        for seq, at in city_state.advances_since(conn, self._replayed_seq):
            model.advance(at)
            self._replayed_seq = seq

    def install_licences(self, registry: LicenceRegistry, version: int) -> None:
        with self._state_lock:
            if version > self._licences_version:
                self.licences.replace(registry)
                self._licences_version = version

    def apply_trading(self, now: datetime) -> None:
        """Halt the exchange's books while its trading-facility licence is not active, resume them when
        it is again. Only a change of the licence's verdict touches the books (an operator's own halt of
        one instrument stays as it is)."""
        licensed = self.licences.is_licensed(self.exchange_id, "trading_facility", now)
        if licensed == self._trading_licensed:
            return
        with self._state_lock:
            if licensed == self._trading_licensed:
                return
            if self._trading_licensed is not None or not licensed:
                for inst in self.exchange.instruments:
                    if inst.trading_enabled != licensed:
                        self.exchange.set_trading(inst.symbol, licensed)
            self._trading_licensed = licensed

    def advance_price_model(self, uow, head_now: datetime, new_now: datetime) -> Callable[[int], None]:
        """Prepare the price model for an advance to ``new_now`` written in ``uow``: replay what other
        processes advanced, and undo this advance's draws if ``uow`` rolls back. Returns ``publish(seq)``
        for after the commit."""
        model = self.exchange.price_model
        with self._state_lock:
            if head_now > self.clock.now() or self._replayed_seq is None:
                self._replay_advances(uow.conn)   # another process advanced since our last look
                self.clock.catch_up(head_now)
            saved_model, saved_seq = copy.deepcopy(model.__dict__), self._replayed_seq

        def undo() -> None:   # rolled back: the price model must not keep a draw the city never made
            with self._state_lock:
                model.__dict__.update(saved_model)
                self._replayed_seq = saved_seq
        uow.after_rollback(undo)

        def publish(seq: int) -> None:
            with self._state_lock:
                self.clock.catch_up(new_now)
                self._replayed_seq = max(self._replayed_seq or 0, seq)
            self.apply_trading(new_now)   # a licence may have expired at the new time
        return publish

    # ------------------------------------------------------------------ customers as the rules see them
    def profile_in(self, uow, actor: str) -> CustomerProfile:
        """The customer's profile as the database has it now (the card's rules port reads it on every
        authorization; anyone not onboarded is tier ``none``)."""
        row = city_state.profile_in(uow, actor)
        if row is None:
            return CustomerProfile(actor, kyc_tier="none")
        return CustomerProfile(actor, row[0], bool(row[1]), bool(row[2]))

    # ------------------------------------------------------------------ accounts
    def world_account(self, uow, asset: str) -> int:
        """The outside world in ``asset`` (money enters and leaves the city through it)."""
        acct = uow.find_account(f"external:{WORLD}:{asset}") or uow.open_account(WORLD, asset, "external",
                                                                                 allow_negative=True)
        return acct.id

    def customer_account(self, uow, owner: str, asset: str) -> int:
        acct = uow.find_account(f"customer:{owner}:{asset}") or uow.open_account(owner, asset, "customer")
        return acct.id

    def move_from_world(self, uow, asset: str, to_account_id: int, amount_minor: int, memo: str) -> None:
        uow.transfer([Posting(self.world_account(uow, asset), -amount_minor), Posting(to_account_id, amount_minor)],
                     memo=memo)

    # ------------------------------------------------------------------ prices
    def value_kzt(self, asset: str, qty_minor: int) -> int:
        """The value in tiyn of ``qty_minor`` of ``asset``: KZT and KZTE at par, others at the model price
        (a deposit's cost basis, a sale's proceeds in another quote asset)."""
        if asset in ("KZT", "KZTE"):
            return qty_minor
        model = self.exchange.price_model
        price = model.price_minor(asset) if asset in model.dynamics else 0
        return price * qty_minor // self.assets.unit(asset)

    def close(self) -> None:
        self.db.dispose()
