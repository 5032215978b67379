"""TEST-ONLY fault injection, so the property runs can prove they catch a broken invariant.

``CRYPTOCITY_FAULT=skip_conversion_fee:USDT`` makes the card's JIT funding forget to move the conversion
fee to the programme's fee account when the fee travels with a USDT sale (the customer keeps it). The
ledger still balances; the property "every reported conversion fee reaches the fee account" breaks.
Never set it outside tests: it is read in exactly one place (``sandbox/funding.py``).
"""
from __future__ import annotations

import os

ENV = "CRYPTOCITY_FAULT"


def skips_conversion_fee(asset: str) -> bool:
    """True when the test-only fault ``skip_conversion_fee:<asset>`` is switched on for ``asset``."""
    kind, _, arg = os.environ.get(ENV, "").partition(":")
    return kind == "skip_conversion_fee" and arg == asset
