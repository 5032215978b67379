"""What the web layer runs on: the ledger now, the CryptoCity facade when it lands."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from ledger import Ledger


@dataclass
class WebServices:
    """``ledger`` and its ``clock`` (a ManualClock the operator may advance); ``city`` is the facade, if any."""

    ledger: Ledger
    city: Any = None

    @property
    def clock(self):
        return self.ledger.clock

    @classmethod
    def wrap(cls, ledger_or_services: Any) -> "WebServices":
        """Accept a ``Ledger``, a ``WebServices``, or any facade exposing ``.ledger``."""
        if isinstance(ledger_or_services, WebServices):
            return ledger_or_services
        if isinstance(ledger_or_services, Ledger):
            return cls(ledger_or_services)
        ledger = getattr(ledger_or_services, "ledger", None)
        if isinstance(ledger, Ledger):
            return cls(ledger, city=ledger_or_services)
        raise TypeError("create_app needs a ledger.Ledger or an object with a .ledger attribute")


def services() -> WebServices:
    return current_app.extensions["cryptocity"]
