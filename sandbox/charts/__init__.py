"""Charts for the dashboard and the regulator report: server-rendered SVG from pygal (data charts) and
drawsvg (the money-path flow of one authorization), deterministic — the same data gives the same bytes.

``series`` turns stored history into the numbers a chart plots (pure functions, unit-tested);
``history`` reads that history from a city (ledger entries, authorizations), read-only and bounded;
``svg`` and ``money_path`` draw; ``report_charts`` gathers the report's charts.
"""
