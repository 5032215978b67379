"""The contract compiles from source with the vyper package, and the on-disk cache is keyed and self-healing."""
from __future__ import annotations

import json

import vyper

from stablecoin import compiler


def test_compiles_from_source_and_caches_by_source_and_version(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYPTOCITY_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compiler, "_memo", {})
    source = compiler.KZTE_SOURCE.read_text()
    assert source.startswith("# pragma version ~=0.4.3") and vyper.__version__.startswith("0.4.3")
    first = compiler.compile_kzte()
    cached = tmp_path / "vyper" / f"{first.cache_key}.json"
    assert cached.exists()
    names = {item.get("name") for item in first.abi}
    assert {"transfer", "transferFrom", "approve", "mint", "burn", "configureMinter", "freeze", "pause"} <= names

    monkeypatch.setattr(compiler, "_memo", {})
    cached.write_text(json.dumps({"abi": [], "bytecode": "0xfeed"}))
    assert compiler.compile_kzte().bytecode == "0xfeed"  # served from the cache, not recompiled

    monkeypatch.setattr(compiler, "_memo", {})
    cached.write_text("{not json")
    assert compiler.compile_kzte().bytecode == first.bytecode  # a corrupt entry means compile again
    assert json.loads(cached.read_text())["bytecode"] == first.bytecode
