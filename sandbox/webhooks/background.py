"""The dispatcher inside ``cryptocity serve``: started once per serving process (each gunicorn worker,
after the fork), it shares the work with every other process through the leases in the database."""
from __future__ import annotations

import atexit
import os

from .dispatcher import Dispatcher

ENVVAR = "CRYPTOCITY_WEBHOOK_THREADS"
DEFAULT_THREADS = 2


def start(ledger, *, threads: int | None = None) -> Dispatcher | None:
    """Start delivering on background threads (``CRYPTOCITY_WEBHOOK_THREADS``, default 2; 0: none here)."""
    threads = int(os.environ.get(ENVVAR, DEFAULT_THREADS)) if threads is None else threads
    if threads <= 0:
        return None
    dispatcher = Dispatcher(ledger).start(threads)
    # On a clean exit the threads finish their batch and release their leases (a kill leaves them to expire).
    atexit.register(dispatcher.stop, 5.0)
    return dispatcher
