"""The card package's tables (its own MetaData; money stays in the ledger, these say what it was for)."""
from __future__ import annotations

import sqlalchemy as sa

from ledger.types import Timestamp

metadata = sa.MetaData()

bank_accounts = sa.Table(
    "card_bank_accounts", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.String(120), nullable=False, unique=True),
    sa.Column("iban", sa.String(34), nullable=False, unique=True),
    sa.Column("ledger_account_id", sa.BigInteger, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

cards = sa.Table(
    "card_cards", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("pan", sa.String(19), nullable=False, unique=True),
    sa.Column("expiry_month", sa.SmallInteger, nullable=False),
    sa.Column("expiry_year", sa.SmallInteger, nullable=False),
    sa.Column("cvv_salt", sa.String(64), nullable=False),
    sa.Column("cvv_hash", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("cardholder_id", sa.String(120), nullable=False, index=True),
    sa.Column("bank_account_id", sa.BigInteger, nullable=False),
    sa.Column("wallet_owner", sa.String(120), nullable=False),
    sa.Column("funding", sa.JSON, nullable=False),
    sa.Column("controls", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

card_events = sa.Table(
    "card_card_events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("card_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("note", sa.String(200), nullable=False),
)

merchants = sa.Table(
    "card_merchants", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("mcc", sa.String(4), nullable=False),
    sa.Column("in_zone", sa.Boolean, nullable=False),
    sa.Column("settlement_account_id", sa.BigInteger, nullable=False),
    sa.Column("mdr_bps", sa.Integer, nullable=False),
)

authorizations = sa.Table(
    "card_authorizations", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    # None when the card number was invalid; looked up through ix_card_authorizations_card_time
    sa.Column("card_id", sa.BigInteger, nullable=True),
    sa.Column("cardholder_id", sa.String(120), nullable=True, index=True),
    sa.Column("merchant_id", sa.String(64), nullable=True),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("response_code", sa.String(2), nullable=False),
    sa.Column("reason", sa.String(300), nullable=False),
    # a decline's reason with its per-purchase values as {placeholders}; NULL for approvals and rows before card_0003
    sa.Column("reason_template", sa.String(300), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # approved captured reversed expired refunded declined
    sa.Column("auth_code", sa.String(6), nullable=True),
    sa.Column("hold_id", sa.BigInteger, nullable=True),
    sa.Column("shortfall_minor", sa.BigInteger, nullable=False),
    sa.Column("conversion_fee_minor", sa.BigInteger, nullable=False),
    sa.Column("captured_minor", sa.BigInteger, nullable=False),
    sa.Column("reversed_minor", sa.BigInteger, nullable=False),
    sa.Column("refunded_minor", sa.BigInteger, nullable=False),
    # the MDR taken at clearing; a refund returns it in proportion (card_0002)
    sa.Column("merchant_fee_minor", sa.BigInteger, nullable=False, server_default="0"),
    # what the message was (card_0007): purchase, atm_withdrawal or p2p (authorized, then cleared; card/kinds.py),
    # force_post (cleared without an authorization) or unlinked_refund (a refund with no purchase)
    sa.Column("kind", sa.String(16), nullable=False, server_default="purchase"),
    sa.Column("flags", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False, index=True),
    # How the programme's decision app decided (card/decisions.py: webhook_approved, webhook_declined,
    # webhook_timeout, webhook_error); NULL when no app was asked (card_0006)
    sa.Column("decision", sa.String(32), nullable=True),
    # The amount asked for when less was approved (10 partial approval) or an app decided; else NULL (card_0006)
    sa.Column("requested_minor", sa.BigInteger, nullable=True),
    sa.Index("ix_card_authorizations_card_time", "card_id", "created_at"),
)

funding_legs = sa.Table(
    "card_funding_legs", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("authorization_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("asset", sa.String(16), nullable=False),
    sa.Column("sold_qty_minor", sa.BigInteger, nullable=False),
    sa.Column("proceeds_minor", sa.BigInteger, nullable=False),
    sa.Column("avg_price_minor", sa.BigInteger, nullable=False),   # KZT minor units per whole unit
    sa.Column("fee_minor", sa.BigInteger, nullable=False),
    sa.Column("slippage_bps", sa.Integer, nullable=False),
)

auth_events = sa.Table(
    "card_auth_events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("authorization_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # authorized declined captured reversed refunded expired
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("key", sa.String(255), nullable=True, unique=True),
    sa.Column("note", sa.String(300), nullable=False),
)

# Spend counters per card and period ("d:2025-06-01", "m:2025-06"): O(1) spend-control checks.
usage = sa.Table(
    "card_usage", metadata,
    sa.Column("card_id", sa.BigInteger, primary_key=True),
    sa.Column("period", sa.String(12), primary_key=True),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)

# The card programme's secret (card_0005): card numbers and CVVs are derived from it, never guessed from
# another card. One row, ``programme``: hex text.
secrets = sa.Table(
    "card_secrets", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
)

# Failed card-not-present verifications (wrong expiry or CVV2; card_0005): FAILURE_LIMIT of them within
# FAILURE_WINDOW freeze the card; ``froze_card`` marks the ones a freeze already counted.
verification_failures = sa.Table(
    "card_verification_failures", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("card_id", sa.BigInteger, nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # cvv or expiry
    sa.Column("froze_card", sa.Boolean, nullable=False),
    sa.Index("ix_card_verification_failures_card_time", "card_id", "at"),
)
