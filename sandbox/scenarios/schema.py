"""The JSON Schema of the scenario format, generated from the models the loader validates with.

For editors (the YAML extension of VS Code reads ``# yaml-language-server: $schema=…``) and for
checking the documentation against the format: the schema is built from ``STEP_MODELS`` and the
header model, so a new verb or key shows up here without anyone writing it twice.
"""
from __future__ import annotations

from typing import Any, Union

from pydantic import ConfigDict, Field, TypeAdapter, create_model

from .model import (AMOUNT_SCHEMA, DURATION_SCHEMA, INSTANT_SCHEMA, NUMBER_SCHEMA, STEP_MODELS, Instant, Name,
                    ScenarioHeader)

SCHEMA_ID = "https://cryptocity.invalid/schemas/scenario.json"   # a name, not an address anyone serves
# Models the loader also accepts as a scalar: the schema says so (a range written as one amount, …).
_SCALAR_FORMS = {
    "AmountRange": AMOUNT_SCHEMA,
    "NumberRange": NUMBER_SCHEMA,
    "FlagsExpect": {"type": "array", "items": {"type": "string"}},
    "AdvanceArgs": DURATION_SCHEMA,
    "AdvanceToArgs": INSTANT_SCHEMA,
}


def _step_models() -> list[type]:
    out = []
    for verb, (args, expect) in STEP_MODELS.items():
        fields: dict[str, Any] = {verb: (args, ...), "name": (str | None, None)}
        if verb != "expect":
            fields |= {"expect": (expect | None, None), "at": (Instant | None, None),
                       "save": (Name | None, None)}
        title = "".join(part.title() for part in verb.split("_")) + "Step"
        out.append(create_model(title, __config__=ConfigDict(extra="forbid", title=f"{verb} step"), **fields))
    return out


PLACEHOLDER = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_.-]*\}",
               "description": "a ${column} of a matrix or a ${saved.field}, filled in when the step runs"}


def _admit_placeholders(node: Any) -> Any:
    """Every constrained string (a pattern, an enum) may also hold a placeholder, as the loader allows."""
    if isinstance(node, list):
        return [_admit_placeholders(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: (_admit_placeholders(v) if k not in ("enum", "const", "pattern") else v) for k, v in node.items()}
    constrained = "pattern" in node or "enum" in node or "const" in node
    if constrained and node is not PLACEHOLDER and node.get("pattern") != PLACEHOLDER["pattern"]:
        return {"anyOf": [node, PLACEHOLDER]}
    return node


def scenario_json_schema() -> dict:
    """The scenario file format as a JSON Schema (draft 2020-12) document."""
    steps = _step_models()
    step = Union[tuple(steps)]  # noqa: UP007 - a Union built at run time
    matrix_block = create_model("MatrixBlock", __config__=ConfigDict(extra="forbid"),
                                rows=(list[dict[str, Any]], Field(min_length=1, max_length=100)),
                                steps=(list[step], Field(min_length=1)))
    matrix = create_model("MatrixStep", __config__=ConfigDict(extra="forbid", title="matrix step"),
                          matrix=(matrix_block, ...), name=(str | None, None))
    scenario_file = create_model("ScenarioFile", __base__=ScenarioHeader,
                                 steps=(list[Union[step, matrix]], Field(min_length=1)))  # noqa: UP007
    schema = TypeAdapter(scenario_file).json_schema(mode="validation")
    defs = schema.setdefault("$defs", {})
    for name, scalar in _SCALAR_FORMS.items():
        if name in defs:
            defs[name] = {"anyOf": [scalar, defs[name]], "title": defs[name].get("title", name)}
    schema = _admit_placeholders(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "cryptocity scenario"
    return schema
