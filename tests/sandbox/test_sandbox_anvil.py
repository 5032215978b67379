"""The shared EVM node's process: ``cryptocity serve --anvil`` supervises anvil — restarted from its state file
when it dies, stopped (with a last dump) when the server stops. anvil comes from ``make chains``: without it
these tests are skipped, and under CI=true they fail."""
from __future__ import annotations

import os
import time

import pytest

from sandbox.anvil import AnvilNode, anvil_binary, rpc

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def anvil_path():
    found = anvil_binary()
    if found is None:
        if CI:
            pytest.fail("anvil is not installed: `make chains` (CI runs it through .ci/run)")
        pytest.skip("anvil is not installed: run `make chains`")
    return found


def test_a_supervised_node_that_dies_comes_back_from_its_state_file(tmp_path, anvil_path):
    state = tmp_path / "evm-state.json"
    node = AnvilNode(state_path=state, state_interval_s=1, binary=anvil_path).start().supervise(poll_s=0.2)
    try:
        rpc(node.url, "anvil_mine", ["0x5"])
        time.sleep(2.5)   # more than one state interval: the five blocks are in the file
        node.kill()       # a crash: no last dump
        deadline = time.monotonic() + 30
        while node.restarts == 0 or node.process is None:
            assert time.monotonic() < deadline, "the supervisor did not restart anvil"
            time.sleep(0.1)
        while True:
            try:
                assert int(rpc(node.url, "eth_blockNumber"), 16) == 5
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        node.stop()
    assert node.process is None and state.exists()


def test_without_anvil_the_node_is_refused_in_words(monkeypatch, tmp_path):
    from sandbox.anvil import AnvilMissing
    monkeypatch.setenv("CRYPTOCITY_ANVIL", str(tmp_path / "no-such-anvil"))
    assert anvil_binary() is None
    with pytest.raises(AnvilMissing, match="make chains"):
        AnvilNode(state_path=None)
