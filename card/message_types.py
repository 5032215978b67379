"""ISO 8583 message types: which network message each line of a purchase's history answers.

The sandbox speaks JSON, not ISO 8583 bitmaps, but every event it records corresponds to one of the
messages a card network sends an issuer (and the issuer's response), so statements can say which:

* ``0100`` authorization request (``0110`` response): a purchase approved or declined, and an
  incremental authorization (the same message, for more, on the same purchase);
* ``0120`` authorization advice (``0130``): the network approved in stand-in and tells the issuer;
* ``0220`` financial advice (``0230``): a completion — a capture of an authorization, or a force post
  (a completion with no authorization before it);
* ``0200`` financial request (``0210``): a credit to the card — a refund of a purchase, or a refund with
  no purchase;
* ``0400`` reversal request (``0410``): the merchant gives back all or part of an authorization.

Events the issuer records on its own (a hold that expired or was released, the programme's credit line
lent for an advice, crypto bought back for a refund) answer no message: ``None``.
"""
from __future__ import annotations

# event kind -> the request's MTI (its response is the same with the function digit one up: 0100 -> 0110)
MESSAGES: dict[str, str] = {
    "authorized": "0100", "declined": "0100", "incremented": "0100", "increment_denied": "0100",
    "advice_booked": "0120",
    "captured": "0220", "force_posted": "0220",
    "refunded": "0200",   # a refund of a purchase, and a refund with no purchase
    "reversed": "0400",
}


def message_type(event_kind: str) -> str | None:
    """The ISO 8583 message type of the network message behind an event of ``event_kind`` (the request's:
    ``0100``, ``0120``, ``0200``, ``0220``, ``0400``), or None for an event the issuer records on its own."""
    return MESSAGES.get(event_kind)
