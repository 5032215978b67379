"""The wallet's tables (SQLAlchemy Core). ``migrations/versions/wallet_0001_initial.py`` creates them; the
regtest chain's (``btc_*``) come from ``wallet_0002_chain.py``."""
from __future__ import annotations

from sqlalchemy import false
from sqlalchemy import (
    BigInteger,
    Boolean,
    PrimaryKeyConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ledger.types import Id, Timestamp

metadata = MetaData()

# Every address the custodian controls: customer deposit addresses and the hot/cold wallets.
addresses = Table(
    "wallet_addresses", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("chain", String(16), nullable=False),
    Column("owner", String(120), nullable=False),
    Column("role", String(16), nullable=False),
    Column("derivation_index", Integer, nullable=False),
    Column("address", String(100), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("chain", "address", name="uq_wallet_addresses_address"),
    UniqueConstraint("chain", "role", "derivation_index", name="uq_wallet_addresses_path"),
    UniqueConstraint("chain", "role", "owner", name="uq_wallet_addresses_owner"),
)

# One row per on-chain output (Bitcoin vout) or log (ERC-20 Transfer; -1 = native ETH value):
# the unique constraint is what makes a deposit credit exactly once, whatever the scanner does.
deposits = Table(
    "wallet_deposits", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("chain", String(16), nullable=False),
    Column("txid", String(80), nullable=False),
    Column("output_index", Integer, nullable=False),
    Column("asset", String(16), nullable=False),
    Column("address", String(100), nullable=False),
    Column("owner", String(120), nullable=False),
    Column("amount_raw", String(80), nullable=False),  # chain units (sats, wei, token base units)
    Column("amount_minor", BigInteger, nullable=False),
    Column("block_height", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # pending | credited | dust
    Column("transfer_id", BigInteger),
    Column("seen_at", Timestamp, nullable=False),
    Column("credited_at", Timestamp),
    UniqueConstraint("chain", "txid", "output_index", name="uq_wallet_deposits_output"),
)

scan_cursors = Table(
    "wallet_scan_cursors", metadata,
    Column("scanner", String(40), primary_key=True),
    Column("next_height", BigInteger, nullable=False),
)

withdrawals = Table(
    "wallet_withdrawals", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("owner", String(120), nullable=False),
    Column("asset", String(16), nullable=False),
    Column("chain", String(16), nullable=False),
    Column("address", String(100), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # pending_cold | broadcast | confirmed
    Column("txid", String(80)),
    Column("hold_id", BigInteger),
    Column("travel_rule", Text),  # JSON of the FATF R.16 payload, when one was required or given
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

whitelist = Table(
    "wallet_whitelist", metadata,
    Column("owner", String(120), primary_key=True),
    Column("chain", String(16), primary_key=True),
    Column("address", String(100), primary_key=True),
)

blocklist = Table(
    "wallet_blocklist", metadata,
    Column("chain", String(16), primary_key=True),
    Column("address", String(100), primary_key=True),
    Column("reason", String(200), nullable=False),
)

# The contracts deployed once on a shared EVM node (migration wallet_0003): every process on the database
# finds the same KZTE and test-USDT contracts by chain id and name instead of deploying its own.
evm_contracts = Table(
    "wallet_evm_contracts", metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("name", String(16), primary_key=True),
    Column("address", String(42), nullable=False),
    Column("deployed_at", Timestamp, nullable=False),
)

# The scanner's and the dispatcher's look-ups by status (migration wallet_0001).
Index("ix_wallet_deposits_status", deposits.c.status, deposits.c.chain)
Index("ix_wallet_withdrawals_status", withdrawals.c.status, withdrawals.c.id)

# The embedded Bitcoin regtest chain (wallet/bitcoin/node.py), shared by every process on the database.
# One row per chain: its tip and counters; writers lock it (with the advisory lock "wallet:btc-chain").
btc_chain = Table(
    "wallet_btc_chain", metadata,
    Column("name", String(16), primary_key=True),
    Column("seed", String(64), nullable=False),
    Column("tip_height", BigInteger, nullable=False),
    Column("tip_hash", String(64), nullable=False),
    Column("faucet_count", BigInteger, nullable=False),
    Column("tx_count", BigInteger, nullable=False),  # order of acceptance into the mempool
)

btc_blocks = Table(
    "wallet_btc_blocks", metadata,
    Column("height", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("prev_hash", String(64), nullable=False),
    Column("time", Timestamp, nullable=False),
    Column("raw", Text, nullable=False),  # the serialized block (header and transactions), hex
)

btc_transactions = Table(
    "wallet_btc_transactions", metadata,
    Column("txid", String(64), primary_key=True),
    Column("raw", Text, nullable=False),  # hex, witness included
    Column("block_height", BigInteger),   # NULL while in the mempool
    Column("position", BigInteger, nullable=False),
    Column("fee_sat", BigInteger, nullable=False),
    Column("coinbase", Boolean, nullable=False, server_default=false()),   # a block reward (mining)
)

btc_outputs = Table(
    "wallet_btc_outputs", metadata,
    Column("txid", String(64), nullable=False),
    Column("vout", Integer, nullable=False),
    Column("amount_sat", BigInteger, nullable=False),
    Column("script", String(200), nullable=False),  # scriptPubKey, hex
    Column("address", String(100)),                  # P2WPKH outputs only
    Column("spent_by", String(64)),                  # NULL: unspent (the UTXO set, mempool included)
    PrimaryKeyConstraint("txid", "vout", name="pk_wallet_btc_outputs"),
)

Index("ix_wallet_btc_transactions_block", btc_transactions.c.block_height, btc_transactions.c.position)
Index("ix_wallet_btc_outputs_address", btc_outputs.c.address, btc_outputs.c.spent_by)
