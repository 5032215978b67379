"""The custodian: deposit addresses, deposit scanning and crediting, withdrawals, hot/cold, reserves.

Every method that reads or writes the database takes the caller's unit of work as ``uow=`` (the caller
owns the transaction and commits: the sandbox's services do); called without one, a method runs in a
transaction of its own (scripts, the wallet's own tests).

Ledger accounts (codes are ``purpose:owner:asset``):

* ``customer:<owner>:<asset>`` — the customer's balance, the same account the exchange trades from;
* ``external:chain:<asset>`` — the chain itself (may go negative). Every coin that entered the
  custodian's addresses was posted out of it, every coin that left was posted back, so
  ``-balance(external:chain:X)`` is what the ledger says the custodian's addresses hold on chain;
* ``custody:custodian:<asset>`` — the custodian's own coins (fee income, funds that pay network fees
  for sweeps and token withdrawals).

Liabilities vs holdings: ``reserves_report`` compares customer liabilities (+ the custodian's own
balance) with what the custodian's addresses actually hold on chain.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import and_, func, insert, select, update

from ledger import Posting, move
from ledger import tables as lt
from ledger.errors import IdempotencyConflict, InvalidAmount

from . import tables as t
from .addresses import validate_address
from .bitcoin.transactions import DUST_SAT, build_spend, estimate_vsize
from .errors import (
    AddressBlocked,
    AddressNotWhitelisted,
    DustAmount,
    InsufficientOnChainFunds,
    UnsupportedAsset,
)
from .evm import (
    ETH_TRANSFER_GAS,
    TOKEN_TRANSFER_GAS_LIMIT,
    minor_to_token,
    token_to_minor,
    wei_to_gwei,
)
from .keys import HDKeys
from .reserves import InclusionProof, MerkleSumTree
from .tiers import COLD, HOT, TIERS, WARM, Move, TierTargets, plan
from .travel_rule import TravelRule, check_travel_rule

MAX_SCAN_BLOCKS = 2_000
MAX_PENDING_BATCH = 500


@dataclass
class WalletConfig:
    """Per-asset policy. Amounts are ledger minor units (sats, gwei, USDT micro-units)."""

    confirmations: dict[str, int] = field(default_factory=lambda: {"BTC": 2, "ETH": 12, "USDT": 12})
    hot_ceiling_minor: dict[str, int] = field(default_factory=lambda: {
        "BTC": 50_000_000, "ETH": 5_000_000_000, "USDT": 50_000_000_000})
    travel_rule_threshold_minor: dict[str, int] = field(default_factory=lambda: {
        "BTC": 1_000_000, "ETH": 300_000_000, "USDT": 1_000_000_000})  # ~USD 1 000
    btc_fee_rate_sat_vb: int = 2
    coinbase_maturity: int = 100   # confirmations before a block reward may be credited (Bitcoin's rule)
    token_withdrawal_fee_minor: dict[str, int] = field(default_factory=lambda: {"USDT": 1_000_000})


@dataclass(frozen=True)
class Token:
    asset: str
    address: str
    token_decimals: int
    ledger_decimals: int


def _chain_of(asset: str, tokens: dict[str, Token]) -> str:
    if asset == "BTC":
        return "bitcoin"
    if asset == "ETH" or asset in tokens:
        return "ethereum"
    raise UnsupportedAsset(f"the custodian does not hold {asset!r}; it holds BTC, ETH and "
                           f"{', '.join(sorted(tokens)) or 'no tokens yet'}", asset=str(asset))


class Custodian:
    """Custody for one exchange. Chains are optional: a custodian without ``evm`` handles BTC only."""

    def __init__(self, ledger, keys: HDKeys, *, btc=None, evm=None, config: WalletConfig | None = None) -> None:
        self.ledger = ledger
        self.keys = keys
        self.btc = btc
        self.evm = evm
        self.config = config or WalletConfig()
        self.tokens: dict[str, Token] = {}

    # -- units of work ----------------------------------------------------------------------
    def _write(self, uow, fn, *, retries: int | None = None):
        """Run ``fn(uow)`` in the caller's unit of work (the caller commits), or — called without one — in a
        transaction of its own (``retries=0`` where a retry could broadcast twice)."""
        if uow is not None:
            return fn(uow)
        if retries is None:
            return self.ledger.transaction(fn)
        return self.ledger.transaction(fn, retries=retries)

    @contextmanager
    def _reading(self, uow):
        """The caller's unit of work, or a read-only one of its own."""
        if uow is not None:
            yield uow
            return
        with self.ledger.unit_of_work(read_only=True) as own:
            yield own

    def __repr__(self) -> str:
        return f"Custodian(chains={[c for c in ('bitcoin', 'ethereum') if self._node(c, required=False)]})"

    # -- setup ----------------------------------------------------------------------------
    def register_token(self, asset: str, address: str) -> Token:
        """Accept deposits and withdrawals of the ERC-20 at ``address`` as ledger asset ``asset``."""
        decimals = self.ledger.assets.get(asset).decimals
        token = Token(asset, address, self.evm.token_decimals(address), decimals)
        self.tokens[asset] = token
        return token

    def _lock_chain(self, uow, chain: str) -> None:
        """The node's writer lock, taken before any ledger account is locked (a broadcast takes it anyway,
        later): every writer then locks chain-then-accounts, never the other way round."""
        if chain == "bitcoin":
            self.btc.lock(uow)

    def _height(self, chain: str, uow) -> int:
        """The chain's tip; Bitcoin's as the caller's unit of work sees it (the blocks it mined count)."""
        return self.btc.height(uow=uow) if chain == "bitcoin" else self._node(chain).height()

    def _node(self, chain: str, required: bool = True):
        node = self.btc if chain == "bitcoin" else self.evm
        if node is None and required:
            raise UnsupportedAsset(f"no {chain} node is configured for this custodian")
        return node

    def hot_address(self, chain: str) -> str:
        return self.keys.address(chain, "hot", 0)

    def cold_address(self, chain: str) -> str:
        return self.keys.address(chain, "cold", 0)

    def tier_address(self, chain: str, tier: str) -> str:
        """The address of the custodian's ``hot``, ``warm`` or ``cold`` wallet on ``chain``."""
        if tier not in TIERS:
            raise ValueError(f"a custody tier is one of {', '.join(TIERS)}, got {tier!r}")
        return self.keys.address(chain, tier, 0)

    # -- ledger accounts ------------------------------------------------------------------
    @staticmethod
    def _account(uow, owner: str, asset: str, purpose: str):
        return uow.find_account(f"{purpose}:{owner}:{asset}") or uow.open_account(owner, asset, purpose)

    def customer_account(self, uow, owner: str, asset: str):
        return self._account(uow, owner, asset, "customer")

    def chain_account(self, uow, asset: str):
        return self._account(uow, "chain", asset, "external")

    def custody_account(self, uow, asset: str):
        return self._account(uow, "custodian", asset, "custody")

    def balance_minor(self, owner: str, asset: str, *, uow=None) -> int:
        with self._reading(uow) as uow:
            account = uow.find_account(f"customer:{owner}:{asset}")
            return 0 if account is None else uow.balance(account.id).available_minor

    # -- addresses ------------------------------------------------------------------------
    def deposit_address(self, owner: str, chain: str, *, uow=None) -> str:
        """The customer's deposit address on ``chain``: allocated once (next derivation index), then stable."""
        self._node(chain)

        def find(uow):
            return uow.conn.execute(select(t.addresses.c.address).where(
                t.addresses.c.chain == chain, t.addresses.c.role == "deposit", t.addresses.c.owner == owner)).first()

        def allocate(uow):
            row = find(uow)
            if row:
                return row.address
            # two processes allocating at once would both take the next index: one at a time
            uow.advisory_lock(f"wallet:addresses:{chain}")
            row = find(uow)
            if row:
                return row.address
            index = uow.conn.execute(select(func.coalesce(func.max(t.addresses.c.derivation_index) + 1, 0)).where(
                t.addresses.c.chain == chain, t.addresses.c.role == "deposit")).scalar_one()
            address = self.keys.address(chain, "deposit", index)
            uow.conn.execute(insert(t.addresses).values(chain=chain, owner=owner, role="deposit",
                                                        derivation_index=index, address=address,
                                                        created_at=uow.now()))
            return address
        return self._write(uow, allocate)

    def _deposit_addresses(self, uow, chain: str) -> dict[str, tuple[str, int]]:
        rows = uow.conn.execute(select(t.addresses.c.address, t.addresses.c.owner, t.addresses.c.derivation_index)
                                .where(t.addresses.c.chain == chain, t.addresses.c.role == "deposit"))
        return {r.address: (r.owner, r.derivation_index) for r in rows}

    def add_blocked_address(self, chain: str, address: str, reason: str = "anti-fraud centre list", *,
                            uow=None) -> None:
        canonical = address.strip().lower()  # matched case-insensitively: a list entry need not be checksummed

        def add(uow):
            if not uow.conn.execute(select(t.blocklist.c.address).where(
                    t.blocklist.c.chain == chain, t.blocklist.c.address == canonical)).first():
                uow.conn.execute(insert(t.blocklist).values(chain=chain, address=canonical, reason=reason[:200]))
        self._write(uow, add)

    def add_whitelisted_address(self, owner: str, chain: str, address: str, *, uow=None) -> None:
        canonical = validate_address(chain, address, btc_hrp=self.keys.btc_hrp)

        def add(uow):
            if not uow.conn.execute(select(t.whitelist.c.address).where(
                    t.whitelist.c.owner == owner, t.whitelist.c.chain == chain,
                    t.whitelist.c.address == canonical)).first():
                uow.conn.execute(insert(t.whitelist).values(owner=owner, chain=chain, address=canonical))
        self._write(uow, add)

    # -- deposits -------------------------------------------------------------------------
    def scan(self, *, uow=None) -> list[dict]:
        """Record new deposits on every configured chain, then credit those with enough confirmations.

        Safe to run any number of times, concurrently or after a restart: each on-chain output/log
        is one row (unique on chain, txid, index) and is credited by a compare-and-set on its status.
        Returns the deposits credited by this call.
        """
        scanners = []
        if self.btc is not None:
            scanners.append(("bitcoin:BTC", "bitcoin", "BTC"))
        if self.evm is not None:
            scanners.append(("ethereum:ETH", "ethereum", "ETH"))
            scanners += [(f"ethereum:{a}", "ethereum", a) for a in sorted(self.tokens)]
        for scanner, chain, asset in scanners:
            self._record(scanner, chain, asset, uow)
        return self._credit_confirmed(uow)

    def _record(self, scanner: str, chain: str, asset: str, uow=None) -> None:
        tip = self._height(chain, uow)

        def record(uow):
            # scanners in several processes would insert the same outputs (the unique constraint would
            # refuse the second one's whole transaction): one scanner of a chain at a time
            uow.advisory_lock(f"wallet:scan:{scanner}")
            cursor = uow.conn.execute(select(t.scan_cursors.c.next_height).where(
                t.scan_cursors.c.scanner == scanner)).scalar()
            start = 0 if cursor is None else int(cursor)
            end = min(tip, start + MAX_SCAN_BLOCKS - 1)
            if end < start:
                return
            known = self._deposit_addresses(uow, chain)
            for found in self._find(chain, asset, start, end, known, uow):
                txid, index, address, raw, height = found
                exists = uow.conn.execute(select(t.deposits.c.id).where(
                    t.deposits.c.chain == chain, t.deposits.c.txid == txid,
                    t.deposits.c.output_index == index)).first()
                if exists:
                    continue
                try:
                    amount_minor, status = self._to_minor(asset, raw), "pending"
                except DustAmount:
                    amount_minor, status = 0, "dust"
                uow.conn.execute(insert(t.deposits).values(
                    chain=chain, txid=txid, output_index=index, asset=asset, address=address,
                    owner=known[address][0], amount_raw=str(raw), amount_minor=amount_minor,
                    block_height=height, status=status, seen_at=uow.now()))
            if cursor is None:
                uow.conn.execute(insert(t.scan_cursors).values(scanner=scanner, next_height=end + 1))
            else:
                uow.conn.execute(update(t.scan_cursors).where(t.scan_cursors.c.scanner == scanner)
                                 .values(next_height=end + 1))
        self._write(uow, record)

    def _find(self, chain: str, asset: str, start: int, end: int, known: dict, uow=None) -> list[tuple]:
        if not known:
            return []
        if chain == "bitcoin":
            return [(u.txid, u.vout, u.address, u.amount_sat, u.height)
                    for u in self.btc.outputs_in_blocks(start, end, uow=uow) if u.address in known]
        by_lower = {a.lower(): a for a in known}
        if asset == "ETH":
            own = [self.tier_address("ethereum", tier) for tier in TIERS]
            transfers = self.evm.eth_transfers(start, end, known, exclude_from=own)
        else:
            transfers = self.evm.token_transfers(self.tokens[asset].address, start, end, known)
        return [(x.txid, x.index, by_lower[x.to.lower()], x.amount_raw, x.height) for x in transfers]

    def _to_minor(self, asset: str, raw: int) -> int:
        if asset == "BTC":
            return raw
        if asset == "ETH":
            return wei_to_gwei(raw)
        token = self.tokens[asset]
        return token_to_minor(raw, token.token_decimals, token.ledger_decimals)

    def _credit_confirmed(self, uow=None) -> list[dict]:
        with self._reading(uow) as reader:
            # Only deposits on chains this custodian has a node for: a custodian for one chain (the shared
            # EVM's, say) never judges another chain's confirmations by the wrong node.
            chains = [c for c in ("bitcoin", "ethereum") if self._node(c, required=False) is not None]
            pending = reader.conn.execute(select(t.deposits).where(t.deposits.c.status == "pending",
                                                                   t.deposits.c.chain.in_(chains))
                                          .order_by(t.deposits.c.id).limit(MAX_PENDING_BATCH)).mappings().all()
        credited = []
        tips = {}
        for dep in pending:
            chain = dep["chain"]
            if chain not in tips:
                tips[chain] = self._height(chain, uow)
            confirmations = tips[chain] - int(dep["block_height"]) + 1
            if confirmations < self.config.confirmations.get(dep["asset"], 1):
                continue
            if chain == "bitcoin" and self._immature_coinbase(dep["txid"], confirmations, uow):
                continue

            def credit(uow, dep=dep):
                done = uow.conn.execute(update(t.deposits).where(t.deposits.c.id == dep["id"],
                                                                 t.deposits.c.status == "pending")
                                        .values(status="credited", credited_at=uow.now()))
                if done.rowcount != 1:
                    return None  # another scanner got there first
                customer = self.customer_account(uow, dep["owner"], dep["asset"])
                result = uow.transfer(move(self.chain_account(uow, dep["asset"]).id, customer.id, dep["amount_minor"]),
                                      key=f"wallet:deposit:{dep['chain']}:{dep['txid']}:{dep['output_index']}",
                                      memo=f"{dep['asset']} deposit {dep['txid']}:{dep['output_index']}",
                                      kind="deposit")
                uow.conn.execute(update(t.deposits).where(t.deposits.c.id == dep["id"])
                                 .values(transfer_id=result.id))
                return dict(dep, status="credited")
            row = self._write(uow, credit)
            if row:
                credited.append(row)
        return credited

    def deposits(self, owner: str | None = None, *, uow=None) -> list[dict]:
        with self._reading(uow) as uow:
            query = select(t.deposits).order_by(t.deposits.c.id)
            if owner is not None:
                query = query.where(t.deposits.c.owner == owner)
            return [dict(r) for r in uow.conn.execute(query.limit(1000)).mappings()]

    # -- withdrawals ----------------------------------------------------------------------
    def withdraw(self, owner: str, asset: str, address: str, amount_minor: int, *, key: str,
                 travel_rule: TravelRule | dict | None = None, uow=None) -> dict:
        """Send ``amount_minor`` of ``asset`` to ``address`` for customer ``owner``; the network fee is added.

        Checks, in this order: amount, asset, address (checksum, network), blocklist, whitelist (when
        the customer keeps one), travel-rule data (at or above the threshold), balance. The ledger
        debit and the withdrawal row are written in the same transaction as the broadcast: if the
        broadcast fails nothing is written. When the hot wallet cannot cover it the withdrawal waits
        as ``pending_cold`` with the amount held, until ``refill_from_cold`` + ``process_pending``.
        Same ``key`` + same request returns the first result; a different request is refused.
        """
        if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
            raise InvalidAmount("a withdrawal amount must be a positive whole number of minor units",
                                amount=str(amount_minor))
        chain = _chain_of(asset, self.tokens)
        self._node(chain)
        canonical = validate_address(chain, address, btc_hrp=self.keys.btc_hrp)
        request = {"owner": owner, "asset": asset, "address": canonical, "amount_minor": amount_minor}
        with self._reading(uow) as reader:
            existing = reader.conn.execute(select(t.withdrawals).where(t.withdrawals.c.idempotency_key == key)
                                           ).mappings().first()
            if existing:
                if {k: existing[k] for k in request} != request:
                    raise IdempotencyConflict("this idempotency key was used for a different withdrawal", key=key)
                return dict(existing)
            blocked = reader.conn.execute(select(t.blocklist.c.reason).where(
                t.blocklist.c.chain == chain, t.blocklist.c.address == canonical.lower())).first()
            if blocked:
                raise AddressBlocked(f"withdrawals to this address are blocked ({blocked.reason})", address=canonical)
            allowed = {r.address for r in reader.conn.execute(select(t.whitelist.c.address).where(
                t.whitelist.c.owner == owner, t.whitelist.c.chain == chain))}
            if allowed and canonical not in allowed:
                raise AddressNotWhitelisted("this address is not on the customer's withdrawal whitelist",
                                            address=canonical)
        payload = check_travel_rule(travel_rule, amount_minor=amount_minor, asset=asset, assets=self.ledger.assets,
                                    threshold_minor=self.config.travel_rule_threshold_minor.get(asset, 0))
        payload_json = json.dumps(payload.to_dict(), sort_keys=True) if payload else None

        def run(uow):
            self._lock_chain(uow, chain)   # chain first, as every on-chain writer (mining, deposits) takes it
            uow.advisory_lock(f"wallet:{chain}")
            plan = self._plan(uow, chain, asset, canonical, amount_minor)
            customer = self.customer_account(uow, owner, asset)
            now = uow.now()
            values = dict(request, idempotency_key=key, chain=chain, travel_rule=payload_json,
                          created_at=now, updated_at=now)
            if plan is None:  # the hot wallet is short: hold the money and wait for the cold wallet
                fee = self._fee_estimate(asset)
                hold = uow.hold(customer.id, amount_minor + fee, key=f"wallet:withdraw-hold:{key}",
                                memo=f"{asset} withdrawal waiting for cold wallet")
                values.update(fee_minor=fee, status="pending_cold", hold_id=hold.id)
                wid = uow.conn.execute(insert(t.withdrawals).values(**values)).inserted_primary_key[0]
                return dict(values, id=wid)
            fee = plan["fee_minor"]
            self._post_withdrawal(uow, customer.id, asset, amount_minor, fee, memo=f"{asset} withdrawal", key=key)
            values.update(fee_minor=fee, status="broadcast")
            wid = uow.conn.execute(insert(t.withdrawals).values(**values)).inserted_primary_key[0]
            txid = self._broadcast(uow, plan)  # raises => the whole unit of work rolls back
            uow.conn.execute(update(t.withdrawals).where(t.withdrawals.c.id == wid).values(txid=txid))
            return dict(values, id=wid, txid=txid)
        # no automatic retry: a retried unit of work could broadcast a second time
        return self._write(uow, run, retries=0)

    def refresh_withdrawals(self, *, uow=None) -> list[dict]:
        """Mark broadcast withdrawals ``confirmed`` once they have the asset's confirmations."""
        done = []
        for row in self.withdrawals(status="broadcast", uow=uow):
            node = self._node(row["chain"])
            confirmations = (node.confirmations(row["txid"], uow=uow) if row["chain"] == "bitcoin"
                             else node.confirmations(row["txid"])) or 0
            if confirmations >= self.config.confirmations.get(row["asset"], 1):
                def mark(uow, row=row):
                    uow.conn.execute(update(t.withdrawals).where(t.withdrawals.c.id == row["id"],
                                                                 t.withdrawals.c.status == "broadcast")
                                     .values(status="confirmed", updated_at=uow.now()))
                self._write(uow, mark)
                done.append(dict(row, status="confirmed"))
        return done

    def _fee_estimate(self, asset: str) -> int:
        if asset == "BTC":
            return estimate_vsize(3, 2) * self.config.btc_fee_rate_sat_vb
        if asset == "ETH":
            return ETH_TRANSFER_GAS * self.evm.gas_price_gwei()
        return self.config.token_withdrawal_fee_minor.get(asset, 0)

    def _post_withdrawal(self, uow, customer_id: int, asset: str, amount_minor: int, fee_minor: int, *,
                         memo: str, key: str, hold_id: int | None = None) -> None:
        chain_account = self.chain_account(uow, asset).id
        if asset in ("BTC", "ETH"):  # the network fee leaves on chain with the payment
            legs = [(chain_account, amount_minor + fee_minor)]
        else:  # token: the customer pays a flat fee to the custodian, which pays the gas in ETH
            legs = [(chain_account, amount_minor)]
            if fee_minor:
                legs.append((self.custody_account(uow, asset).id, fee_minor))
        if hold_id is not None:
            uow.post_hold(hold_id, to=legs, amount_minor=amount_minor + fee_minor)
        else:
            uow.transfer([Posting(customer_id, -(amount_minor + fee_minor))] + [Posting(a, n) for a, n in legs],
                         key=f"wallet:withdraw:{key}", memo=memo, kind="withdrawal")

    def _hot_btc_candidates(self, uow=None) -> list:
        """Spendable coins of the hot wallet: the hot address and every deposit address (all keys online)."""
        def collect(uow):
            return self._deposit_addresses(uow, "bitcoin")
        deposit = self._write(uow, collect)
        keys = {self.hot_address("bitcoin"): self.keys.key("bitcoin", "hot", 0)}
        keys.update({a: self.keys.key("bitcoin", "deposit", idx) for a, (_, idx) in deposit.items()})
        coins = self.btc.unspent(list(keys), min_conf=1, uow=uow)
        tip = self._height("bitcoin", uow) if coins else 0
        # a farm's block reward at a deposit address is spendable only after coinbase maturity, as it is
        # credited only then (``_credit_confirmed``)
        return [(u, keys[u.address]) for u in coins
                if not self._immature_coinbase(u.txid, tip - int(u.height) + 1, uow)]

    def _immature_coinbase(self, txid: str, confirmations: int, uow) -> bool:
        """A block reward with fewer than ``coinbase_maturity`` confirmations (asked only of young coins,
        and only of a node that records rewards: the sandbox's own)."""
        if confirmations >= self.config.coinbase_maturity or not hasattr(self.btc, "is_coinbase"):
            return False
        return self.btc.is_coinbase(txid, uow=uow)

    def _plan(self, uow, chain: str, asset: str, to: str, amount_minor: int) -> dict | None:
        """What the hot wallet would send, or None when it cannot cover it now."""
        if chain == "bitcoin":
            try:
                spend = build_spend(self._hot_btc_candidates(uow), [(to, amount_minor)], self.hot_address("bitcoin"),
                                    self.config.btc_fee_rate_sat_vb, hrp=self.keys.btc_hrp)
            except InsufficientOnChainFunds:
                return None
            return {"chain": chain, "asset": asset, "spend": spend, "fee_minor": spend.fee_sat}
        hot = self.keys.key("ethereum", "hot", 0)
        price = self.evm.gas_price_gwei()
        if asset == "ETH":
            fee = ETH_TRANSFER_GAS * price
            if self.evm.balance_wei(hot.address) < (amount_minor + fee) * 10**9:
                return None
            return {"chain": chain, "asset": asset, "to": to, "amount_minor": amount_minor, "fee_minor": fee}
        token = self.tokens[asset]
        raw = minor_to_token(amount_minor, token.token_decimals, token.ledger_decimals)
        if self.evm.token_balance(token.address, hot.address) < raw:
            return None
        return {"chain": chain, "asset": asset, "to": to, "raw": raw,
                "fee_minor": self.config.token_withdrawal_fee_minor.get(asset, 0)}

    def _broadcast(self, uow, plan: dict) -> str:
        if plan["chain"] == "bitcoin":
            return self.btc.send_raw_transaction(plan["spend"].tx, uow=uow)
        hot = self.keys.key("ethereum", "hot", 0)
        if plan["asset"] == "ETH":
            sent = self.evm.send_eth(hot, plan["to"], plan["amount_minor"])
            # the customer paid the quoted gas; if the chain charged otherwise the custodian absorbs the gap
            # so that the ledger's view of the chain stays exact
            if sent.fee_gwei > plan["fee_minor"]:
                self._post_gas(uow, sent.fee_gwei - plan["fee_minor"], f"gas above quote {sent.txid}")
            elif sent.fee_gwei < plan["fee_minor"]:
                uow.transfer(move(self.chain_account(uow, "ETH").id, self.custody_account(uow, "ETH").id,
                                  plan["fee_minor"] - sent.fee_gwei), memo=f"gas below quote {sent.txid}",
                             kind="network_fee")
            return sent.txid
        custody_eth = self.custody_account(uow, "ETH")
        if uow.balance(custody_eth.id).available_minor < TOKEN_TRANSFER_GAS_LIMIT * self.evm.gas_price_gwei():
            raise InsufficientOnChainFunds("the custodian's own ETH cannot pay the gas for this token transfer; "
                                           "fund custody:custodian:ETH first")
        sent = self.evm.send_token(hot, self.tokens[plan["asset"]].address, plan["to"], plan["raw"])
        self._post_gas(uow, sent.fee_gwei, f"gas of {plan['asset']} withdrawal {sent.txid}")
        return sent.txid

    def _post_gas(self, uow, fee_gwei: int, memo: str) -> None:
        if fee_gwei:
            uow.transfer(move(self.custody_account(uow, "ETH").id, self.chain_account(uow, "ETH").id, fee_gwei),
                         memo=memo, kind="network_fee")

    def withdrawals(self, owner: str | None = None, status: str | None = None, *, uow=None) -> list[dict]:
        with self._reading(uow) as uow:
            query = select(t.withdrawals).order_by(t.withdrawals.c.id)
            if owner is not None:
                query = query.where(t.withdrawals.c.owner == owner)
            if status is not None:
                query = query.where(t.withdrawals.c.status == status)
            return [dict(r) for r in uow.conn.execute(query.limit(1000)).mappings()]

    def process_pending(self, *, uow=None) -> list[dict]:
        """Send the ``pending_cold`` withdrawals the hot wallet can now cover (oldest first)."""
        sent = []
        for row in self.withdrawals(status="pending_cold", uow=uow):
            def run(uow, row=row):
                self._lock_chain(uow, row["chain"])   # chain first (see withdraw)
                uow.advisory_lock(f"wallet:{row['chain']}")
                current = uow.conn.execute(select(t.withdrawals.c.status).where(
                    t.withdrawals.c.id == row["id"])).scalar_one()
                if current != "pending_cold":
                    return None
                plan = self._plan(uow, row["chain"], row["asset"], row["address"], row["amount_minor"])
                if plan is None or plan["fee_minor"] > row["fee_minor"]:
                    return None
                customer = self.customer_account(uow, row["owner"], row["asset"])
                self._post_withdrawal(uow, customer.id, row["asset"], row["amount_minor"], plan["fee_minor"],
                                      memo=f"{row['asset']} withdrawal", key=row["idempotency_key"],
                                      hold_id=row["hold_id"])
                txid = self._broadcast(uow, plan)
                values = dict(status="broadcast", txid=txid, fee_minor=plan["fee_minor"], updated_at=uow.now())
                uow.conn.execute(update(t.withdrawals).where(t.withdrawals.c.id == row["id"]).values(**values))
                return dict(row, **values)
            done = self._write(uow, run, retries=0)
            if done:
                sent.append(done)
        return sent

    # -- hot / cold -----------------------------------------------------------------------
    def hot_balance_minor(self, asset: str, *, uow=None) -> int:
        chain = _chain_of(asset, self.tokens)
        if chain == "bitcoin":
            return sum(u.amount_sat for u, _ in self._hot_btc_candidates(uow))
        return self._held_at(asset, self.hot_address(chain), uow)

    def _held_at(self, asset: str, address: str, uow=None) -> int:
        """What one of the custodian's addresses holds of ``asset``, confirmed, in ledger minor units (a token
        balance floored to ledger units)."""
        if _chain_of(asset, self.tokens) == "bitcoin":
            return self.btc.balance_sat([address], min_conf=1, uow=uow)
        if asset == "ETH":
            return self.evm.balance_wei(address) // 10**9
        token = self.tokens[asset]
        return minor_to_token(self.evm.token_balance(token.address, address), token.ledger_decimals,
                              token.token_decimals)

    def tier_balances_minor(self, asset: str, *, uow=None) -> dict[str, int]:
        """What the hot wallet (its address and, on Bitcoin, the deposit addresses whose keys are online),
        the warm wallet and the cold wallet hold of ``asset`` on chain, confirmed, in ledger minor units."""
        chain = _chain_of(asset, self.tokens)
        return {HOT: self.hot_balance_minor(asset, uow=uow),
                **{tier: self._held_at(asset, self.tier_address(chain, tier), uow) for tier in (WARM, COLD)}}

    def move_between_tiers(self, asset: str, source: str, destination: str, amount_minor: int, *,
                           uow=None) -> str:
        """Send ``amount_minor`` from one of the custodian's tiers to another (the network fee paid on top,
        by the custodian); returns the txid."""
        chain = _chain_of(asset, self.tokens)
        if source == destination or destination not in TIERS or source not in TIERS:
            raise ValueError(f"a move goes between two different tiers of {', '.join(TIERS)}")
        return self._internal_send(asset, source, self.tier_address(chain, destination), amount_minor, uow)

    def rebalance(self, asset: str, targets: TierTargets, *, min_move_minor: int = 0, fee_reserve_minor: int = 0,
                  uow=None, confirm: Callable[[], None] | None = None) -> list[tuple[Move, str]]:
        """Bring the hot, warm and cold wallets to ``targets`` (``wallet.tiers.plan``): the moves made, each
        with its txid; none when every tier is within the band already. ``confirm`` runs after each move
        (a regtest chain mines a block there): a tier spends only confirmed coins, and the second move may
        spend what the first brought."""
        made = []
        held = self.tier_balances_minor(asset, uow=uow)
        for step in plan(held, targets, min_move_minor=min_move_minor, fee_reserve_minor=fee_reserve_minor):
            made.append((step, self.move_between_tiers(asset, step.source, step.destination, step.amount_minor,
                                                       uow=uow)))
            if confirm is not None:
                confirm()
        return made

    def sweep_to_cold(self, asset: str, *, uow=None) -> str | None:
        """Move whatever the hot wallet holds above its ceiling to the cold address; returns the txid."""
        excess = self.hot_balance_minor(asset, uow=uow) - self.config.hot_ceiling_minor.get(asset, 2**62)
        if excess <= 0:
            return None
        return self.move_between_tiers(asset, HOT, COLD, excess, uow=uow)

    def refill_from_cold(self, asset: str, amount_minor: int, *, uow=None) -> str:
        """Move ``amount_minor`` from the cold wallet to the hot wallet (in production: an offline signature)."""
        return self.move_between_tiers(asset, COLD, HOT, amount_minor, uow=uow)

    def _internal_send(self, asset: str, role: str, to: str, amount_minor: int, uow=None) -> str:
        """A transfer between the custodian's own addresses: only the network fee touches the ledger."""
        chain = _chain_of(asset, self.tokens)

        def run(uow):
            self._lock_chain(uow, chain)   # chain first, as every on-chain writer (mining, deposits) takes it
            uow.advisory_lock(f"wallet:{chain}")
            if chain == "bitcoin":
                if role == "hot":
                    candidates = self._hot_btc_candidates(uow)
                else:
                    own = self.keys.key("bitcoin", role, 0)
                    candidates = [(u, own) for u in self.btc.unspent([own.address], min_conf=1, uow=uow)]
                total = sum(u.amount_sat for u, _ in candidates)
                # the moved amount arrives in full; the fee is paid on top (posted to the custodian's account)
                send = max(amount_minor, DUST_SAT)
                change_to = self.tier_address("bitcoin", role)
                spend = build_spend(candidates, [(to, min(send, total))], change_to,
                                    self.config.btc_fee_rate_sat_vb, hrp=self.keys.btc_hrp)
                uow.transfer(move(self.custody_account(uow, "BTC").id, self.chain_account(uow, "BTC").id,
                                  spend.fee_sat), memo=f"network fee of {role} transfer", kind="network_fee")
                return self.btc.send_raw_transaction(spend.tx, uow=uow)
            key = self.keys.key("ethereum", role, 0)
            if asset == "ETH":
                sent = self.evm.send_eth(key, to, amount_minor)
            else:
                token = self.tokens[asset]
                if role != "hot":
                    gas = TOKEN_TRANSFER_GAS_LIMIT * self.evm.gas_price_gwei()
                    topup = self.evm.send_eth(self.keys.key("ethereum", "hot", 0), key.address, gas)
                    self._post_gas(uow, topup.fee_gwei, f"gas top-up of the {role} wallet")
                sent = self.evm.send_token(key, token.address, to,
                                           minor_to_token(amount_minor, token.token_decimals, token.ledger_decimals))
            self._post_gas(uow, sent.fee_gwei, f"network fee of {role} transfer")
            return sent.txid
        return self._write(uow, run, retries=0)

    def sweep_deposits(self, *, uow=None) -> list[str]:
        """Collect ETH and tokens from customer deposit addresses into the hot wallet (gas paid by custody).

        Bitcoin needs no sweep: the hot wallet spends deposit-address coins directly.
        """
        if self.evm is None:
            return []
        txids = []
        hot = self.keys.key("ethereum", "hot", 0)
        with self._reading(uow) as reader:
            deposit = self._deposit_addresses(reader, "ethereum")
        for address, (_, index) in sorted(deposit.items(), key=lambda kv: kv[1][1]):
            key = self.keys.key("ethereum", "deposit", index)
            for asset, token in sorted(self.tokens.items()):
                raw = self.evm.token_balance(token.address, address)
                if raw <= 0:
                    continue

                def move_token(uow, key=key, token=token, raw=raw):
                    gas = TOKEN_TRANSFER_GAS_LIMIT * self.evm.gas_price_gwei()
                    if self.evm.balance_wei(key.address) < gas * 10**9:
                        topup = self.evm.send_eth(hot, key.address, gas)
                        self._post_gas(uow, topup.fee_gwei, "gas top-up of a deposit address")
                    sent = self.evm.send_token(key, token.address, hot.address, raw)
                    self._post_gas(uow, sent.fee_gwei, f"gas of {token.asset} sweep")
                    return sent.txid
                txids.append(self._write(uow, move_token, retries=0))
            fee = ETH_TRANSFER_GAS * self.evm.gas_price_gwei()
            # keep the gas reserve for future token sweeps at this address
            reserve = TOKEN_TRANSFER_GAS_LIMIT * self.evm.gas_price_gwei() if self.tokens else 0
            spare = self.evm.balance_wei(address) // 10**9 - fee - reserve
            if spare > 0:
                def move_eth(uow, key=key, spare=spare):
                    sent = self.evm.send_eth(key, hot.address, spare)
                    self._post_gas(uow, sent.fee_gwei, "gas of ETH sweep")
                    return sent.txid
                txids.append(self._write(uow, move_eth, retries=0))
        return txids

    def fund_custody(self, asset: str, amount_minor: int, *, uow=None) -> str:
        """Sandbox: the custodian's own coins arrive at its hot wallet (faucet) and its custody account."""
        chain = _chain_of(asset, self.tokens)
        txid = None
        if asset == "ETH":
            txid = self.evm.faucet(self.hot_address(chain), amount_minor)
        elif asset != "BTC":
            raise UnsupportedAsset("fund token custody by transferring tokens to the hot wallet")

        def post(uow):
            nonlocal txid
            if asset == "BTC":   # the coins and their posting commit together
                txid = self.btc.faucet(self.hot_address(chain), amount_minor, uow=uow)
            uow.transfer(move(self.chain_account(uow, asset).id, self.custody_account(uow, asset).id, amount_minor),
                         key=f"wallet:fund:{chain}:{txid}", memo="custodian's own funds", kind="deposit")
        self._write(uow, post)
        return txid

    # -- proof of reserves ----------------------------------------------------------------
    def _liabilities(self, asset: str, uow=None) -> dict[str, int]:
        with self._reading(uow) as uow:
            rows = uow.conn.execute(select(lt.accounts.c.owner, lt.accounts.c.balance_minor).where(
                and_(lt.accounts.c.asset == asset, lt.accounts.c.purpose == "customer")))
            return {r.owner: int(r.balance_minor) for r in rows}

    def liability_tree(self, asset: str, *, uow=None) -> MerkleSumTree:
        return MerkleSumTree(asset, self._liabilities(asset, uow))

    def inclusion_proof(self, owner: str, asset: str, *, uow=None) -> InclusionProof:
        """The customer's proof that their balance is counted in the published liabilities of ``asset``."""
        return self.liability_tree(asset, uow=uow).proof(owner)

    def onchain_holdings_minor(self, asset: str, *, uow=None) -> int:
        """What every custodian address (deposit, hot, warm, cold) holds on chain, in ledger minor units."""
        chain = _chain_of(asset, self.tokens)
        with self._reading(uow) as reader:
            addresses = list(self._deposit_addresses(reader, chain))
        addresses += [self.tier_address(chain, tier) for tier in TIERS]
        if chain == "bitcoin":
            return self.btc.balance_sat(addresses, min_conf=0, uow=uow)
        if asset == "ETH":
            return sum(self.evm.balance_wei(a) for a in addresses) // 10**9
        token = self.tokens[asset]
        raw = sum(self.evm.token_balance(token.address, a) for a in addresses)
        return minor_to_token(raw, token.ledger_decimals, token.token_decimals) if raw else 0

    def chain_problem(self, asset: str, *, uow=None) -> str | None:
        """None when the custodian's addresses hold on chain at least what the ledger says they hold
        (``-balance(external:chain:<asset>)``); otherwise the shortfall in words. More is allowed: coins paid
        to a deposit address that no scan has credited yet."""
        with self._reading(uow) as reader:
            balance = reader.conn.execute(select(lt.accounts.c.balance_minor).where(
                lt.accounts.c.code == f"external:chain:{asset}")).scalar()
        ledger_onchain = -int(balance or 0)
        onchain = self.onchain_holdings_minor(asset, uow=uow)
        if onchain < ledger_onchain:
            return (f"the custodian's {asset} addresses hold {onchain} on chain but the ledger says they hold "
                    f"{ledger_onchain}: {ledger_onchain - onchain} missing from the chain")
        return None

    def reserves_report(self, asset: str, *, uow=None) -> dict[str, Any]:
        """Customer liabilities (Merkle sum root) against on-chain holdings of the custodian's addresses."""
        tree = self.liability_tree(asset, uow=uow)
        with self._reading(uow) as reader:
            custody = reader.find_account(f"custody:custodian:{asset}")
            chain_acc = reader.find_account(f"external:chain:{asset}")
            custody_minor = reader.balance(custody.id).ledger_minor if custody else 0
            ledger_onchain = -reader.balance(chain_acc.id).ledger_minor if chain_acc else 0
        onchain = self.onchain_holdings_minor(asset, uow=uow)
        return {"asset": asset, "liabilities_minor": tree.total_minor, "customers": len(tree.owners),
                "merkle_root": tree.root_hash.hex(), "custodian_own_minor": custody_minor,
                "ledger_onchain_minor": ledger_onchain, "onchain_minor": onchain,
                "surplus_minor": onchain - tree.total_minor - custody_minor,
                "fully_reserved": onchain >= tree.total_minor}
