"""A thin web3.py wrapper around the deployed KZTE contract.

Every state-changing method sends a transaction from an account the node has
unlocked (EthereumTesterProvider's accounts, or anvil/hardhat dev accounts),
waits for the receipt and turns any revert into ``ContractRejected`` carrying
the contract's reason string ("paused", "sender frozen", ...).
"""
from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError

from .compiler import compile_kzte
from .errors import ContractRejected

_PREFIX = "execution reverted: "


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or (str(exc.args[0]) if exc.args else str(exc))
    if isinstance(text, (list, tuple)):
        text = text[0]
    text = str(text)
    if text.startswith(_PREFIX):
        text = text[len(_PREFIX):]
    return text or "reverted without a reason"


def _is_revert(exc: BaseException) -> bool:
    # eth-tester raises its own TransactionFailed; JSON-RPC nodes give ContractLogicError.
    return isinstance(exc, ContractLogicError) or type(exc).__name__ == "TransactionFailed"


class Token:
    """The KZTE (or any token deployed from kzte.vy) at ``address`` on ``w3``."""

    # A fixed gas limit skips a gas-estimation run per transaction (halves the cost on py-evm);
    # every KZTE call needs well under 100k. A refusal is then mined with status 0 and its reason
    # is recovered by replaying the call. ``gas=None`` goes back to estimating.
    DEFAULT_GAS = 300_000

    def __init__(self, w3: Web3, address: str, abi: list | None = None, *, gas: int | None = DEFAULT_GAS) -> None:
        self.w3 = w3
        self.gas = gas
        self.address = Web3.to_checksum_address(address)
        self.contract = w3.eth.contract(address=self.address, abi=abi or compile_kzte().abi)

    # -- transactions ---------------------------------------------------------

    def _send(self, fn_name: str, sender: str, *args: Any) -> Any:
        fn = getattr(self.contract.functions, fn_name)(*args)
        try:
            tx_hash = fn.transact({"from": sender} if self.gas is None else {"from": sender, "gas": self.gas})
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        except Exception as exc:  # noqa: BLE001 - re-raised unless it is a revert
            if _is_revert(exc):
                raise ContractRejected(fn_name, _reason(exc)) from None
            raise
        if receipt["status"] != 1:
            # A node that mined a failing tx: replay it as a call to learn the reason.
            try:
                fn.call({"from": sender}, block_identifier=receipt["blockNumber"] - 1)
                reason = "reverted without a reason"
            except Exception as exc:  # noqa: BLE001
                reason = _reason(exc)
            raise ContractRejected(fn_name, reason)
        return receipt

    def transfer(self, sender: str, to: str, amount_minor: int):
        return self._send("transfer", sender, to, amount_minor)

    def approve(self, sender: str, spender: str, amount_minor: int):
        return self._send("approve", sender, spender, amount_minor)

    def transfer_from(self, spender: str, from_: str, to: str, amount_minor: int):
        return self._send("transferFrom", spender, from_, to, amount_minor)

    def mint(self, minter: str, to: str, amount_minor: int):
        return self._send("mint", minter, to, amount_minor)

    def burn(self, minter: str, amount_minor: int):
        return self._send("burn", minter, amount_minor)

    def configure_minter(self, master_minter: str, minter: str, allowance_minor: int):
        """Sent by the master minter (the deployer until ``set_master_minter``)."""
        return self._send("configureMinter", master_minter, minter, allowance_minor)

    def remove_minter(self, master_minter: str, minter: str):
        return self._send("removeMinter", master_minter, minter)

    def set_master_minter(self, owner: str, master_minter: str):
        return self._send("updateMasterMinter", owner, master_minter)

    def transfer_ownership(self, owner: str, new_owner: str):
        return self._send("transferOwnership", owner, new_owner)

    def set_pauser(self, owner: str, pauser: str):
        return self._send("setPauser", owner, pauser)

    def set_regulator(self, owner: str, regulator: str):
        return self._send("setRegulator", owner, regulator)

    def pause(self, pauser: str):
        return self._send("pause", pauser)

    def unpause(self, pauser: str):
        return self._send("unpause", pauser)

    def freeze(self, regulator: str, account: str):
        return self._send("freeze", regulator, account)

    def unfreeze(self, regulator: str, account: str):
        return self._send("unfreeze", regulator, account)

    # -- views ------------------------------------------------------------------

    def _view(self, fn_name: str, *args: Any) -> Any:
        return getattr(self.contract.functions, fn_name)(*args).call()

    def name(self) -> str: return self._view("name")
    def symbol(self) -> str: return self._view("symbol")
    def decimals(self) -> int: return self._view("decimals")
    def total_supply(self) -> int: return self._view("totalSupply")
    def balance_of(self, account: str) -> int: return self._view("balanceOf", account)
    def allowance(self, owner: str, spender: str) -> int: return self._view("allowance", owner, spender)
    def owner(self) -> str: return self._view("owner")
    def master_minter(self) -> str: return self._view("masterMinter")
    def pauser(self) -> str: return self._view("pauser")
    def regulator(self) -> str: return self._view("regulator")
    def paused(self) -> bool: return self._view("paused")
    def is_minter(self, account: str) -> bool: return self._view("isMinter", account)
    def minter_allowance(self, account: str) -> int: return self._view("minterAllowance", account)
    def is_frozen(self, account: str) -> bool: return self._view("isFrozen", account)

    def events(self, event_name: str, from_block: int = 0) -> list[dict]:
        """Decoded logs of one event type, oldest first (``args`` holds the fields)."""
        return list(getattr(self.contract.events, event_name).get_logs(from_block=from_block))


def deploy(w3: Web3, owner: str, name: str = "Tenge stablecoin", symbol: str = "KZTE",
           decimals: int = 2) -> Token:
    """Deploy kzte.vy from ``owner`` (who also becomes master minter, pauser and regulator) and return its
    wrapper."""
    compiled = compile_kzte()
    factory = w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    try:
        tx_hash = factory.constructor(name, symbol, decimals).transact({"from": owner})
    except Exception as exc:  # noqa: BLE001
        if _is_revert(exc):
            raise ContractRejected("deploy", _reason(exc)) from None
        raise
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise ContractRejected("deploy", "the contract could not be deployed")
    return Token(w3, receipt["contractAddress"], compiled.abi)
