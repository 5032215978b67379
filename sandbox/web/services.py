"""What the web layer runs on: the CryptoCity facade (``cryptocity serve``) or a bare ledger (tests)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from ledger import Ledger


class CityClock:
    """The sandbox clock as the web layer sees it when it runs on a city: ``now()`` is the database's
    time (another worker may have advanced it); ``advance`` goes through the city, so holds expire,
    market makers requote and the audit log records it."""

    def __init__(self, city: Any) -> None:
        self.city = city

    def now(self):
        return self.city.now()

    def advance(self, delta):
        from datetime import datetime
        return datetime.fromisoformat(self.city.advance(delta)["now"])


@dataclass
class WebServices:
    """``ledger`` and its ``clock``; ``city`` is the facade, if any (then ``clock`` is the city's)."""

    ledger: Ledger
    city: Any = None

    @property
    def clock(self):
        return CityClock(self.city) if self.city is not None else self.ledger.clock

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
