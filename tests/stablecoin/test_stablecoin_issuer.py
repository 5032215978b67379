"""The issuer against a real ledger and the real contract on py-evm: mint, redeem, refusals, attestation."""
from __future__ import annotations

import json

import pytest
from web3 import EthereumTesterProvider, Web3

from ledger import errors, move
from stablecoin.attestation import CHECK_NAME, attest, install_check
from stablecoin.errors import ContractRejected, InsufficientKZTE, ReserveShortfall
from stablecoin.issuer import ISSUANCE_CODE, RESERVE_CODE, Issuer
from stablecoin.token import deploy


@pytest.fixture(scope="module")
def chain():
    w3 = Web3(EthereumTesterProvider())
    owner, minter, custodian, outsider = w3.eth.accounts[:4]
    token = deploy(w3, owner)
    token.configure_minter(owner, minter, 10**15)
    return w3, token, dict(owner=owner, minter=minter, custodian=custodian, outsider=outsider)


@pytest.fixture
def city(chain, ledger):
    w3, token, who = chain
    snap = w3.testing.snapshot()
    issuer = Issuer(token, minter=who["minter"], custodian=who["custodian"], owner=who["owner"])
    install_check(ledger, issuer)
    with ledger.unit_of_work() as uow:
        issuer.open_accounts(uow)
        world = uow.open_account("world", "KZT", "external")
        for name in ("aigerim", "nursultan"):
            bank = uow.open_account(name, "KZT", "customer")
            uow.transfer(move(world.id, bank.id, 1_000_000_00), key=f"salary-{name}")
        uow.commit()
    yield ledger, issuer, who
    w3.testing.revert(snap)


def bal(ledger, code):
    with ledger.unit_of_work(read_only=True) as uow:
        acct = uow.find_account(code)
        return uow.balance(acct.id).ledger_minor if acct else 0


def snapshot(ledger, issuer, who):
    """Everything a refusal must leave untouched."""
    t = issuer.token
    return (t.total_supply(), t.balance_of(who["custodian"]), t.balance_of(who["minter"]),
            bal(ledger, RESERVE_CODE), bal(ledger, ISSUANCE_CODE), bal(ledger, "customer:aigerim:KZTE"),
            bal(ledger, "customer:aigerim:KZT"), bal(ledger, "customer:nursultan:KZT"))


def buy(ledger, issuer, owner, amount_minor, key=None):
    with ledger.unit_of_work() as uow:
        payer = uow.account_by_code(f"customer:{owner}:KZT")
        op = issuer.mint(uow, owner, None, amount_minor, key, pay_from_account_id=payer.id)
        uow.commit()
    return op


def test_mint_against_paid_tenge_keeps_supply_equal_to_liability(city):
    ledger, issuer, who = city
    op = buy(ledger, issuer, "aigerim", 250_000_00, key="buy-1")
    assert op.kind == "mint" and op.tx_hash.startswith("0x") and op.address == who["custodian"]
    assert issuer.token.total_supply() == 250_000_00 == issuer.token.balance_of(who["custodian"])
    assert bal(ledger, "customer:aigerim:KZTE") == 250_000_00
    assert bal(ledger, RESERVE_CODE) == 250_000_00 and bal(ledger, ISSUANCE_CODE) == -250_000_00
    assert bal(ledger, "customer:aigerim:KZT") == 750_000_00
    report = ledger.verify()
    assert CHECK_NAME in report.checks


def test_mint_is_idempotent_by_key(city):
    ledger, issuer, _ = city
    first = buy(ledger, issuer, "aigerim", 100_00, key="buy-same")
    again = buy(ledger, issuer, "aigerim", 100_00, key="buy-same")
    assert again == first and issuer.token.total_supply() == 100_00
    with pytest.raises(errors.IdempotencyConflict):
        buy(ledger, issuer, "aigerim", 200_00, key="buy-same")
    assert issuer.token.total_supply() == 100_00
    ledger.verify()


def test_mint_against_tenge_already_in_the_reserve(city):
    ledger, issuer, _ = city
    with ledger.unit_of_work() as uow:
        issuer.receive_tenge(uow, uow.account_by_code("customer:nursultan:KZT").id, 5_000_00, key="wire-1")
        issuer.mint(uow, "nursultan", None, 3_000_00, "mint-1")
        uow.commit()
    with ledger.unit_of_work() as uow:
        assert issuer.unbacked_reserve_minor(uow) == 2_000_00
    ledger.verify()


def test_mint_without_reserve_is_refused_and_changes_nothing(city):
    ledger, issuer, who = city
    buy(ledger, issuer, "aigerim", 1_000_00)
    before = snapshot(ledger, issuer, who)
    with ledger.unit_of_work() as uow:
        with pytest.raises(ReserveShortfall) as info:
            issuer.mint(uow, "aigerim", None, 1, "no-reserve")
        uow.commit()
    assert info.value.code == "reserve_shortfall" and "reserve" in str(info.value)
    assert snapshot(ledger, issuer, who) == before
    ledger.verify()


def test_mint_while_paused_is_refused_and_changes_nothing(city):
    ledger, issuer, who = city
    issuer.token.pause(who["owner"])
    before = snapshot(ledger, issuer, who)
    with pytest.raises(ContractRejected) as info:
        buy(ledger, issuer, "aigerim", 10_00, key="paused-mint")
    assert info.value.reason == "paused" and info.value.code == "token_paused"
    assert snapshot(ledger, issuer, who) == before
    issuer.token.unpause(who["owner"])
    buy(ledger, issuer, "aigerim", 10_00, key="paused-mint")  # the key was not burnt by the refusal
    ledger.verify()


def test_chain_refusal_leaves_no_ledger_change_even_if_the_caller_commits(city):
    ledger, issuer, who = city
    issuer.token.freeze(who["owner"], who["custodian"])
    before = snapshot(ledger, issuer, who)
    with ledger.unit_of_work() as uow:
        payer = uow.account_by_code("customer:aigerim:KZT")
        with pytest.raises(ContractRejected, match="receiver frozen"):
            issuer.mint(uow, "aigerim", None, 10_00, pay_from_account_id=payer.id)
        uow.commit()
    assert snapshot(ledger, issuer, who) == before
    ledger.verify()


def test_a_failed_commit_is_compensated_on_chain(city):
    ledger, issuer, who = city
    allowance = issuer.token.minter_allowance(who["minter"])
    before = snapshot(ledger, issuer, who)
    with ledger.unit_of_work() as uow:
        payer = uow.account_by_code("customer:aigerim:KZT")
        issuer.mint(uow, "aigerim", None, 70_00, pay_from_account_id=payer.id)
        assert issuer.token.total_supply() == before[0] + 70_00
        # no commit: the caller's unit of work rolls back and the mint must be undone on chain
    assert snapshot(ledger, issuer, who) == before
    assert issuer.token.minter_allowance(who["minter"]) == allowance
    ledger.verify()


def test_redeem_burns_and_pays_tenge_from_the_reserve(city):
    ledger, issuer, who = city
    buy(ledger, issuer, "aigerim", 400_00)
    with ledger.unit_of_work() as uow:
        bank = uow.account_by_code("customer:aigerim:KZT")
        op = issuer.redeem(uow, "aigerim", 150_00, bank.id, "redeem-1")
        uow.commit()
    assert op.kind == "redeem"
    assert issuer.token.total_supply() == 250_00 == issuer.token.balance_of(who["custodian"])
    assert bal(ledger, "customer:aigerim:KZTE") == 250_00 and bal(ledger, RESERVE_CODE) == 250_00
    assert bal(ledger, "customer:aigerim:KZT") == 1_000_000_00 - 250_00
    ledger.verify()


def test_redeem_to_tenge_port_pays_a_given_account(city):
    ledger, issuer, _ = city
    buy(ledger, issuer, "aigerim", 400_00)
    with ledger.unit_of_work() as uow:
        target = uow.account_by_code("customer:nursultan:KZT")
        issuer.redeem_to_tenge(uow, "aigerim", 400_00, target.id, key="jit-1")
        uow.commit()
    assert bal(ledger, "customer:nursultan:KZT") == 1_000_000_00 + 400_00
    assert issuer.token.total_supply() == 0 and bal(ledger, "customer:aigerim:KZTE") == 0
    ledger.verify()


def test_redeem_over_the_holders_balance_is_refused_and_changes_nothing(city):
    ledger, issuer, who = city
    buy(ledger, issuer, "aigerim", 100_00)
    before = snapshot(ledger, issuer, who)
    with ledger.unit_of_work() as uow:
        bank = uow.account_by_code("customer:aigerim:KZT")
        with pytest.raises(InsufficientKZTE) as info:
            issuer.redeem(uow, "aigerim", 100_01, bank.id)
        uow.commit()
    assert info.value.code == "insufficient_kzte" and "aigerim holds 100.00 KZTE" in str(info.value)
    assert snapshot(ledger, issuer, who) == before
    ledger.verify()


def test_redeem_from_a_frozen_custodian_is_refused_and_changes_nothing(city):
    ledger, issuer, who = city
    buy(ledger, issuer, "aigerim", 100_00)
    issuer.token.freeze(who["owner"], who["custodian"])
    before = snapshot(ledger, issuer, who)
    with ledger.unit_of_work() as uow:
        bank = uow.account_by_code("customer:aigerim:KZT")
        with pytest.raises(ContractRejected) as info:
            issuer.redeem(uow, "aigerim", 50_00, bank.id)
        uow.commit()
    assert info.value.reason == "sender frozen"
    assert snapshot(ledger, issuer, who) == before
    ledger.verify()


def test_transfer_from_a_frozen_address_is_refused(city):
    ledger, issuer, who = city
    buy(ledger, issuer, "aigerim", 100_00)
    issuer.token.freeze(who["owner"], who["custodian"])
    before = snapshot(ledger, issuer, who)
    with pytest.raises(ContractRejected, match="sender frozen"):
        issuer.token.transfer(who["custodian"], who["outsider"], 1_00)
    assert snapshot(ledger, issuer, who) == before and issuer.token.balance_of(who["outsider"]) == 0
    ledger.verify()


def test_bad_input_is_refused_before_anything_happens(city):
    ledger, issuer, who = city
    with ledger.unit_of_work() as uow:
        with pytest.raises(errors.InvalidAmount):
            issuer.mint(uow, "aigerim", None, 0)
        with pytest.raises(errors.InvalidAmount):
            issuer.mint(uow, "aigerim", None, 1.5)
        with pytest.raises(Exception, match="not an Ethereum address"):
            issuer.mint(uow, "aigerim", "0xnope", 1)
    assert issuer.token.total_supply() == 0
    ledger.verify()


def test_verify_names_a_broken_peg(city):
    ledger, issuer, who = city
    buy(ledger, issuer, "aigerim", 100_00)
    issuer.token.mint(who["minter"], who["outsider"], 1)  # a mint behind the ledger's back
    with pytest.raises(errors.InvariantViolation, match="chain and ledger disagree"):
        ledger.verify()


def test_attestation_reports_reserve_supply_and_peg(city):
    ledger, issuer, _ = city
    buy(ledger, issuer, "aigerim", 1_234_56)
    with ledger.unit_of_work() as uow:
        issuer.receive_tenge(uow, uow.account_by_code("customer:nursultan:KZT").id, 100_00)
        uow.commit()
    report = attest(ledger, issuer)
    json.dumps(report)
    assert report["at"] == "2025-06-01T09:00:00+00:00"
    assert (report["reserve_minor"], report["supply_minor"], report["liability_minor"]) == (1_334_56, 1_234_56,
                                                                                            1_234_56)
    assert report["peg_holds"] and report["reserve_ratio"] == "1.0810"
    assert "peg holds           yes" in report["text"] and "1 334.56 KZT" in report["text"]  # one formatter
    assert "supply on chain" in report["text"] and "1 234.56 KZTE" in report["text"]
