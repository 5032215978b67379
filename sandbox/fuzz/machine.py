"""The state machine: one fresh city per example, one rule per verb, the invariants after every step."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from .steps import ADVANCES, INSTRUMENTS, LICENCES, MERCHANTS, StepRunner, amount, header

FEE_ACCOUNT = "fees:card-programme:KZT"   # where the card's conversion fee goes (card/authorization.py)
CLEARING_EVENTS = {"capture": "authorization.captured", "reverse": "authorization.reversed",
                   "refund": "authorization.refunded"}
ACTOR_NAMES = ("aigerim", "dias", "arman")


class InvariantBroken(AssertionError):
    """An invariant failed after a step (the message names it)."""


class Run:
    """What one ``cryptocity fuzz`` run shares across examples: the city's configuration, the budget,
    the counts, and the last failing example's steps (Hypothesis replays the shrunk one last)."""

    def __init__(self, config: str, seed: int, workdir: Path, budget: int, on_step=None) -> None:
        self.config, self.seed, self.workdir, self.budget = config, seed, workdir, budget
        self.on_step = on_step
        self.steps_run = 0
        self.checks = 0
        self.examples = 0
        self.verbs: Counter[str] = Counter()
        self.failure: tuple[list[dict], str, int] | None = None   # steps, message, fee the model expects
        self.runner = StepRunner(config, seed)
        self._template: Path | None = None

    def template(self) -> Path:
        """A SQLite city with the actors onboarded, built once per run; each example starts on a copy."""
        if self._template is None:
            from ..city import CryptoCity
            path = self.workdir / "template.db"
            city = CryptoCity.from_config(self.config, db=f"sqlite:///{path}", seed=self.seed)
            try:
                self.runner.onboard(city, header(self.config, self.seed))
            finally:
                city.close()
            self._template = path
        return self._template


RUN: Run | None = None   # set by sandbox.fuzz.engine for the duration of one run


def _kzt(data: st.DataObject, low: int, high: int) -> str:
    return f"{data.draw(st.integers(low, high))}.00 KZT"


class CityMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        from ..city import CryptoCity
        run = self.run = RUN
        assert run is not None
        run.examples += 1
        db = run.workdir / f"city-{run.examples}.db"
        shutil.copyfile(run.template(), db)   # a copy of the onboarded city: ~5x faster than building one
        self.city = CryptoCity.from_config(run.config, db=f"sqlite:///{db}", seed=run.seed)
        self.steps: list[dict] = []
        self.refs: dict[str, int] = {}      # approved purchases: ref -> amount (KZT minor)
        self.fees = self.city.account_balance(FEE_ACCOUNT)   # what the model says the fee account holds
        self.mark = self.city.last_event_id()
        self.seen_ids: set[str] = set()

    def teardown(self) -> None:
        self.city.close()

    # -- the one place a step runs ------------------------------------------------------------------
    def _step(self, step: dict) -> Any:
        run = self.run
        verb = next(iter(step))
        self.steps.append(step)
        try:
            outcome, error = run.runner.run(self.city, step)
            if error is not None:
                step["expect"] = {"status": "error", "error": error.code}
            run.steps_run += 1
            run.verbs[verb] += 1
            self._check(verb, outcome, error)
        except Exception as exc:
            run.failure = ([dict(s) for s in self.steps], f"{type(exc).__name__}: {exc}", self.fees)
            raise
        if run.on_step is not None:
            run.on_step()
        return outcome

    def _check(self, verb: str, outcome: Any, error: Any) -> None:
        run = self.run
        # 1. the ledger's invariants, the KZTE peg and the audit chain
        self.city.verify()
        # 2. money: every conversion fee a step reports (a purchase's; an over-capture's JIT sale) reaches the
        # programme's fee account, and every fee a refund reports as returned leaves it
        if error is None and (verb != "pay" or getattr(outcome, "status", None) == "approved"):
            self.fees += getattr(outcome, "conversion_fee_minor", 0) or 0
            self.fees -= getattr(outcome, "conversion_fee_returned_minor", 0) or 0
        have = self.city.account_balance(FEE_ACCOUNT)
        if have != self.fees:
            raise InvariantBroken(f"after {verb}: the fee account {FEE_ACCOUNT} holds {amount(have, 'KZT')}, "
                                  f"the purchases reported {amount(self.fees, 'KZT')} of conversion fees")
        # 3. events: each emitted once, ids strictly increasing; one per purchase and clearing step
        events = self._new_events()
        ids = [e["id"] for e in events]
        if len(set(ids)) != len(ids) or self.seen_ids & set(ids):
            raise InvariantBroken(f"after {verb}: an event id was emitted twice: {ids}")
        self.seen_ids.update(ids)
        types = Counter(e["type"] for e in events)
        created = types["authorization.created"]
        if created != (1 if verb == "pay" and error is None else 0):
            raise InvariantBroken(f"after {verb}: {created} authorization.created events")
        if verb in CLEARING_EVENTS:
            want = 0 if error is not None else 1
            if types[CLEARING_EVENTS[verb]] != want:
                raise InvariantBroken(f"after {verb}: {types[CLEARING_EVENTS[verb]]} {CLEARING_EVENTS[verb]} events")
        run.checks += 3

    def _new_events(self) -> list[dict]:
        out: list[dict] = []
        while True:
            page = self.city.events(after=self.mark, limit=100)
            if not page:
                return out
            for event in page:
                if self.mark is not None and _seq(event["id"]) <= _seq(self.mark):
                    raise InvariantBroken(f"event ids not increasing: {event['id']} after {self.mark}")
                self.mark = event["id"]
            out.extend(page)

    # -- the verbs ----------------------------------------------------------------------------------
    @rule(actor=st.sampled_from(ACTOR_NAMES), merchant=st.sampled_from(MERCHANTS), data=st.data())
    def pay(self, actor: str, merchant: str, data: st.DataObject) -> None:
        kzt = data.draw(st.integers(100, 60_000))
        ref = f"p{len(self.steps) + 1}"
        outcome = self._step({"pay": {"actor": actor, "merchant": merchant, "amount": f"{kzt}.00 KZT", "ref": ref}})
        if getattr(outcome, "status", None) == "approved":
            self.refs[ref] = kzt * 100

    def _clearing(self, verb: str, data: st.DataObject) -> None:
        ref = data.draw(st.sampled_from(sorted(self.refs)))
        args: dict[str, Any] = {"ref": ref}
        share = data.draw(st.sampled_from((None, 100, 50, 10)))
        if share is not None:
            args["amount"] = amount(max(1, self.refs[ref] * share // 100), "KZT")
        self._step({verb: args})

    @precondition(lambda self: self.refs)
    @rule(data=st.data())
    def capture(self, data: st.DataObject) -> None:
        self._clearing("capture", data)

    @precondition(lambda self: self.refs)
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        self._clearing("reverse", data)

    @precondition(lambda self: self.refs)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        self._clearing("refund", data)

    @rule(actor=st.sampled_from(ACTOR_NAMES), asset=st.sampled_from(("KZT", "BTC", "USDT", "ETH")), n=st.integers(1, 2000))
    def deposit(self, actor: str, asset: str, n: int) -> None:
        text = {"KZT": f"{n * 50}.00 KZT", "BTC": f"0.{n:05d} BTC", "USDT": f"{n}.00 USDT",
                "ETH": f"0.{n:04d} ETH"}[asset]
        self._step({"deposit": {"actor": actor, "amount": text}})

    @rule(actor=st.sampled_from(ACTOR_NAMES), instrument=st.sampled_from(sorted(INSTRUMENTS)), data=st.data())
    def buy(self, actor: str, instrument: str, data: st.DataObject) -> None:
        self._step({"buy": {"actor": actor, "instrument": instrument, "amount": _kzt(data, 500, 50_000)}})

    @rule(actor=st.sampled_from(ACTOR_NAMES), instrument=st.sampled_from(sorted(INSTRUMENTS)), n=st.integers(1, 500))
    def sell(self, actor: str, instrument: str, n: int) -> None:
        base = INSTRUMENTS[instrument]
        text = {"BTC": f"0.{n * 2:05d} BTC", "USDT": f"{n}.00 USDT", "ETH": f"0.{n * 4:04d} ETH"}[base]
        self._step({"sell": {"actor": actor, "instrument": instrument, "amount": text}})

    @rule(actor=st.sampled_from(ACTOR_NAMES), n=st.integers(1, 50_000))
    def mint(self, actor: str, n: int) -> None:
        self._step({"mint": {"actor": actor, "amount": f"{n}.00 KZTE"}})

    @rule(actor=st.sampled_from(ACTOR_NAMES), n=st.integers(1, 20_000))
    def redeem(self, actor: str, n: int) -> None:
        self._step({"redeem": {"actor": actor, "amount": f"{n}.00 KZTE"}})

    @rule(by=st.sampled_from(ADVANCES))
    def advance(self, by: str) -> None:
        self._step({"advance": by})

    @rule(licence=st.sampled_from(LICENCES))
    def suspend_licence(self, licence: str) -> None:
        self._step({"suspend_licence": {"licence": licence, "reason": "fuzz"}})

    @rule(licence=st.sampled_from(LICENCES))
    def reinstate_licence(self, licence: str) -> None:
        self._step({"reinstate_licence": {"licence": licence, "reason": "fuzz"}})


def _seq(event_id: str) -> int:
    from .. import events as event_log
    return event_log.parse_id(event_id)
