"""The node interface of ``RegtestNode`` over a bitcoind-compatible JSON-RPC URL.

Tested against the city's own node (``cryptocity serve --btc-rpc-port N``, ``sandbox/btc_rpc.py``), which
answers the same methods a ``bitcoind -regtest`` does. A real bitcoind needs ``-txindex`` (for
``confirmations``) and a funded node wallet (for ``faucet``, which uses ``sendtoaddress``). ``unspent`` uses
``scantxoutset`` (confirmed coins) and drops those already spent in the mempool (``gettxout``).
The ``uow=`` arguments of the node interface are accepted and ignored: this chain commits on its own, so
on SQLite the node behind the URL must not keep its chain in the file the custodian's ledger writes to
(SQLite has one writer: the custodian's open transaction would block the node's).
"""
from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from decimal import Decimal

from bitcoin.core import CTransaction

from ..errors import (BadSignature, ChainError, DoubleSpend, InvalidTransaction, MissingInput, OutputsExceedInputs,
                      Unsigned)
from .transactions import Utxo

SATS = Decimal(100_000_000)
TIMEOUT_S = 30


class BitcoindRPC:
    chain = "bitcoin"

    def __init__(self, url: str, *, hrp: str = "bcrt", mine_to_address: str | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        self._endpoint = urllib.parse.urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""),
                                                  parts.path or "/", "", ""))
        self._auth = base64.b64encode(f"{parts.username or ''}:{parts.password or ''}".encode()).decode()
        self.hrp = hrp
        self.mine_to_address = mine_to_address
        self._id = 0

    def __repr__(self) -> str:  # never show credentials
        return f"BitcoindRPC({self._endpoint!r})"

    def call(self, method: str, *params):
        self._id += 1
        body = json.dumps({"jsonrpc": "1.0", "id": self._id, "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(self._endpoint, body, {"Content-Type": "application/json",
                                                                 "Authorization": f"Basic {self._auth}"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                reply = json.loads(response.read(), parse_float=Decimal)
        except urllib.error.HTTPError as error:
            reply = json.loads(error.read() or b"{}", parse_float=Decimal)
        except OSError as error:
            raise ChainError(f"bitcoind at {self._endpoint} is unreachable: {error}") from None
        if reply.get("error"):
            message = reply["error"].get("message", "")
            if method == "sendrawtransaction":
                raise _refusal(message)
            raise ChainError(f"bitcoind {method} failed: {message}")
        return reply.get("result")

    def lock(self, uow) -> None:
        """Nothing to take: bitcoind orders its own mempool."""

    def height(self, *, uow=None) -> int:
        return int(self.call("getblockcount"))

    def send_raw_transaction(self, tx: CTransaction | bytes, *, uow=None) -> str:
        raw = tx if isinstance(tx, (bytes, bytearray)) else tx.serialize()
        return self.call("sendrawtransaction", bytes(raw).hex())

    def mine(self, blocks: int = 1, *, uow=None) -> list[str]:
        if not self.mine_to_address:
            raise ChainError("give BitcoindRPC a mine_to_address to mine regtest blocks")
        return self.call("generatetoaddress", blocks, self.mine_to_address)

    def faucet(self, address: str, amount_sat: int, *, uow=None) -> str:
        return self.call("sendtoaddress", address, str(Decimal(amount_sat) / SATS))

    def confirmations(self, txid: str, *, uow=None) -> int | None:
        try:
            return int(self.call("getrawtransaction", txid, True).get("confirmations", 0))
        except ChainError:
            return None

    def outputs_in_blocks(self, from_height: int, to_height: int, *, uow=None) -> list[Utxo]:
        found = []
        for height in range(max(from_height, 0), min(to_height, self.height()) + 1):
            block = self.call("getblock", self.call("getblockhash", height), 2)
            for tx in block["tx"]:
                for out in tx["vout"]:
                    address = out.get("scriptPubKey", {}).get("address")
                    if address and address.startswith(self.hrp + "1q"):
                        found.append(Utxo(tx["txid"], out["n"], int(out["value"] * SATS), address, height))
        return found

    def unspent(self, addresses, *, min_conf: int = 1, uow=None) -> list[Utxo]:
        addresses = sorted(set(addresses))
        if not addresses:
            return []
        result = self.call("scantxoutset", "start", [f"addr({a})" for a in addresses])
        tip = self.height()
        utxos = [Utxo(u["txid"], u["vout"], int(u["amount"] * SATS), u["desc"].split("(")[1].split(")")[0]
                      if "addr(" in u["desc"] else "", u["height"]) for u in result.get("unspents", [])]
        # scantxoutset reads the chainstate, which knows nothing of the mempool: a coin a broadcast
        # transaction already spends would be chosen again (and refused as a double spend)
        return sorted((u for u in utxos if tip - u.height + 1 >= min_conf
                       and self.call("gettxout", u.txid, u.vout, True) is not None), key=lambda u: (u.txid, u.vout))

    def balance_sat(self, addresses, *, min_conf: int = 1, uow=None) -> int:
        return sum(u.amount_sat for u in self.unspent(addresses, min_conf=min_conf))


def _refusal(message: str) -> InvalidTransaction:
    """bitcoind's reject reason (``bad-txns-in-belowout``, ``txn-mempool-conflict``, ...) as a typed refusal."""
    text = f"bitcoind refused the transaction: {message}"
    if "missing-inputs" in message or "missingorspent" in message:
        return MissingInput(text)
    if "conflict" in message or "already" in message or "duplicate" in message:
        return DoubleSpend(text)
    if "in-belowout" in message:
        return OutputsExceedInputs(text)
    if "empty witness" in message.lower():
        return Unsigned(text)
    if "script-verify" in message or "signature" in message.lower():
        return BadSignature(text)
    return InvalidTransaction(text)
