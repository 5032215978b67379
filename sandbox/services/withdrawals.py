"""Withdrawals: a customer's BTC sent to an outside address on the embedded regtest chain, through the
licensed custodian (``wallet.custodian``), in the caller's unit of work.

Balances that entered through the faucet or ``deposit`` exist only in the ledger, so withdrawals are paid
from the exchange's treasury on the regtest chain: mined to the custodian's cold address when first
needed (its own coins, ``custody:custodian:BTC``), moved to the hot wallet when it is short, broadcast and
mined to the configured confirmations. Not a taxable disposal, but the coins' FIFO lots leave with them.

The chain lives in the database (``wallet.bitcoin.node``): what a withdrawal mines and broadcasts commits
or rolls back with its ledger postings, and every process serving the city sees the same chain.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ledger import Posting, format_amount
from wallet import queries as wallet_queries

from .. import audit, city_state, events
from ..context import CityContext
from ..incidents.state import chain_halted
from ..errors import (
    DustAmount,
    InvalidAmount,
    InvalidIdempotencyKey,
    InvalidTravelRule,
    WithdrawalAssetNotSupported,
)
from ..tax import TRANSFER_OUT
from .result import Result

MAX_PAGE = 1000
# The exchange's treasury reserve on the regtest chain: mined to the custodian's cold address in tranches
# of one regtest block reward (50 BTC), or more when one withdrawal needs more.
TREASURY_TRANCHE_SAT = 50 * 100_000_000
REFILL_MARGIN_SAT = 10_000   # the cold-to-hot transaction's own fee, paid by the custodian


def _wallet_key(actor: str, key: str) -> str:
    """The custodian's idempotency key of a city withdrawal: the caller's key, scoped to the actor."""
    return "city:" + hashlib.sha256(f"{actor}\x00{key}".encode()).hexdigest()[:48]


def _row(uow, wallet_key: str) -> dict | None:
    return wallet_queries.withdrawal_by_key(uow, wallet_key)


def as_dict(row: dict) -> dict:
    """A withdrawal as the facade and the API answer it."""
    return {"id": int(row["id"]), "actor": row["owner"], "asset": row["asset"], "chain": row["chain"],
            "address": row["address"], "amount_minor": int(row["amount_minor"]),
            "fee_minor": int(row["fee_minor"]), "status": row["status"], "txid": row["txid"],
            "travel_rule_attached": bool(row["travel_rule"]),
            "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat()}


def _check_travel_rule(city: CityContext, amount_minor: int, travel_rule) -> None:
    """The city's travel rule (FATF R.16): data required at or above ``custody.travel_rule_threshold_minor``
    (tenge), the withdrawal valued at the model price."""
    from wallet.errors import TravelRuleRequired
    from wallet.travel_rule import check_travel_rule
    threshold = city.cfg.custody.travel_rule_threshold_minor
    value = city.value_kzt("BTC", amount_minor)
    try:
        check_travel_rule(travel_rule, amount_minor=value, threshold_minor=threshold, asset="KZT")
    except TravelRuleRequired as error:
        missing = error.details.get("missing")
        if not missing:
            raise
        raise TravelRuleRequired(
            f"withdrawals worth {format_amount(threshold, 'KZT')} or more (this one: "
            f"{format_amount(value, 'KZT')} at the model price) must carry travel-rule data (FATF R.16); "
            f"missing: {', '.join(missing)}", missing=missing) from None


def _ready_custody(city: CityContext, uow):
    """The custodian, with the anti-fraud centre's address list (configuration) on its blocklist."""
    custodian = city.custodian
    if not city.blocklist_loaded:
        from wallet.addresses import validate_address
        from wallet.errors import BadAddress
        for address in city.cfg.aml.blocklists.addresses:
            try:
                validate_address("bitcoin", address)
            except BadAddress:
                continue   # not a valid regtest address: nothing could be sent to it anyway
            custodian.add_blocked_address("bitcoin", address, "anti-fraud centre list (configuration)", uow=uow)
        uow.after_commit(lambda: setattr(city, "blocklist_loaded", True))
    return custodian


def _fund_treasury(city: CityContext, uow, custodian, amount_sat: int) -> str:
    """Mine ``amount_sat`` to the custodian's cold address on the regtest chain: the exchange's treasury
    reserve (its own coins, ``custody:custodian:BTC``), from which withdrawals of balances that entered
    through the faucet or ``deposit`` (ledger only) are paid out on chain."""
    cold = custodian.cold_address("bitcoin")
    txid = city.btc_node.faucet(cold, amount_sat, uow=uow)
    city.btc_node.mine(1, uow=uow)
    done = uow.transfer([Posting(custodian.chain_account(uow, "BTC").id, -amount_sat),
                         Posting(custodian.custody_account(uow, "BTC").id, amount_sat)],
                        key=f"city:treasury:bitcoin:{txid}", kind="deposit",
                        memo="treasury reserve mined to the custodian's cold wallet (regtest)")
    if not done.replayed:
        audit.append(uow, city.custodian_id, "custody.treasury_funded", "BTC",
                     {"amount_minor": amount_sat, "txid": txid, "address": cold})
    return txid


def _refill_hot(city: CityContext, uow, custodian, row: dict) -> str:
    """Move what ``row`` needs to the hot wallet — from the warm wallet when it holds enough, else from
    cold (funding the treasury first when cold is short too) — and mine the block that makes it spendable."""
    need = int(row["amount_minor"]) + int(row["fee_minor"])
    def held(tier: str) -> int:   # confirmed, at the tier's one address (the hot wallet is not read)
        return city.btc_node.balance_sat([custodian.tier_address("bitcoin", tier)], min_conf=1, uow=uow)
    source = "warm" if held("warm") >= need + REFILL_MARGIN_SAT else "cold"
    if source == "cold" and held("cold") < need + REFILL_MARGIN_SAT:
        _fund_treasury(city, uow, custodian, max(TREASURY_TRANCHE_SAT, need + REFILL_MARGIN_SAT))
    txid = custodian.move_between_tiers("BTC", source, "hot", need, uow=uow)
    city.btc_node.mine(1, uow=uow)
    audit.append(uow, city.custodian_id, "custody.hot_refilled", "BTC",
                 {"amount_minor": need, "txid": txid, "withdrawal_id": int(row["id"]), "from": source})
    return txid


def _audit(city: CityContext, uow, row: dict) -> None:
    """``funds.withdrawal``, once per withdrawal (a replay finds it there)."""
    subject = f"withdrawal:{row['id']}"
    uow.advisory_lock("sandbox:withdrawal-audit")
    if audit.has_entry(uow.conn, "funds.withdrawal", subject):
        return
    # Not a disposal: coins leave custody for the customer's external wallet (still theirs). The tax
    # statement shows no line for it, but the coins' FIFO lots leave with them (tax.TRANSFER_OUT).
    audit.append(uow, row["owner"], "funds.withdrawal", subject, {
        "customer": row["owner"], "asset": row["asset"], "amount_minor": int(row["amount_minor"]),
        "fee_minor": int(row["fee_minor"]), "address": row["address"], "txid": row["txid"],
        "status": row["status"], "travel_rule_attached": bool(row["travel_rule"]),
        "tax": [{"kind": TRANSFER_OUT, "asset": row["asset"],
                 "qty_minor": int(row["amount_minor"]) + int(row["fee_minor"]), "kzt_minor": 0,
                 "source": TRANSFER_OUT, "ref": subject}],
        "tax_treatment": "not a disposal: a transfer to an external wallet; its cost basis leaves with it"})
    snapshot = dict(as_dict(row), object="withdrawal")
    events.emit(uow, "withdrawal.created", snapshot, customer=row["owner"])
    if row["status"] == "confirmed":
        events.emit(uow, "withdrawal.confirmed", snapshot, customer=row["owner"])


def withdraw(city: CityContext, uow, *, actor: str, asset: str = "BTC", address: str, amount_minor: int, key: str,
             travel_rule: dict | None = None) -> dict:
    """Send ``amount_minor`` of the actor's BTC to ``address`` on the regtest chain (the network fee is
    added and debited too), through the licensed custodian.

    Checks: the custodian's custody licence, the address (bech32 checksum, regtest network), the
    blocklist and the customer's whitelist, travel-rule data at or above the city's threshold, the
    balance. The custodian pays from its hot wallet; when that is short the withdrawal waits as
    ``pending_cold`` (amount and fee held), the hot wallet is refilled from the cold one (the exchange's
    treasury on the regtest chain, mined there when short) and the withdrawal is broadcast. Blocks are
    mined to the configured confirmations, so it normally returns ``confirmed`` with a txid the node
    knows. Same ``key`` + same request returns the same withdrawal; a different request with that key
    is ``idempotency_conflict``. Not a taxable disposal (audited as ``funds.withdrawal``)."""
    from wallet.addresses import validate_address
    from wallet.bitcoin.transactions import DUST_SAT
    city_state.require_customer(uow.conn, actor)
    if asset != "BTC":
        raise WithdrawalAssetNotSupported(
            f"withdrawals are only on bitcoin in this sandbox (BTC on the regtest chain), not {str(asset)[:16]!r}; "
            "other assets stay at the exchange: sell them or pay with them")
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
        raise InvalidAmount(f"a withdrawal is a positive whole number of satoshi, got {amount_minor!r}")
    if amount_minor < DUST_SAT:
        raise DustAmount(f"a withdrawal of less than {DUST_SAT} satoshi would be a dust output that the Bitcoin "
                         "network does not relay")
    if not isinstance(key, str) or not 0 < len(key) <= 255:
        raise InvalidIdempotencyKey("a withdrawal needs an idempotency key of 1-255 characters")
    if travel_rule is not None and not isinstance(travel_rule, dict):
        raise InvalidTravelRule("travel-rule data is an object of named fields")
    city.licences.require(city.custodian_id, "custody", uow.now())
    canonical = validate_address("bitcoin", address)   # before the node starts: a typo costs nothing
    wallet_key = _wallet_key(actor, key)
    first = _row(uow, wallet_key)
    if first is None:
        _check_travel_rule(city, amount_minor, travel_rule)
    with city.custody_lock:
        custodian = _ready_custody(city, uow)
        row = custodian.withdraw(actor, "BTC", canonical, amount_minor, key=wallet_key, travel_rule=travel_rule,
                                 uow=uow)
        if chain_halted(uow.conn) is None:
            row = _send_and_confirm(city, uow, custodian, row, wallet_key)
        else:   # a chain halt (sandbox/incidents/): no block is mined, so the withdrawal waits — broadcast
            # (in the mempool, 0 confirmations) or pending_cold (a refill could not confirm) — until the
            # restart sends and confirms it (``confirm_waiting``)
            row = _row(uow, wallet_key)
    _audit(city, uow, row)
    return as_dict(row)


def _send_and_confirm(city: CityContext, uow, custodian, row: dict, wallet_key: str) -> dict:
    """Refill the hot wallet if the withdrawal waits for it, then mine it to the configured confirmations."""
    row = _send(city, uow, custodian, row, wallet_key)
    _confirm(city, uow, custodian, [row])
    return _row(uow, wallet_key)


def _send(city: CityContext, uow, custodian, row: dict, wallet_key: str) -> dict:
    """The withdrawal as it stands once sent: refilled from cold first if it waits for the hot wallet."""
    for _ in range(3):   # an older pending withdrawal may take the refill first
        if row["status"] != "pending_cold":
            break
        _refill_hot(city, uow, custodian, row)
        custodian.process_pending(uow=uow)
        row = _row(uow, wallet_key)
    return row


def _confirm(city: CityContext, uow, custodian, rows: list[dict]) -> None:
    """Mine the broadcast ones of ``rows`` to the configured confirmations (the blocks they all need, once),
    then let the custodian mark them confirmed (one pass over its withdrawals)."""
    sent = [row["txid"] for row in rows if row["status"] == "broadcast" and row["txid"]]
    if not sent:
        return
    want = max(1, city.cfg.custody.confirmations.get("BTC", 1))
    have = [city.btc_node.confirmations(txid, uow=uow) for txid in sent]
    fewest = min(h for h in have if h is not None) if any(h is not None for h in have) else want
    if fewest < want:
        city.btc_node.mine(want - fewest, uow=uow)
    custodian.refresh_withdrawals(uow=uow)


def confirm_waiting(city: CityContext, uow) -> list[dict]:
    """After a chain halt: send the BTC withdrawals that waited for a refill, mine every waiting one to
    its confirmations, and write ``withdrawal.confirmed`` for each that now has them. Returns those."""
    with city.custody_lock:
        custodian = _ready_custody(city, uow)
        waiting = (custodian.withdrawals(status="pending_cold", uow=uow)
                   + custodian.withdrawals(status="broadcast", uow=uow))
        keys = [r["idempotency_key"] for r in sorted(waiting, key=lambda r: r["id"]) if r["chain"] == "bitcoin"]
        _confirm(city, uow, custodian, [_send(city, uow, custodian, _row(uow, key), key) for key in keys])
        done = [row for row in (_row(uow, key) for key in keys) if row["status"] == "confirmed"]
        for row in done:
            events.emit(uow, "withdrawal.confirmed", dict(as_dict(row), object="withdrawal"), customer=row["owner"])
    return done


@dataclass(frozen=True)
class Whitelisted(Result):
    """An address on the customer's withdrawal whitelist (from then on, withdrawals go only to listed ones)."""
    actor: str
    chain: str
    address: str


def whitelist_address(city: CityContext, uow, *, actor: str, chain: str = "bitcoin", address: str) -> Whitelisted:
    """Put ``address`` on the actor's withdrawal whitelist: once a customer has one, the custodian sends
    only to addresses on it (``address_not_whitelisted`` otherwise). The address is checked first
    (bech32 checksum, regtest network); listing one twice changes nothing. Audited as
    ``custody.whitelisted``."""
    from wallet.addresses import validate_address
    city_state.require_customer(uow.conn, actor)
    canonical = validate_address(chain, address)
    city.custodian.add_whitelisted_address(actor, chain, canonical, uow=uow)
    audit.append(uow, actor, "custody.whitelisted", actor, {"chain": chain, "address": canonical})
    return Whitelisted(actor, chain, canonical)


def withdrawals(city: CityContext, uow, actor: str, *, limit: int = 50, after_id: int | None = None) -> list[dict]:
    """The actor's withdrawals, oldest first (``after_id``: the last id of the previous page)."""
    city_state.require_customer(uow.conn, actor)
    return [as_dict(r) for r in wallet_queries.withdrawals_of(uow, actor, after_id=after_id, limit=limit)]
