"""Scenario YAML -> validated ``Scenario``; every error carries the file and line number."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import DomainError
from pydantic import TypeAdapter, ValidationError
from yaml.nodes import MappingNode, Node, SequenceNode

from .. import yamlsafe
from ..config import CityConfig, ConfigError, config_from_dict, load_config, preset_path
from ..config.models import canonical
from ..config.loader import read_yaml
from .model import STEP_MODELS, VERBS, Instant, ScenarioHeader
from .placeholders import _SAVED, MAX_MATRIX_CASES, UnfilledPlaceholder, _expand_matrices, _fill, _stand_in  # noqa: F401

_STEP_KEYS = ("expect", "name", "at", "save")
_INSTANT = TypeAdapter(Instant)

MAX_STEPS = 2_000


class ScenarioError(DomainError):
    """An invalid scenario. ``problems``: list of (line or None, message)."""

    code = "invalid_scenario"

    def __init__(self, source: str, problems: list[tuple[int | None, str]]) -> None:
        self.source, self.problems = source, problems
        super().__init__("\n".join(f"{source}:{line if line else '?'}: {msg}" for line, msg in problems))
        self.details = {}

    @property
    def line(self) -> int | None:
        return self.problems[0][0] if self.problems else None


@dataclass
class Step:
    index: int            # 1-based
    line: int
    verb: str
    args: Any             # the verb's pydantic model (or a str for advance)
    expect: Any = None    # StepExpect or ExpectBlock (for the expect verb)
    name: str = ""
    at: Any = None        # an absolute, zoned time the clock is moved to before the step
    save: str | None = None   # the name this step's result is saved under, for ${name.field} in later steps
    template: Any = None  # the raw step when it reads a saved result: filled in and validated when it runs

    def filled(self, saved: dict[str, Any]) -> "Step":
        """This step with every ``${name.field}`` replaced by the saved result's field (validated again)."""
        if self.template is None:
            return self
        raw = _fill(self.template, saved)
        model, expect_model = STEP_MODELS[self.verb]
        args = model.model_validate(raw[self.verb])
        expect = expect_model.model_validate(raw["expect"]) if "expect" in raw and expect_model else self.expect
        return Step(self.index, self.line, self.verb, args, expect, self.name, self.at, self.save)

    @property
    def label(self) -> str:
        return f"step {self.index} ({self.verb}{': ' + self.name if self.name else ''}, line {self.line})"


@dataclass
class Scenario:
    name: str
    source: str
    description: str
    config: CityConfig
    seed: int
    actors: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    # the configuration as YAML data when the file changed a preset (config_overrides, merchants_add), for
    # serving the same city (`cryptocity run --print-config`); None: the preset or file named by ``config_name``
    config_data: dict | None = None
    config_name: str = "crypto-city"
    webhooks: dict[str, Any] = field(default_factory=dict)   # receiver name -> WebhookReceiver


def _walk(document: yamlsafe.Document, node: Node, path: tuple, lines: dict[tuple, int]) -> Any:
    """Build plain Python from a composed node, recording the line of every key/item path. The document
    is measured (sandbox.yamlsafe), so walking it as a tree is bounded even where aliases share nodes."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            key = document.construct(key_node)
            if not isinstance(key, (str, int)):
                raise ScenarioError("", [(key_node.start_mark.line + 1, "mapping keys must be plain words")])
            if key in out:
                raise ScenarioError("", [(key_node.start_mark.line + 1, f"duplicate key {key!r}")])
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _walk(document, value_node, path + (key,), lines)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, SequenceNode):
        return [_walk(document, item, path + (i,), lines) for i, item in enumerate(node.value)]
    return document.construct(node)


def parse_with_lines(text: str, source: str) -> tuple[Any, dict[tuple, int]]:
    try:
        document = yamlsafe.compose(text)
        if document.root is None:
            raise ScenarioError(source, [(1, "the file is empty")])
        lines: dict[tuple, int] = {}
        return _walk(document, document.root, (), lines), lines
    except yamlsafe.YamlError as error:
        raise ScenarioError(source, [(error.line, error.reason)]) from None
    except ScenarioError as error:
        raise ScenarioError(source, error.problems) from None


def _line_for(lines: dict[tuple, int], loc: tuple) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _fmt_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pyd_problems(error: ValidationError, base: tuple, lines: dict[tuple, int]) -> list[tuple[int | None, str]]:
    out = []
    for e in error.errors():
        loc = base + tuple(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}"
        elif e["type"] == "missing":
            msg = "required key is missing"
        elif not isinstance(e.get("input"), (dict, list)):
            msg += f" (got {e.get('input')!r})"
        out.append((_line_for(lines, loc), f"{_fmt_loc(loc)}: {msg}"))
    return out


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and resolve one scenario file. Raise ScenarioError naming file and line."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ScenarioError(source, [(None, "file does not exist")])
    try:
        text = yamlsafe.read_file(path)
    except yamlsafe.YamlError as error:
        raise ScenarioError(source, [(error.line, error.reason)]) from None
    return scenario_from_text(text, source, base_dir=path.parent)


def scenario_from_text(text: str, source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    data, lines = parse_with_lines(text, source)
    if not isinstance(data, dict):
        raise ScenarioError(source, [(1, "a scenario is a mapping with name, config, actors and steps")])
    raw_steps = data.get("steps")
    header_data = {k: v for k, v in data.items() if k != "steps"}
    problems: list[tuple[int | None, str]] = []
    header = None
    try:
        header = ScenarioHeader.model_validate(header_data)
    except ValidationError as error:
        problems += _pyd_problems(error, (), lines)
    steps: list[Step] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append((_line_for(lines, ("steps",)) or 1, "steps: a non-empty list of steps is required"))
        raw_steps = []
    if len(raw_steps) > MAX_STEPS:
        problems.append((lines.get(("steps",)), f"steps: at most {MAX_STEPS} steps"))
        raw_steps = []
    actors = set(header.actors) if header else set()
    expanded, matrix_problems = _expand_matrices(raw_steps, lines)
    problems += matrix_problems
    if len(expanded) > MAX_STEPS:
        problems.append((lines.get(("steps",)), f"steps: at most {MAX_STEPS} steps once matrices are expanded"))
        expanded = []
    saved_names: set[str] = set()
    for i, (raw, loc, case) in enumerate(expanded):
        line = lines.get(loc, 0)
        if not isinstance(raw, dict):
            problems.append((line, f"{_fmt_loc(loc)}: a step is a mapping like '- pay: {{...}}'"))
            continue
        verbs = [k for k in raw if k in VERBS and k != "expect"]
        unknown = [k for k in raw if k not in VERBS and k not in _STEP_KEYS]
        if unknown:
            problems.append((lines.get(loc + (unknown[0],), line),
                             f"{_fmt_loc(loc)}: unknown step verb {unknown[0]!r}; verbs: {', '.join(VERBS)}"))
            continue
        if "expect" in raw and not verbs:
            verbs = ["expect"]
        if len(verbs) != 1:
            problems.append((line, f"{_fmt_loc(loc)}: a step has exactly one verb, found {len(verbs)} ({', '.join(verbs) or 'none'})"))
            continue
        verb = verbs[0]
        model, expect_model = STEP_MODELS[verb]
        at = None
        if "at" in raw:
            if verb == "expect":
                problems.append((lines.get(loc + ("at",), line), f"{_fmt_loc(loc)}.at: an expect step reads, it happens at no time"))
                continue
            try:
                at = _INSTANT.validate_python(raw["at"])
            except ValidationError as error:
                problems.append((lines.get(loc + ("at",), line),
                                 f"{_fmt_loc(loc)}.at: {error.errors()[0]['msg'].removeprefix('Value error, ')}"))
                continue
        template = None
        reads = {m.group(1) for m in _SAVED.finditer(repr(raw))}
        if reads:
            missing = sorted(reads - saved_names)
            if missing:
                problems.append((line, f"{_fmt_loc(loc)}: ${{{missing[0]}.…}} reads a result no earlier step saved; "
                                       f"saved so far: {', '.join(sorted(saved_names)) or 'none'}"))
                continue
            # checked now with a stand-in for each value, filled in and checked again when it runs
            template, raw = raw, _stand_in(raw)
        save = raw.get("save")
        if save is not None:
            if not isinstance(save, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", save):
                problems.append((lines.get(loc + ("save",), line), f"{_fmt_loc(loc)}.save: a name of letters, digits, "
                                                                   f"_ and -, got {save!r}"))
                continue
            saved_names.add(save)
        try:
            args = model.model_validate(raw[verb])
            expect = None
            if verb != "expect" and "expect" in raw:
                expect = expect_model.model_validate(raw["expect"])
        except ValidationError as error:
            problems += _pyd_problems(error, loc + (verb,), lines) if not _is_expect_error(raw, verb, error) else \
                _pyd_problems(error, loc + ("expect",), lines)
            continue
        actor = getattr(args, "actor", None)
        if actor is not None and actor not in actors:
            problems.append((lines.get(loc + (verb, "actor"), line),
                             f"{_fmt_loc(loc)}.{verb}.actor: unknown actor {actor!r}; actors: {', '.join(sorted(actors)) or 'none'}"))
            continue
        for who in _expect_actors(args if verb == "expect" else None):
            if who not in actors:
                problems.append((line, f"{_fmt_loc(loc)}.expect: unknown actor {who!r}; actors: {', '.join(sorted(actors))}"))
        for who in (getattr(args, "to", None),):
            if who is not None and who not in actors:
                problems.append((lines.get(loc + (verb, "to"), line),
                                 f"{_fmt_loc(loc)}.{verb}.to: unknown actor {who!r}; actors: {', '.join(sorted(actors))}"))
        receivers = set(header.webhooks) if header else set()
        for block in (args if verb == "expect" else expect,):
            for who in sorted(set(getattr(block, "webhooks", None) or {}) | set(getattr(block, "webhooks_exactly", None) or {})):
                if who not in receivers:
                    problems.append((line, f"{_fmt_loc(loc)}.expect: unknown webhook receiver {who!r}; declare it under "
                                           f"webhooks: in the header (receivers: {', '.join(sorted(receivers)) or 'none'})"))
        name = str(raw.get("name", "") or "")
        steps.append(Step(i + 1, line, verb, args, expect, f"{name} {case}".strip() if case else name, at,
                          save, template))
    cfg, data = None, None
    if header is not None:
        try:
            cfg, data = _resolve_config(header, base_dir)
        except ConfigError as error:
            where = ("config_overrides",) if header.config_overrides else ("config",)
            problems.append((lines.get(where) or lines.get(("config",)),
                             "config: " + str(error).replace("\n", "\n    ")))
    if problems:
        raise ScenarioError(source, problems)
    assert header is not None and cfg is not None
    seed = header.seed if header.seed is not None else cfg.sandbox.seed
    return Scenario(header.name, source, header.description, cfg, seed, dict(header.actors), steps, data,
                    header.config, dict(header.webhooks))


def _is_expect_error(raw: dict, verb: str, error: ValidationError) -> bool:
    model, _ = STEP_MODELS[verb]
    try:
        model.model_validate(raw[verb])
        return True
    except ValidationError:
        return False


def _expect_actors(block) -> list[str]:
    if block is None:
        return []
    out = []
    for part in (block.balances, block.flags, block.tax):  # (merchants and accounts are checked by the city)
        out += list(part or {})
    return out


def _resolve_config(header: ScenarioHeader, base_dir: Path | None) -> tuple[CityConfig, Any]:
    """The configuration the file asks for, and its YAML data when the file changed a preset (else None)."""
    if not header.config_overrides and not header.merchants_add:
        return load_config(_config_path(header, base_dir) or header.config), None
    path = _config_path(header, base_dir) or preset_path(header.config)
    data = _config_data(header, base_dir)
    return config_from_dict(data, source=f"{path} + " + " + ".join(
        part for part, used in (("config_overrides", header.config_overrides), ("merchants_add", header.merchants_add))
        if used)), data


def _config_path(header: ScenarioHeader, base_dir: Path | None) -> Path | None:
    name = header.config
    candidate = (base_dir / name) if base_dir is not None and name.endswith((".yaml", ".yml")) else Path(name)
    return candidate if candidate.suffix else None


def _config_data(header: ScenarioHeader, base_dir: Path | None) -> Any:
    """The configuration the file asks for, as YAML data: the preset (or file) with the overrides laid on
    and the added merchants appended."""
    path = _config_path(header, base_dir) or preset_path(header.config)
    if not path.is_file():
        load_config(header.config)  # raises the friendly "no preset" error
    data = read_yaml(path)
    if not isinstance(data, dict):
        return data   # not a mapping: config_from_dict refuses it
    # old and new key names (``daily_limit`` / ``daily_limit_minor``) agree before the overrides are laid on
    merged = _merge(canonical(data), canonical(header.config_overrides))
    if header.merchants_add:
        merchants = list(merged.get("merchants") or [])
        taken = {m.get("id") for m in merchants if isinstance(m, dict)}
        clash = [m.id for m in header.merchants_add if m.id in taken]
        if clash:
            raise ConfigError("merchants_add", [("merchants_add", f"{', '.join(clash)} already in the "
                                                 "configuration; change it with config_overrides instead")])
        merged["merchants"] = merchants + [m.model_dump() for m in header.merchants_add]
    return merged
