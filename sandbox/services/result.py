"""The base of every service result: a frozen dataclass that also reads like a mapping.

Results are typed (attributes, not dict keys), but ``result["card_id"]`` and ``to_dict()`` keep the
JSON-shaped view that the web layer, scenario expectations and scripts written against the facade use.
"""
from __future__ import annotations

import dataclasses
from typing import Any


class Result:
    """Mixin for service result dataclasses."""

    def __getitem__(self, name: str) -> Any:
        if name not in self._fields():
            raise KeyError(name)
        return getattr(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name) if name in self._fields() else default

    def __contains__(self, name: object) -> bool:
        return name in self._fields()

    def keys(self):
        return self._fields()

    def to_dict(self) -> dict[str, Any]:
        return {f: _plain(getattr(self, f)) for f in self._fields()}

    @classmethod
    def _fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]


def _plain(value: Any) -> Any:
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
