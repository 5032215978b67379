"""Webhooks: the city's events POSTed to a developer's app, signed per Standard Webhooks.

* ``endpoints`` — create, list, delete, enable; the delivery log and manual resend (service functions
  that take the caller's unit of work);
* ``dispatcher`` — delivers at least once, in order per endpoint, with retries on ``schedule``, leases in
  the database so that any number of processes share the work;
* ``signing`` — the ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature`` headers;
* ``listen`` — ``cryptocity listen``: follow the event stream and forward signed events to a local app.

Own tables (``tables``, migration ``sandbox_webhooks_0001``), own SQL (``queries``).
"""
from __future__ import annotations

from .dispatcher import Dispatcher, Stats, matches  # noqa: F401
