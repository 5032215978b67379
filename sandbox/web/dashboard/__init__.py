"""The dashboard: server-rendered pages for a workshop projector (no CDN; one small vendored script, the
live event feed).

    core.py          blueprint ``dashboard``, sign-in (session key or open operator mode), CSRF, filters
    ledger_pages.py  overview (plus participants, card volumes, audit on a city), ledger explorer, accounts
    pos.py           POS terminal: pay, see the JIT crypto sale and balances move; capture/reverse/refund
    wallet.py        a customer's balances, card, controls, funding order and statement
    orderbook.py     depth, recent trades, 24 h stats and an SVG candle chart per instrument
    mining.py        farms, power, levy accrued and paid, coins mined and sold, detection cases
    regulator.py     licences (suspend/reinstate), AML flags, declines, KZTE reserves, report downloads
    customers.py     onboard a customer with deposits, faucet top-ups (operator only)
    clock.py         advance the sandbox clock by an hour, a day or a week (operator only)
    (charts)         depth, candles, reserves, declines, hourly volume, money path: sandbox/charts/
    workshop.py      the participant sheet of a `cryptocity workshop` server (operator only)
    live.py          the live event feed's stream (EventSource, static/live-feed.js) and the webhooks page
    city_data.py     read-only look-ups over the city's tables that the facade has no verb for

Pages that need the CryptoCity facade explain how to start one when the app runs on a bare ledger.
"""
from . import clock, customers, ledger_pages, live, mining, orderbook, pos, regulator, wallet, workshop  # noqa: F401 - each registers its routes
from .core import bp

__all__ = ["bp"]
