"""EVM adapter over web3.py v8: the embedded default is ``EthereumTesterProvider`` (py-evm in
process); any JSON-RPC node (anvil, hardhat, geth --dev) by URL.

Units: the chain counts wei, the ledger counts gwei (wei does not fit 64 bits). Conversion
happens here and only here; less than 1 gwei is dust and refused. Transactions are legacy
(``gasPrice``) with a whole-gwei gas price so that every fee is a whole number of gwei.
"""
from __future__ import annotations

from dataclasses import dataclass

from eth_utils import to_checksum_address
from web3 import Web3

from .errors import ChainError, DustAmount, InsufficientOnChainFunds
from .keys import DerivedKey

WEI_PER_GWEI = 10**9
ETH_TRANSFER_GAS = 21_000
TOKEN_TRANSFER_GAS_LIMIT = 120_000
MAX_BLOCK_RANGE = 2_000  # one scan never reads more blocks than this
TRANSFER_TOPIC = Web3.keccak(text="Transfer(address,address,uint256)")
ERC20_ABI = [
    {"type": "function", "name": "transfer", "stateMutability": "nonpayable",
     "inputs": [{"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}],
     "outputs": [{"name": "", "type": "bool"}]},
    {"type": "function", "name": "balanceOf", "stateMutability": "view",
     "inputs": [{"name": "owner", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "decimals", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint8"}]},
    {"type": "event", "name": "Transfer", "anonymous": False,
     "inputs": [{"name": "sender", "type": "address", "indexed": True},
                {"name": "receiver", "type": "address", "indexed": True},
                {"name": "value", "type": "uint256", "indexed": False}]},
]


def wei_to_gwei(wei: int) -> int:
    """Whole gwei in ``wei`` (the sub-gwei remainder stays on chain); less than 1 gwei is refused as dust."""
    if not isinstance(wei, int) or wei < WEI_PER_GWEI:
        raise DustAmount(f"{wei} wei is less than 1 gwei, the smallest amount the ledger can hold",
                         amount_wei=int(wei) if isinstance(wei, int) else str(wei))
    return wei // WEI_PER_GWEI


def gwei_to_wei(gwei: int) -> int:
    return int(gwei) * WEI_PER_GWEI


def token_to_minor(raw: int, token_decimals: int, ledger_decimals: int) -> int:
    """Token base units to ledger minor units (floor); below one minor unit is dust."""
    if token_decimals <= ledger_decimals:
        return raw * 10 ** (ledger_decimals - token_decimals)
    unit = 10 ** (token_decimals - ledger_decimals)
    if raw < unit:
        raise DustAmount(f"{raw} token base units is less than one ledger unit", amount_raw=raw)
    return raw // unit


def minor_to_token(amount_minor: int, token_decimals: int, ledger_decimals: int) -> int:
    if token_decimals >= ledger_decimals:
        return amount_minor * 10 ** (token_decimals - ledger_decimals)
    return amount_minor // 10 ** (ledger_decimals - token_decimals)


@dataclass(frozen=True, slots=True)
class ChainTransfer:
    """One incoming transfer: ``index`` is -1 for native ETH, the log index for a token Transfer."""

    txid: str
    index: int
    to: str
    amount_raw: int  # wei or token base units
    height: int


@dataclass(frozen=True, slots=True)
class Sent:
    txid: str
    fee_gwei: int


class EvmChain:
    """One EVM chain. ``EvmChain()`` is the embedded eth-tester chain; ``EvmChain(url=...)`` any node."""

    chain = "ethereum"

    def __init__(self, w3: Web3 | None = None, *, url: str | None = None) -> None:
        if w3 is None:
            if url:
                w3 = Web3(Web3.HTTPProvider(url))
            else:
                from web3 import EthereumTesterProvider
                w3 = Web3(EthereumTesterProvider())
        self.w3 = w3
        self._tester = getattr(w3.provider, "ethereum_tester", None)

    def __repr__(self) -> str:
        return "EvmChain(embedded)" if self._tester is not None else "EvmChain(rpc)"

    # -- reads ----------------------------------------------------------------------------
    def height(self) -> int:
        return int(self.w3.eth.block_number)

    def confirmations(self, txid: str) -> int | None:
        try:
            receipt = self.w3.eth.get_transaction_receipt(txid)
        except Exception:  # noqa: BLE001 - web3 raises TransactionNotFound
            return None
        return self.height() - int(receipt["blockNumber"]) + 1

    def balance_wei(self, address: str) -> int:
        return int(self.w3.eth.get_balance(to_checksum_address(address)))

    def token(self, token_address: str):
        return self.w3.eth.contract(address=to_checksum_address(token_address), abi=ERC20_ABI)

    def token_balance(self, token_address: str, address: str) -> int:
        return int(self.token(token_address).functions.balanceOf(to_checksum_address(address)).call())

    def token_decimals(self, token_address: str) -> int:
        return int(self.token(token_address).functions.decimals().call())

    def gas_price_gwei(self) -> int:
        """A whole-gwei gas price that clears the current base fee (+1 gwei tip)."""
        base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        return -(-base_fee // WEI_PER_GWEI) + 1

    def eth_transfers(self, from_height: int, to_height: int, addresses, *, exclude_from=()) -> list[ChainTransfer]:
        """Successful plain ETH payments to ``addresses`` in blocks ``from_height..to_height``,
        except those sent by ``exclude_from`` (the custodian's own gas top-ups are not deposits)."""
        wanted = {a.lower() for a in addresses}
        excluded = {a.lower() for a in exclude_from}
        found = []
        to_height = min(to_height, self.height(), from_height + MAX_BLOCK_RANGE - 1)
        for height in range(max(from_height, 0), to_height + 1):
            block = self.w3.eth.get_block(height, full_transactions=True)
            for tx in block["transactions"]:
                to = tx.get("to")
                if to and to.lower() in wanted and int(tx["value"]) > 0 and tx["from"].lower() not in excluded:
                    if int(self.w3.eth.get_transaction_receipt(tx["hash"])["status"]) == 1:
                        found.append(ChainTransfer(tx["hash"].to_0x_hex(), -1, to, int(tx["value"]), height))
        return found

    def token_transfers(self, token_address: str, from_height: int, to_height: int, addresses) -> list[ChainTransfer]:
        """ERC-20 ``Transfer`` logs of ``token_address`` to ``addresses`` in the block range."""
        wanted = {a.lower() for a in addresses}
        to_height = min(to_height, self.height(), from_height + MAX_BLOCK_RANGE - 1)
        if to_height < from_height:
            return []
        logs = self.w3.eth.get_logs({"fromBlock": from_height, "toBlock": to_height,
                                     "address": to_checksum_address(token_address),
                                     "topics": [TRANSFER_TOPIC.to_0x_hex()]})
        found = []
        for log in logs:
            to = to_checksum_address("0x" + bytes(log["topics"][2])[-20:].hex())
            if to.lower() in wanted:
                found.append(ChainTransfer(log["transactionHash"].to_0x_hex(), int(log["logIndex"]), to,
                                           int.from_bytes(bytes(log["data"]), "big"), int(log["blockNumber"])))
        return found

    # -- writes ---------------------------------------------------------------------------
    def mine(self, blocks: int = 1) -> None:
        if self._tester is not None:
            self._tester.mine_blocks(blocks)
        else:
            for _ in range(blocks):
                self.w3.provider.make_request("evm_mine", [])

    def faucet(self, address: str, amount_gwei: int) -> str:
        """Pay ``amount_gwei`` to ``address`` from the node's first prefunded account (sandbox deposits)."""
        if amount_gwei < 1:
            raise DustAmount("a faucet payment must be at least 1 gwei")
        funder = self.w3.eth.accounts[0]
        txid = self.w3.eth.send_transaction({"from": funder, "to": to_checksum_address(address),
                                             "value": gwei_to_wei(amount_gwei), "gas": ETH_TRANSFER_GAS,
                                             "gasPrice": gwei_to_wei(self.gas_price_gwei())})
        return txid.to_0x_hex()

    def _send(self, key: DerivedKey, tx: dict) -> Sent:
        price_gwei = self.gas_price_gwei()
        tx = {**tx, "from": key.address, "nonce": self.w3.eth.get_transaction_count(key.address, "pending"),
              "gasPrice": gwei_to_wei(price_gwei), "chainId": int(self.w3.eth.chain_id)}
        if self.balance_wei(key.address) < tx.get("value", 0) + tx["gas"] * tx["gasPrice"]:
            raise InsufficientOnChainFunds(f"{key.address} cannot pay this transfer and its gas",
                                           address=key.address)
        signed = self.w3.eth.account.sign_transaction(tx, key.private_key())
        try:
            txid = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            receipt = self.w3.eth.wait_for_transaction_receipt(txid, timeout=120)
        except Exception as error:  # noqa: BLE001 - node refusals come in many types
            raise ChainError(f"the node refused the transaction: {error}") from None
        if int(receipt["status"]) != 1:
            raise ChainError("the transaction reverted on chain", txid=txid.to_0x_hex())
        fee_wei = int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice") or tx["gasPrice"])
        return Sent(txid.to_0x_hex(), fee_wei // WEI_PER_GWEI)

    def send_eth(self, key: DerivedKey, to: str, amount_gwei: int) -> Sent:
        """Sign with ``key`` and send ``amount_gwei`` of ETH to ``to``; returns the txid and the gas fee."""
        return self._send(key, {"to": to_checksum_address(to), "value": gwei_to_wei(amount_gwei),
                                "gas": ETH_TRANSFER_GAS})

    def send_token(self, key: DerivedKey, token_address: str, to: str, amount_raw: int) -> Sent:
        """Sign with ``key`` an ERC-20 ``transfer(to, amount_raw)``; gas is paid in ETH by ``key``."""
        data = self.token(token_address).encode_abi("transfer", args=[to_checksum_address(to), amount_raw])
        return self._send(key, {"to": to_checksum_address(token_address), "value": 0, "data": data,
                                "gas": TOKEN_TRANSFER_GAS_LIMIT})

    def max_fee_gwei(self, gas: int) -> int:
        return gas * self.gas_price_gwei()
