"""One error family: every refusal in cryptocity derives from ``ledger.errors.DomainError``, its code is a
constant (a class's own ``code`` or a module-level name, never a string typed at the raise site), and the
web layer turns any of them into a problem without knowing which package raised it."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

from ledger.errors import DomainError

PACKAGES = ("ledger", "wallet", "stablecoin", "exchange", "card", "mining", "sandbox")
# Exceptions that are not refusals of the domain: plumbing of a parser, a form, the CLI and the HTTP layer.
NOT_REFUSALS = {"sandbox.yamlsafe.YamlError", "sandbox.cli_support.CliProblem", "sandbox.web.problems.Problem",
                "sandbox.web.dashboard.pos.FormError", "ledger.db.DatabaseUrlError",
                # a test server that would not start, a pytest item's failed expectations, a property run's
                # finding: not refusals
                "sandbox.scenarios.live.LiveCityError", "sandbox.scenarios.pytest_plugin.ScenarioFailed",
                "sandbox.fuzz.machine.InvariantBroken",
                # a JSON-RPC error answer of the city's bitcoind-compatible server: the protocol's, not a refusal
                "sandbox.btc_rpc.RpcFault"}
CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def _sources():
    for package in PACKAGES:
        root = Path(importlib.util.find_spec(package).submodule_search_locations[0])
        for path in sorted(root.rglob("*.py")):
            if "migrations" in path.parts or "bench" in path.parts:
                continue
            parts = (package,) + path.relative_to(root).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def test_no_code_is_typed_at_a_raise_site():
    typed = []
    for name, path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                for kw in node.exc.keywords:
                    if kw.arg == "code" and isinstance(kw.value, (ast.Constant, ast.JoinedStr)):
                        typed.append(f"{name}:{node.lineno}")
    assert typed == []


def test_every_refusal_derives_from_domain_error_with_a_constant_code():
    strays, bad_codes = [], []
    for name, _path in _sources():
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional extra (a real bitcoind's RPC, …) that this machine lacks
            continue
        for cls_name, cls in vars(module).items():
            if not (inspect.isclass(cls) and issubclass(cls, Exception) and cls.__module__ == name):
                continue
            if cls_name.startswith("_") or f"{name}.{cls_name}" in NOT_REFUSALS:
                continue
            if not issubclass(cls, DomainError):
                strays.append(f"{name}.{cls_name}")
            elif not CODE.match(cls.code):
                bad_codes.append(f"{name}.{cls_name}: {cls.code!r}")
    assert strays == [] and bad_codes == []


def test_the_web_layer_maps_errors_without_knowing_their_packages():
    path = Path(importlib.util.find_spec("sandbox.web.problems").origin)
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    domain = {m for m in imported if m.split(".")[0] in PACKAGES}
    assert domain == {"ledger"}   # ``from ledger import errors``: the base class only


@pytest.mark.parametrize("error, status", [
    ("exchange.errors.OrderNotOpen", 409), ("card.errors.CardNotFound", 404), ("wallet.errors.DustAmount", 422),
    ("sandbox.errors.UnknownActor", 404), ("stablecoin.errors.ReserveShortfall", 422),
])
def test_a_refusal_becomes_a_problem_with_its_code(error, status):
    from sandbox.web.problems import from_domain_error
    module, cls_name = error.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), cls_name)
    response = from_domain_error(cls("what was refused, in words", thing="x"))
    body = response.get_json()
    assert (response.status_code, body["code"], body["detail"]) == (status, cls.code, "what was refused, in words")
    assert body["context"] == {"thing": "x"}
