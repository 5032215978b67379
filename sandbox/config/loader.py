"""Load and check configuration; turn every problem into a readable ConfigError."""
from __future__ import annotations

import typing
from pathlib import Path

from ledger.errors import DomainError
from pydantic import BaseModel, ValidationError

from .. import yamlsafe
from .checks import check_constraints
from .models import CityConfig, old_names

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"


class ConfigError(DomainError):
    """An invalid configuration. ``problems`` is a list of (key path, message)."""

    code = "invalid_config"

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"invalid configuration {source}: {len(problems)} problem(s)"]
        lines += [f"  - {path or '(top level)'}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))
        self.details = {}


def list_presets() -> list[str]:
    """Names of the shipped presets (file stems in sandbox/presets)."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    return PRESETS_DIR / f"{name}.yaml"


def load_config(preset_or_path: str | Path = "crypto-city") -> CityConfig:
    """Load a preset by name ("crypto-city") or a YAML file by path; raise ConfigError if invalid."""
    text_name = str(preset_or_path)
    path = Path(text_name)
    if not path.suffix and not path.exists():
        if text_name not in list_presets():
            raise ConfigError(text_name, [("", f"no preset or file named {text_name!r}; presets: {', '.join(list_presets())}")])
        path = preset_path(text_name)
    if not path.is_file():
        raise ConfigError(text_name, [("", f"file {str(path)!r} does not exist")])
    return config_from_dict(read_yaml(path), source=str(path))


def read_yaml(path: Path) -> object:
    """The plain data of a configuration file, within the bounds of ``sandbox.yamlsafe``; ConfigError
    naming the line when it is not valid YAML, too big, too deep or an alias bomb."""
    try:
        return yamlsafe.load_file(path)
    except yamlsafe.YamlError as error:
        raise ConfigError(str(path), [("", str(error))]) from None
    except OSError as error:
        raise ConfigError(str(path), [("", f"cannot read the file: {error.strerror}")]) from None


def config_from_dict(data: object, source: str = "<dict>") -> CityConfig:
    """Validate a mapping into a CityConfig, schema first, then the regulatory constraints."""
    if not isinstance(data, dict):
        raise ConfigError(source, [("", "the file must be a mapping of sections (sandbox:, regulators:, ...)")])
    try:
        cfg = CityConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source, [_describe(e) for e in error.errors()]) from None
    problems = check_constraints(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(err: dict) -> tuple[str, str]:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        new = old_names(model).get(loc[-1]) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if new is not None:
            return _path(loc), f"{loc[-1]!r} is the old name of {new!r}: give one of them"
        allowed = _allowed_keys(loc[:-1])
        msg = f"unknown key {loc[-1]!r}"
        if allowed:
            msg += f"; allowed keys here: {', '.join(allowed)}"
        return _path(loc), msg
    if kind == "missing":
        return _path(loc), "required key is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = err.get("input")
    if kind not in ("missing",) and not isinstance(got, (dict, list)):
        msg += f" (got {got!r})"
    return _path(loc), msg


def _allowed_keys(loc: tuple) -> list[str]:
    """Walk the schema along ``loc`` and list the keys allowed at that place."""
    model = _model_at(loc)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_at(loc: tuple) -> object:
    """The schema (a model, or a type) at ``loc``; None past what the schema describes."""
    model: object = CityConfig
    for part in loc:
        model = _unwrap(model)
        if isinstance(part, int):
            args = typing.get_args(model)
            model = args[0] if args else model
            continue
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(part)
            if field is None:
                return None
            model = field.annotation
        else:
            args = typing.get_args(model)
            model = args[-1] if args else model  # dict[K, V] -> V
    return _unwrap(model)


def _unwrap(tp: object) -> object:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    origin = typing.get_origin(tp)
    if origin in (list, dict):
        return tp
    return tp
