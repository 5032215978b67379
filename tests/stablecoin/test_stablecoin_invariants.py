"""Hypothesis: after any sequence of mints, transfers and redemptions, supply == liability <= reserve."""
from __future__ import annotations

import itertools
import shutil
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import EthereumTesterProvider, Web3

from ledger import Database, Ledger, ManualClock, errors, move
from stablecoin.attestation import attest, install_check
from stablecoin.errors import StablecoinError
from stablecoin.issuer import ISSUANCE_CODE, RESERVE_CODE, Issuer
from stablecoin.token import deploy

PEOPLE = ("aigerim", "nursultan", "dana")
_db_numbers = itertools.count()


@pytest.fixture(scope="module")
def chain():
    w3 = Web3(EthereumTesterProvider())
    owner, minter, custodian, outsider = w3.eth.accounts[:4]
    token = deploy(w3, owner)
    token.configure_minter(owner, minter, 10**15)
    return w3, token, dict(owner=owner, minter=minter, custodian=custodian, outsider=outsider)


person = st.sampled_from(PEOPLE)
amount = st.integers(min_value=1, max_value=50_000_00)
step = st.one_of(
    st.tuples(st.just("buy"), person, amount),
    st.tuples(st.just("wire"), person, amount),              # tenge into the reserve, mint later
    st.tuples(st.just("mint_reserved"), person, amount),
    st.tuples(st.just("trade"), person, person, amount),     # ledger-only KZTE move between customers
    st.tuples(st.just("chain_hop"), amount),                 # custodian -> outsider -> custodian on chain
    st.tuples(st.just("redeem"), person, amount),
    st.tuples(st.just("pause_and_buy"), person, amount),
)


def apply(ledger, issuer, who, op) -> None:
    kind = op[0]
    with ledger.unit_of_work() as uow:
        if kind in ("buy", "pause_and_buy"):
            _, name, amt = op
            if kind == "pause_and_buy":
                issuer.token.pause(who["owner"])
            try:
                issuer.mint(uow, name, None, amt,
                            pay_from_account_id=uow.account_by_code(f"customer:{name}:KZT").id)
            finally:
                if kind == "pause_and_buy":
                    issuer.token.unpause(who["owner"])
        elif kind == "wire":
            _, name, amt = op
            issuer.receive_tenge(uow, uow.account_by_code(f"customer:{name}:KZT").id, amt)
        elif kind == "mint_reserved":
            _, name, amt = op
            issuer.mint(uow, name, None, amt)
        elif kind == "trade":
            _, a, b, amt = op
            src = uow.find_account(f"customer:{a}:KZTE") or uow.open_account(a, "KZTE", "customer")
            dst = uow.find_account(f"customer:{b}:KZTE") or uow.open_account(b, "KZTE", "customer")
            if src.id == dst.id:
                return
            uow.transfer(move(src.id, dst.id, amt))
        elif kind == "chain_hop":
            _, amt = op
            amt = min(amt, issuer.token.balance_of(who["custodian"]))
            if amt:
                issuer.token.transfer(who["custodian"], who["outsider"], amt)
                issuer.token.transfer(who["outsider"], who["custodian"], amt)
        elif kind == "redeem":
            _, name, amt = op
            issuer.redeem(uow, name, amt, uow.account_by_code(f"customer:{name}:KZT").id)
        uow.commit()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """One migrated SQLite file, copied per example: migrating each time would dominate the run."""
    path = tmp_path_factory.mktemp("kzte") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.migrate(["ledger", "stablecoin"])
    db.dispose()
    return path


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_supply_equals_liability_and_is_backed_after_any_sequence(chain, template_db, tmp_path, steps):
    w3, token, who = chain
    snap = w3.testing.snapshot()
    path = tmp_path / f"inv{next(_db_numbers)}.db"
    shutil.copyfile(template_db, path)
    db = Database(f"sqlite:///{path}")
    try:
        ledger = Ledger(db, ManualClock(datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc)))
        issuer = Issuer(token, minter=who["minter"], custodian=who["custodian"], owner=who["owner"])
        install_check(ledger, issuer)
        with ledger.unit_of_work() as uow:
            issuer.open_accounts(uow)
            world = uow.open_account("world", "KZT", "external")
            for name in PEOPLE:
                uow.transfer(move(world.id, uow.open_account(name, "KZT", "customer").id, 100_000_00))
            uow.commit()
        for op in steps:
            try:
                apply(ledger, issuer, who, op)
            except (StablecoinError, errors.LedgerError):
                pass  # a refusal is fine; it must simply leave the invariant intact
            with ledger.unit_of_work(read_only=True) as uow:
                reserve = uow.balance(uow.account_by_code(RESERVE_CODE).id).ledger_minor
                liability = -uow.balance(uow.account_by_code(ISSUANCE_CODE).id).ledger_minor
            supply = token.total_supply()
            assert supply == liability <= reserve, (op, supply, liability, reserve)
            assert token.balance_of(who["custodian"]) == supply  # the custodian backs every ledger KZTE
        ledger.verify()  # includes the peg check; once per example keeps the EVM budget for more steps
        assert attest(ledger, issuer)["peg_holds"]
    finally:
        db.dispose()
        w3.testing.revert(snap)
