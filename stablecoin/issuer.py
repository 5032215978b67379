"""The KZTE issuer: mint against tenge in the reserve, burn on redemption, keep chain and ledger in step.

Accounts (codes are ``purpose:owner:asset``):

* ``reserve:kzte-issuer:KZT`` — the segregated tenge reserve. Tenge paid in for KZTE lands here.
* ``external:kzte-issuer:KZTE`` — the issuance account. Its balance is minus the KZTE outstanding,
  so ``liability = -balance``, and KZTE still sums to zero across the ledger.
* ``customer:{owner}:KZTE`` — a customer's KZTE inside the exchange. The tokens backing all these
  balances sit on chain at the custodian's address (an omnibus wallet): the ledger says whose they
  are, the chain says they exist. Trades between customers move ledger entries only; mint and burn
  move both, so on-chain ``totalSupply`` equals the issuer's ledger liability after every commit.

Chain and ledger together: every operation runs inside the caller's unit of work. All ledger
pre-checks (reserve coverage, holder balance) run first; then the chain call; then the ledger
transfer. If the chain refuses, ``ContractRejected`` is raised before any ledger write. If the ledger
write or the caller's commit fails after the chain call, a compensating chain call undoes it
(``uow.after_rollback``), so no half of an operation survives.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from web3 import Web3

from ledger import Posting, UnitOfWork
from ledger.amounts import format_amount
from ledger.errors import InvalidAmount

from . import tables as t
from .errors import (INSUFFICIENT_FUNDS, INVALID_ADDRESS, INVALID_OWNER, WRONG_ASSET, InsufficientKZTE, InvalidRequest,
                     ReserveShortfall)
from .token import Token

ISSUER = "kzte-issuer"
RESERVE_CODE = f"reserve:{ISSUER}:KZT"
ISSUANCE_CODE = f"external:{ISSUER}:KZTE"
LOCK = "stablecoin:KZTE"
# No single mint or redemption above 10 bn KZT: a typo must not create a bank's worth of tokens.
MAX_OPERATION_MINOR = 10_000_000_000 * 100


def customer_code(owner: str) -> str:
    return f"customer:{owner}:KZTE"


@dataclass(frozen=True)
class Operation:
    """A recorded mint or redemption: the ledger transfer and the chain tx that go together."""

    id: int
    kind: str
    owner: str
    address: str
    amount_minor: int
    transfer_id: int
    tx_hash: str


class Issuer:
    """Mints and burns KZTE through ``minter`` (a node-unlocked account holding the minter role).

    ``custodian`` is the on-chain address holding the tokens behind customers' ledger KZTE;
    ``owner`` (the contract owner), when given, lets compensations restore the minter allowance: through
    the contract's master minter, whoever holds that role when the compensation runs.
    """

    def __init__(self, token: Token, *, minter: str, custodian: str, owner: str | None = None) -> None:
        self.token = token
        self.minter = Web3.to_checksum_address(minter)
        self.custodian = Web3.to_checksum_address(custodian)
        self.owner = Web3.to_checksum_address(owner) if owner else None

    # -- accounts and balances ---------------------------------------------------------
    def open_accounts(self, uow: UnitOfWork):
        """Open (or find) the reserve and issuance accounts; returns (reserve, issuance)."""
        reserve = uow.find_account(RESERVE_CODE) or uow.open_account(ISSUER, "KZT", "reserve")
        issuance = uow.find_account(ISSUANCE_CODE) or uow.open_account(ISSUER, "KZTE", "external")
        return reserve, issuance

    def reserve_minor(self, uow: UnitOfWork) -> int:
        acct = uow.find_account(RESERVE_CODE)
        return uow.balance(acct.id).ledger_minor if acct else 0

    def liability_minor(self, uow: UnitOfWork) -> int:
        acct = uow.find_account(ISSUANCE_CODE)
        return -uow.balance(acct.id).ledger_minor if acct else 0

    def unbacked_reserve_minor(self, uow: UnitOfWork) -> int:
        """Tenge in the reserve not yet backing any KZTE: what can still be minted."""
        return self.reserve_minor(uow) - self.liability_minor(uow)

    def receive_tenge(self, uow: UnitOfWork, from_account_id: int, amount_minor: int, *,
                      key: str | None = None, memo: str = "tenge paid into the KZTE reserve"):
        """Move KZT from ``from_account_id`` into the reserve (it then backs future mints)."""
        _check_amount(amount_minor)
        reserve, _ = self.open_accounts(uow)
        return uow.transfer([Posting(from_account_id, -amount_minor), Posting(reserve.id, amount_minor)],
                            key=key, memo=memo, kind="kzte_reserve_in")

    # -- mint ----------------------------------------------------------------------------
    def mint(self, uow: UnitOfWork, to_owner: str, to_address: str | None, amount_minor: int,
             key: str | None = None, *, pay_from_account_id: int | None = None) -> Operation:
        """Mint ``amount_minor`` KZTE to ``to_address`` (default: the custodian) and credit
        ``customer:{to_owner}:KZTE``, only if unbacked reserve tenge covers it. With
        ``pay_from_account_id`` the tenge is paid into the reserve in the same transfer.
        Refusals: InvalidAmount, InvalidRequest, ReserveShortfall, ContractRejected; none changes anything.
        """
        _check_amount(amount_minor)
        _check_owner(to_owner)
        address = self._address(to_address)
        request = {"owner": to_owner, "address": address, "amount_minor": amount_minor,
                   "pay_from": pay_from_account_id}
        if key is None:
            return Operation(**self._mint(uow, to_owner, address, amount_minor, None, pay_from_account_id))
        return Operation(**uow.idempotent("stablecoin.mint", key, request,
                                          lambda: self._mint(uow, to_owner, address, amount_minor, key,
                                                             pay_from_account_id)))

    def _mint(self, uow, owner, address, amount_minor, key, pay_from) -> dict:
        uow.advisory_lock(LOCK)
        reserve, issuance = self.open_accounts(uow)
        incoming = amount_minor if pay_from is not None else 0
        if pay_from is not None:
            payer = uow.account(pay_from)
            if payer.asset != "KZT":
                raise InvalidRequest(f"KZTE is paid for in KZT, not from a {payer.asset} account",
                                     code=WRONG_ASSET)
            bal = uow.balance(pay_from)
            if not payer.allow_negative and bal.available_minor < amount_minor:
                raise ReserveShortfall(f"account {payer.code} has {format_amount(bal.available_minor, 'KZT')} "
                                       f"available, {format_amount(amount_minor, 'KZT')} needed to pay for the KZTE",
                                       code=INSUFFICIENT_FUNDS)
        unbacked = self.unbacked_reserve_minor(uow) + incoming
        if unbacked < amount_minor:
            raise ReserveShortfall(
                f"cannot mint {format_amount(amount_minor, 'KZTE')}: only {format_amount(max(unbacked, 0), 'KZT')} "
                "in the reserve is not already backing tokens; pay tenge into the reserve first",
                requested_minor=amount_minor,
                unbacked_minor=unbacked)
        holder = uow.find_account(customer_code(owner)) or uow.open_account(owner, "KZTE", "customer")

        receipt = self.token.mint(self.minter, address, amount_minor)  # refusal raises before any ledger write
        try:
            postings = [Posting(issuance.id, -amount_minor), Posting(holder.id, amount_minor)]
            if pay_from is not None:
                postings += [Posting(pay_from, -amount_minor), Posting(reserve.id, amount_minor)]
            result = uow.transfer(postings, memo=f"mint {format_amount(amount_minor, 'KZTE')} for {owner}",
                                  kind="kzte_mint")
            op = self._record(uow, "mint", owner, address, amount_minor, result.id, receipt, key)
        except BaseException:
            self._unmint(address, amount_minor)
            raise
        uow.after_rollback(lambda: self._unmint(address, amount_minor))
        return op

    def _unmint(self, address: str, amount_minor: int) -> None:
        """Compensation: take back and burn tokens whose ledger half did not survive."""
        if address != self.minter:
            self.token.transfer(address, self.minter, amount_minor)
        self.token.burn(self.minter, amount_minor)
        self._restore_allowance(amount_minor)

    def _restore_allowance(self, amount_minor: int) -> None:
        if self.owner is not None:
            current = self.token.minter_allowance(self.minter)
            self.token.configure_minter(self.token.master_minter(), self.minter, current + amount_minor)

    # -- redeem ---------------------------------------------------------------------------
    def redeem(self, uow: UnitOfWork, holder_owner: str, amount_minor: int, to_account_id: int,
               key: str | None = None, *, from_address: str | None = None) -> Operation:
        """Burn ``amount_minor`` of ``holder_owner``'s KZTE (tokens taken from ``from_address``,
        default the custodian) and pay the same tenge from the reserve to ``to_account_id``.
        Refusals: InvalidAmount, InvalidRequest, InsufficientKZTE, ContractRejected; none changes anything.
        """
        _check_amount(amount_minor)
        _check_owner(holder_owner)
        address = self._address(from_address)
        request = {"owner": holder_owner, "address": address, "amount_minor": amount_minor, "to": to_account_id}
        if key is None:
            return Operation(**self._redeem(uow, holder_owner, address, amount_minor, to_account_id, None))
        return Operation(**uow.idempotent("stablecoin.redeem", key, request,
                                          lambda: self._redeem(uow, holder_owner, address, amount_minor,
                                                               to_account_id, key)))

    def redeem_to_tenge(self, uow: UnitOfWork, owner: str, amount_minor: int, to_account_id: int,
                        key: str | None = None) -> Operation:
        """The port for card JIT funding: burn KZTE held in ``customer:{owner}:KZTE`` and pay the same
        tenge amount from the reserve to ``to_account_id``, inside the caller's unit of work."""
        return self.redeem(uow, owner, amount_minor, to_account_id, key)

    def _redeem(self, uow, owner, address, amount_minor, to_account_id, key) -> dict:
        uow.advisory_lock(LOCK)
        reserve, issuance = self.open_accounts(uow)
        target = uow.account(to_account_id)
        if target.asset != "KZT":
            raise InvalidRequest(f"redeemed KZTE is paid out in KZT, not into a {target.asset} account",
                                 code=WRONG_ASSET)
        holder = uow.find_account(customer_code(owner))
        held = uow.balance(holder.id).available_minor if holder else 0
        if held < amount_minor:
            raise InsufficientKZTE(f"{owner} holds {format_amount(held, 'KZTE')}, cannot redeem "
                                   f"{format_amount(amount_minor, 'KZTE')}",
                                   owner=owner, available_minor=held, requested_minor=amount_minor)
        if self.reserve_minor(uow) < amount_minor:  # cannot happen while the peg invariant holds
            raise ReserveShortfall("the KZTE reserve cannot pay out this redemption")

        receipt = self._burn_from(address, amount_minor)
        try:
            result = uow.transfer([Posting(holder.id, -amount_minor), Posting(issuance.id, amount_minor),
                                   Posting(reserve.id, -amount_minor), Posting(to_account_id, amount_minor)],
                                  memo=f"redeem {format_amount(amount_minor, 'KZTE')} for {owner}", kind="kzte_redeem")
            op = self._record(uow, "redeem", owner, address, amount_minor, result.id, receipt, key)
        except BaseException:
            self._unburn(address, amount_minor)
            raise
        uow.after_rollback(lambda: self._unburn(address, amount_minor))
        return op

    def _burn_from(self, address: str, amount_minor: int):
        if address != self.minter:
            self.token.transfer(address, self.minter, amount_minor)
        try:
            return self.token.burn(self.minter, amount_minor)
        except BaseException:
            if address != self.minter:
                self.token.transfer(self.minter, address, amount_minor)
            raise

    def _unburn(self, address: str, amount_minor: int) -> None:
        """Compensation: re-mint burnt tokens whose ledger half did not survive."""
        self._restore_allowance(amount_minor)
        self.token.mint(self.minter, address, amount_minor)

    # -- helpers -----------------------------------------------------------------------------
    def _address(self, address: str | None) -> str:
        if address is None:
            return self.custodian
        if not isinstance(address, str) or not Web3.is_address(address):
            raise InvalidRequest(f"{address!r} is not an Ethereum address", code=INVALID_ADDRESS)
        return Web3.to_checksum_address(address)

    def _record(self, uow, kind, owner, address, amount_minor, transfer_id, receipt, key) -> dict:
        tx_hash = receipt["transactionHash"]
        tx_hash = tx_hash.to_0x_hex() if hasattr(tx_hash, "to_0x_hex") else str(tx_hash)
        row = dict(kind=kind, owner=owner, address=address, amount_minor=amount_minor,
                   transfer_id=transfer_id, tx_hash=tx_hash)
        res = uow.conn.execute(t.operations.insert().values(**row, key=key, created_at=uow.now()))
        return {"id": res.inserted_primary_key[0], **row}

    def operations(self, uow: UnitOfWork, owner: str | None = None, limit: int = 100) -> list[Operation]:
        """Recorded mints and redemptions, oldest first (at most ``limit``, capped at 1000)."""
        q = t.operations.select().order_by(t.operations.c.id).limit(min(limit, 1000))
        if owner is not None:
            q = q.where(t.operations.c.owner == owner)
        return [Operation(r.id, r.kind, r.owner, r.address, r.amount_minor, r.transfer_id, r.tx_hash)
                for r in uow.conn.execute(q)]


def _check_amount(amount_minor: object) -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise InvalidAmount(f"amount must be a positive whole number of tiyn, got {amount_minor!r}")
    if amount_minor > MAX_OPERATION_MINOR:
        raise InvalidAmount(f"{format_amount(amount_minor, 'KZTE')} is above the per-operation limit of "
                            f"{format_amount(MAX_OPERATION_MINOR, 'KZTE')}")


def _check_owner(owner: object) -> None:
    if not isinstance(owner, str) or not owner or len(owner) > 100:
        raise InvalidRequest(f"owner must be a non-empty name of at most 100 characters, got {owner!r}",
                             code=INVALID_OWNER)


def operations_after(conn, after_id: int, *, limit: int) -> list[tuple[int, str, str, int]]:
    """(id, kind, address, amount) of the journal's operations after ``after_id``, in order (bounded): what
    a process's own copy of the chain replays (see the sandbox's KZTE mirror)."""
    o = t.operations.c
    return [tuple(r) for r in conn.execute(select(o.id, o.kind, o.address, o.amount_minor)
                                           .where(o.id > after_id).order_by(o.id).limit(limit))]


def any_issued(conn) -> bool:
    """True once any KZTE was ever minted on this database."""
    return conn.execute(select(t.operations.c.id).limit(1)).first() is not None
