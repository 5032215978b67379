"""The city's Bitcoin chain as bitcoind's JSON-RPC methods: the subset that wallets and block explorers use,
answered from the chain in the database (``wallet.bitcoin.node``), each call in a unit of work of its own,
so any number of processes may serve the same chain. The HTTP server is ``btc_rpc_server.py``.

Methods: getblockchaininfo, getblockcount, getbestblockhash, getblockhash, getblock, getrawtransaction,
sendrawtransaction, generatetoaddress, getmempoolinfo, estimatesmartfee, scantxoutset (``addr(...)``
descriptors), gettxout, and sendtoaddress — the regtest faucet (coins from nowhere: there is no node
wallet). Blocks carry no coinbase subsidy; the faucet is where coins come from.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from bitcoin.core import CTransaction, b2x

from ledger.errors import DomainError

SATS = 100_000_000
DIFFICULTY = 4.656542373906925e-10   # regtest's minimum difficulty (nBits 0x207fffff)
# bitcoind's error codes
RPC_MISC, RPC_INVALID_PARAMETER, RPC_INVALID_ADDRESS, RPC_DESERIALIZATION = -1, -8, -5, -22
RPC_VERIFY_ERROR, RPC_VERIFY_REJECTED, RPC_ALREADY_IN_CHAIN = -25, -26, -27
RPC_METHOD_NOT_FOUND, RPC_PARSE_ERROR, RPC_INVALID_REQUEST = -32601, -32700, -32600
# our refusal codes as bitcoind's reject reasons (what a bitcoind client matches on)
REJECT_REASONS = {
    "double_spend": (RPC_VERIFY_REJECTED, "txn-mempool-conflict"),
    "missing_input": (RPC_VERIFY_ERROR, "bad-txns-inputs-missingorspent"),
    "outputs_exceed_inputs": (RPC_VERIFY_REJECTED, "bad-txns-in-belowout"),
    "unsigned": (RPC_VERIFY_REJECTED, "mandatory-script-verify-flag-failed (Witness program was passed an "
                                      "empty witness)"),
    "bad_signature": (RPC_VERIFY_REJECTED, "mandatory-script-verify-flag-failed (Signature must be zero for "
                                           "failed CHECK(MULTI)SIG operation)"),
}


class RpcFault(Exception):
    """A JSON-RPC error answer (bitcoind's code and message): the protocol's, not a refusal of the domain."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def btc(sats: int) -> Decimal:
    """Satoshi as a bitcoind amount (exactly 8 decimals)."""
    return Decimal(int(sats)) / SATS


def to_sats(value: Any) -> int:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise RpcFault(-3, "Invalid amount") from None
    if not amount.is_finite():   # Infinity and NaN: an invalid amount, not an internal error
        raise RpcFault(-3, "Invalid amount")
    sats = amount * SATS
    if sats != sats.to_integral_value() or sats <= 0:
        raise RpcFault(-3, "Invalid amount")
    return int(sats)


class BitcoinRpc:
    """The methods, over a ``RegtestNode``. ``write(fn)`` / ``read(fn)`` run ``fn(uow)`` in a unit of work
    (the city passes its own, so blocks carry the city's time); by default the node's ledger's."""

    def __init__(self, node, *, write: Callable | None = None, read: Callable | None = None,
                 fee_rate_sat_vb: int = 2, halted: Callable[[Any], int | None] | None = None) -> None:
        self.node = node
        self._write = write or node.ledger.transaction
        self._read = read or self._own_read
        self.fee_rate_sat_vb = fee_rate_sat_vb
        self._halted = halted   # halted(uow): the id of a chain halt that stops mining (a city's incident), or None

    def _own_read(self, fn):
        with self.node.ledger.unit_of_work(read_only=True) as uow:
            return fn(uow)

    def call(self, method: str, params: list) -> Any:
        handler = getattr(self, f"rpc_{method}", None) if isinstance(method, str) and method.isidentifier() else None
        if handler is None:
            raise RpcFault(RPC_METHOD_NOT_FOUND, "Method not found")
        try:
            return handler(*params)
        except (TypeError, ValueError):
            raise RpcFault(RPC_INVALID_PARAMETER, f"wrong parameters for {method}") from None

    # -- chain --------------------------------------------------------------------------
    def rpc_getblockcount(self) -> int:
        return self.node.height()

    def rpc_getbestblockhash(self) -> str:
        return self._read(lambda uow: self.node.block(height=self.node.height(uow=uow), uow=uow)).hash

    def rpc_getblockhash(self, height) -> str:
        height = _int(height, "height")
        block = self.node.block(height=height) if height >= 0 else None
        if block is None:
            raise RpcFault(RPC_INVALID_PARAMETER, "Block height out of range")
        return block.hash

    def rpc_getblockchaininfo(self) -> dict:
        def read(uow):
            tip = self.node.height(uow=uow)
            return tip, self.node.block(height=tip, uow=uow)
        tip, block = self._read(read)
        return {"chain": "regtest", "blocks": tip, "headers": tip, "bestblockhash": block.hash,
                "difficulty": DIFFICULTY, "time": int(block.time.timestamp()),
                "mediantime": int(block.time.timestamp()), "verificationprogress": 1,
                "initialblockdownload": False, "chainwork": f"{2 * (tip + 1):064x}", "size_on_disk": 0,
                "pruned": False, "warnings": ""}

    def rpc_getblock(self, block_hash, verbosity=1):
        verbosity = int(verbosity)   # bitcoind takes true/false for 1/0 too

        def read(uow):
            block = self.node.block(block_hash=str(block_hash), uow=uow)
            if block is None:
                raise RpcFault(RPC_INVALID_ADDRESS, "Block not found")
            tip = self.node.height(uow=uow)
            following = self.node.block(height=block.height + 1, uow=uow) if block.height < tip else None
            return block, tip, following
        block, tip, following = self._read(read)
        if verbosity == 0:
            return block.raw.hex()
        txs = block.transactions()
        result = {"hash": block.hash, "confirmations": tip - block.height + 1, "height": block.height,
                  "version": 0x20000000, "versionHex": "20000000", "merkleroot": _merkle(block.raw),
                  "time": int(block.time.timestamp()), "mediantime": int(block.time.timestamp()),
                  "nonce": int.from_bytes(block.raw[76:80], "little"), "bits": "207fffff",
                  "difficulty": DIFFICULTY, "chainwork": f"{2 * (block.height + 1):064x}", "nTx": len(txs),
                  "size": len(block.raw), "strippedsize": len(block.raw), "weight": 4 * len(block.raw),
                  "tx": [self._decoded(tx) if verbosity >= 2 else tx.GetTxid()[::-1].hex() for tx in txs]}
        if block.height > 0:
            result["previousblockhash"] = block.prev_hash
        if following is not None:
            result["nextblockhash"] = following.hash
        return result

    def rpc_getrawtransaction(self, txid, verbose=False, blockhash=None):
        def read(uow):
            found = self.node.transaction(str(txid), uow=uow)
            if found is None:
                raise RpcFault(RPC_INVALID_ADDRESS, "No such mempool or blockchain transaction. Use gettransaction "
                                                    "for wallet transactions.")
            tx, height = found
            block = None if height is None else self.node.block(height=height, uow=uow)
            return tx, block, self.node.height(uow=uow)
        tx, block, tip = self._read(read)
        if not verbose:
            return tx.serialize().hex()
        result = dict(self._decoded(tx), hex=tx.serialize().hex())
        if block is not None:
            result.update(blockhash=block.hash, confirmations=tip - block.height + 1,
                          time=int(block.time.timestamp()), blocktime=int(block.time.timestamp()))
        return result

    def rpc_gettxout(self, txid, n, include_mempool=True):
        def read(uow):
            return self.node.output(str(txid), _int(n, "n"), uow=uow), self.node.height(uow=uow)
        out, tip = self._read(read)
        if out is None or (out["block_height"] is None and not include_mempool):
            return None
        if out["spent_by"] is not None and (include_mempool or self.node.confirmations(out["spent_by"])):
            return None
        confirmations = 0 if out["block_height"] is None else tip - int(out["block_height"]) + 1
        return {"bestblock": self.rpc_getbestblockhash(), "confirmations": confirmations,
                "value": btc(out["amount_sat"]), "scriptPubKey": _script(bytes.fromhex(out["script"]), out["address"]),
                "coinbase": False}

    # -- mempool and fees ---------------------------------------------------------------
    def rpc_sendrawtransaction(self, hexstring, maxfeerate=None):
        try:
            raw = bytes.fromhex(str(hexstring))
            tx = CTransaction.deserialize(raw)
        except Exception:  # noqa: BLE001 - anything that is not a transaction
            raise RpcFault(RPC_DESERIALIZATION, "TX decode failed") from None
        try:
            return self._write(lambda uow: self.node.send_raw_transaction(tx, uow=uow))
        except DomainError as refused:
            if refused.code == "double_spend" and "already broadcast" in str(refused):
                raise RpcFault(RPC_ALREADY_IN_CHAIN, f"txn-already-known ({refused})") from None
            code, reason = REJECT_REASONS.get(refused.code, (RPC_VERIFY_REJECTED, "bad-txns"))
            raise RpcFault(code, f"{reason} ({refused})") from None

    def rpc_getmempoolinfo(self) -> dict:
        def read(uow):
            txs = [self.node.transaction(txid, uow=uow)[0] for txid in self.node.mempool(uow=uow)]
            return txs, self.node.mempool_fees_sat(uow=uow)
        txs, fees = self._read(read)
        size = sum(len(tx.serialize()) for tx in txs)
        return {"loaded": True, "size": len(txs), "bytes": size, "usage": size, "total_fee": btc(fees),
                "maxmempool": 300_000_000, "mempoolminfee": btc(1000), "minrelaytxfee": btc(1000),
                "incrementalrelayfee": btc(1000), "unbroadcastcount": 0, "fullrbf": False}

    def rpc_estimatesmartfee(self, conf_target, estimate_mode="conservative") -> dict:
        return {"feerate": btc(self.fee_rate_sat_vb * 1000), "blocks": max(1, _int(conf_target, "conf_target"))}

    # -- writes -------------------------------------------------------------------------
    def rpc_generatetoaddress(self, nblocks, address, maxtries=None) -> list[str]:
        _address(self.node, address)
        blocks = _int(nblocks, "nblocks")
        if not 0 <= blocks <= 1000:
            raise RpcFault(RPC_INVALID_PARAMETER, "nblocks must be between 0 and 1000")
        return self._write(lambda uow: self._mine(uow, blocks)) if blocks else []

    def _mine(self, uow, blocks: int) -> list[str]:
        halted = self._halted(uow) if self._halted is not None else None
        if halted is not None:   # a workshop's chain halt: no block until the host resolves it
            raise RpcFault(RPC_MISC, f"the chain is halted (sandbox incident {halted}): no block is mined "
                                     "until the incident is resolved")
        return self.node.mine(blocks, uow=uow)

    def rpc_sendtoaddress(self, address, amount, *_ignored) -> str:
        _address(self.node, address)
        sats = to_sats(amount)
        return self._write(lambda uow: self.node.faucet(address, sats, uow=uow))

    def rpc_scantxoutset(self, action, scanobjects=None):
        if action in ("abort", "status"):
            return False if action == "abort" else None
        if action != "start" or not isinstance(scanobjects, list):
            raise RpcFault(RPC_INVALID_PARAMETER, "scantxoutset start needs a list of scan objects")
        addresses = []
        for item in scanobjects:
            desc = item.get("desc") if isinstance(item, dict) else item
            match = re.fullmatch(r"addr\(([^)]+)\)(#\w+)?", str(desc))
            if not match:
                raise RpcFault(RPC_INVALID_PARAMETER, "only addr(<address>) descriptors are supported")
            addresses.append(_address(self.node, match.group(1)))

        def read(uow):
            coins = self.node.unspent(addresses, min_conf=1, mempool_spends=False, uow=uow)
            return coins, self.node.height(uow=uow), self.node.block(height=self.node.height(uow=uow), uow=uow)
        coins, tip, block = self._read(read)
        unspents = [{"txid": u.txid, "vout": u.vout, "scriptPubKey": _script_hex(u.address),
                     "desc": f"addr({u.address})", "amount": btc(u.amount_sat), "coinbase": False,
                     "height": u.height} for u in coins]
        return {"success": True, "txouts": len(unspents), "height": tip, "bestblock": block.hash,
                "unspents": unspents, "total_amount": btc(sum(u.amount_sat for u in coins))}

    def _decoded(self, tx: CTransaction) -> dict:
        raw = tx.serialize()
        stripped = len(tx.serialize(params={"include_witness": False}))
        weight = 3 * stripped + len(raw)
        vin = []
        for index, txin in enumerate(tx.vin):
            if txin.prevout.is_null():
                entry = {"coinbase": bytes(txin.scriptSig).hex()}
            else:
                entry = {"txid": txin.prevout.hash[::-1].hex(), "vout": txin.prevout.n,
                         "scriptSig": {"asm": "", "hex": bytes(txin.scriptSig).hex()}}
                if tx.wit is not None and index < len(tx.wit.vtxinwit):
                    entry["txinwitness"] = [b2x(item) for item in tx.wit.vtxinwit[index].scriptWitness.stack]
            vin.append(dict(entry, sequence=txin.nSequence))
        vout = [{"value": btc(out.nValue), "n": n,
                 "scriptPubKey": _script(bytes(out.scriptPubKey), _address_of(self.node, bytes(out.scriptPubKey)))}
                for n, out in enumerate(tx.vout)]
        return {"txid": tx.GetTxid()[::-1].hex(), "hash": tx.GetHash()[::-1].hex(), "version": tx.nVersion,
                "size": len(raw), "vsize": (weight + 3) // 4, "weight": weight, "locktime": tx.nLockTime,
                "vin": vin, "vout": vout}


def _int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RpcFault(RPC_INVALID_PARAMETER, f"{name} must be a whole number")
    return value


def _address(node, address) -> str:
    from wallet.addresses import validate_address
    from wallet.errors import BadAddress
    try:
        return validate_address("bitcoin", str(address))
    except BadAddress:
        raise RpcFault(RPC_INVALID_ADDRESS, "Invalid address") from None


def _address_of(node, script: bytes) -> str | None:
    from wallet.bitcoin.validation import address_of
    return address_of(script, node.hrp)


def _script_hex(address: str) -> str:
    from wallet.bitcoin.transactions import script_for_address
    return bytes(script_for_address(address, address.split("1", 1)[0])).hex()


def _script(script: bytes, address: str | None) -> dict:
    result = {"asm": "", "hex": script.hex(), "type": "witness_v0_keyhash" if address else "nonstandard"}
    if address:
        result.update(asm=f"0 {script[2:].hex()}", address=address)
    return result


def _merkle(raw: bytes) -> str:
    return raw[36:68][::-1].hex()
