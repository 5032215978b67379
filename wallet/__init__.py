"""wallet — custodial wallets of the AIFC exchange (see docs/wallet.md and docs/architecture.md).

    keys.py          master seed (never shown) and BIP84/BIP44 HD derivation with bip-utils
    addresses.py     per-chain validation: bech32 + network (BTC), EIP-55 (ETH)
    bitcoin/         P2WPKH transactions, the embedded regtest node, a bitcoind RPC adapter
    evm.py           web3.py adapter (EthereumTesterProvider or a JSON-RPC URL), wei <-> gwei
    custodian.py     deposit addresses, exactly-once deposit crediting, withdrawals, hot/cold
    travel_rule.py   FATF R.16 originator/beneficiary data above a threshold
    reserves.py      Merkle sum tree of liabilities, inclusion proofs
    errors.py        typed refusals (all ``ledger.errors.LedgerError``)

Imports are per module (``from wallet.custodian import Custodian``) so that ``import wallet``
stays cheap.
"""
