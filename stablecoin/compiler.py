"""Compile the KZTE Vyper source with the ``vyper`` package, cached on disk.

The cache key is sha256(source + vyper version), so editing the contract or
upgrading the compiler invalidates it. A missing or corrupt cache entry just
means compiling again; no compiler binary is ever downloaded.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

CONTRACTS_DIR = Path(__file__).parent / "contracts"
KZTE_SOURCE = CONTRACTS_DIR / "kzte.vy"

_memo: dict[str, "CompiledContract"] = {}


@dataclass(frozen=True)
class CompiledContract:
    abi: list
    bytecode: str
    cache_key: str


def cache_dir() -> Path:
    """Where compiled artifacts live: $CRYPTOCITY_CACHE_DIR, default ~/.cache/cryptocity."""
    root = os.environ.get("CRYPTOCITY_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "cryptocity")
    return Path(root) / "vyper"


def compile_source(source: str) -> CompiledContract:
    """Return the ABI and deploy bytecode of a Vyper source, from the cache when possible."""
    import vyper

    key = hashlib.sha256((source + "\0" + vyper.__version__).encode()).hexdigest()
    if key in _memo:
        return _memo[key]
    path = cache_dir() / f"{key}.json"
    try:
        data = json.loads(path.read_text())
        compiled = CompiledContract(data["abi"], data["bytecode"], key)
    except (OSError, ValueError, KeyError, TypeError):
        out = vyper.compile_code(source, output_formats=["abi", "bytecode"])
        compiled = CompiledContract(out["abi"], out["bytecode"], key)
        try:  # the cache is an optimisation: an unwritable directory must not break compiling
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"abi": compiled.abi, "bytecode": compiled.bytecode}))
            os.replace(tmp, path)
        except OSError:
            pass
    _memo[key] = compiled
    return compiled


def compile_kzte() -> CompiledContract:
    """The KZTE token contract compiled from ``contracts/kzte.vy``."""
    return compile_source(KZTE_SOURCE.read_text())
