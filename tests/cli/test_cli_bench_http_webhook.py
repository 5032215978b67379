"""``cryptocity bench http --webhook``: the load runs with one webhook endpoint registered, and every event
reaches the bench's loopback receiver, signature verified, once."""
from __future__ import annotations

import re

import pytest

from test_cli_bench_http import check_report, row, run

pytestmark = pytest.mark.slow


def test_bench_http_with_a_webhook_endpoint_delivers_every_event_once(tmp_path):
    result = run(["bench", "http", "--duration", "2", "--requests", "40", "--concurrency", "4", "--webhook"], tmp_path)
    check_report(result, 40)
    events, unique, duplicates = (int(n.replace(",", "")) for n in
                                  re.findall(r"[\d,]+", row(result.stdout, "webhook deliveries")))
    assert events >= 40 and unique == events and duplicates == 0   # each purchase's events, each once
    assert row(result.stdout, "webhook signatures that failed") == "0"
