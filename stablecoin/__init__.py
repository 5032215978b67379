"""stablecoin — KZTE, the tenge-backed stablecoin: the Vyper token contract (compiled from source),
the issuer (mint against tenge in the reserve, burn on redemption) and the reserve attestation.

    from stablecoin import deploy, Issuer, attest, install_check
    token = deploy(w3, owner)                          # name "Tenge stablecoin", symbol KZTE, 2 decimals
    token.configure_minter(owner, minter, 10**15)
    issuer = Issuer(token, minter=minter, custodian=custodian, owner=owner)
    install_check(ledger, issuer)                      # ledger.verify() now proves supply == liability <= reserve
    with ledger.unit_of_work() as uow:
        issuer.mint(uow, "aigerim", None, 100_000_00, "buy-1", pay_from_account_id=bank.id)
        uow.commit()
"""
from .attestation import attest, install_check
from .compiler import compile_kzte
from .errors import ContractRejected, InsufficientKZTE, InvalidRequest, ReserveShortfall, StablecoinError
from .issuer import ISSUANCE_CODE, RESERVE_CODE, Issuer, Operation, customer_code
from .token import Token, deploy

__all__ = ["attest", "install_check", "compile_kzte", "ContractRejected", "InsufficientKZTE", "InvalidRequest",
           "ReserveShortfall", "StablecoinError", "ISSUANCE_CODE", "RESERVE_CODE", "Issuer", "Operation",
           "customer_code", "Token", "deploy"]
