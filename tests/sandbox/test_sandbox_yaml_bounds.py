"""Bounded YAML (sandbox/yamlsafe.py): an alias bomb, a recursive alias, deep nesting, too many aliases or
too many bytes is refused with the line, before anything expands; everything within the bounds loads
exactly as ``yaml.safe_load`` would. The same loader serves configurations and scenarios."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from sandbox import yamlsafe
from sandbox.config import ConfigError, load_config, preset_path
from sandbox.scenarios import ScenarioError, load_scenario

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["libyaml", "python"])
def loader(request, monkeypatch):
    """Both parsers: libyaml when PyYAML has it, the pure-Python one otherwise."""
    if request.param == "libyaml":
        if not hasattr(yamlsafe, "_CLoader"):
            pytest.skip("PyYAML without libyaml")
        monkeypatch.setattr(yamlsafe, "_Loader", yamlsafe._CLoader)
    else:
        monkeypatch.setattr(yamlsafe, "_Loader", yamlsafe._PyLoader)
    return request.param


def refusal(text: str) -> yamlsafe.YamlError:
    with pytest.raises(yamlsafe.YamlError) as info:
        yamlsafe.load(text)
    return info.value


def test_an_alias_bomb_is_refused_before_it_expands(loader, yaml_bomb):
    text, line = yaml_bomb()
    assert len(text) < 600 and line == 5
    error = refusal(text)
    assert error.line == line and f"more than {yamlsafe.MAX_NODES} values" in error.reason


def test_a_recursive_alias_deep_nesting_and_too_many_aliases_are_refused(loader):
    assert "contains it" in refusal("a: &a [1, *a]\n").reason
    deep = "x: " + "[" * yamlsafe.MAX_DEPTH + "]" * yamlsafe.MAX_DEPTH
    assert "levels deep" in refusal(deep).reason  # the mapping around it is one more level
    assert yamlsafe.load("[" * yamlsafe.MAX_DEPTH + "]" * yamlsafe.MAX_DEPTH) is not None
    chain = "a0: &a0 [1]\n" + "".join(f"a{n}: &a{n} [*a{n - 1}]\n" for n in range(1, yamlsafe.MAX_DEPTH + 1))
    assert "once its aliases" in refusal(chain).reason  # small, but deep when written out
    many = "a: &a 1\nb: [" + ", ".join(["*a"] * (yamlsafe.MAX_ALIASES + 1)) + "]\n"
    assert f"more than {yamlsafe.MAX_ALIASES} aliases" in refusal(many).reason
    assert refusal(many).line == 2


def test_size_numbers_and_syntax_are_refused_with_the_line(loader):
    assert "at most 256 KiB" in refusal("a: " + "x" * yamlsafe.MAX_BYTES).reason
    huge = refusal("ok: 1\nn: " + "9" * 5000 + "\n")
    assert huge.line == 2 and "cannot be read" in huge.reason and "sys." not in huge.reason
    assert refusal("a: [1, 2\n").reason.startswith("not valid YAML")
    assert "undefined alias" in refusal("a: *nowhere\n").reason


json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=40)


@settings(max_examples=60, deadline=None)
@given(json_like)
def test_within_the_bounds_it_loads_what_safe_load_loads(data):
    text = yaml.safe_dump(data, allow_unicode=True)
    assert yamlsafe.load(text) == yaml.safe_load(text)


def test_shipped_presets_and_scenarios_load_unchanged():
    files = [preset_path(name) for name in ("crypto-city", "aifc-classic")] + sorted((REPO / "scenarios").glob("*.yaml"))
    anchors = "base: &base {kyc: full, deposits: [\"1.00 KZT\"]}\nuse: [*base, *base]\n"
    for text in [f.read_text() for f in files] + [anchors]:
        assert yamlsafe.load(text) == yaml.safe_load(text)


def test_a_configuration_bomb_is_a_config_error_naming_the_line(tmp_path, yaml_bomb):
    path = tmp_path / "bomb.yaml"
    text, line = yaml_bomb()
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"line {line}:" in str(info.value) and "values once its aliases" in str(info.value)


def test_a_scenario_bomb_is_a_scenario_error_naming_file_and_line(tmp_path, yaml_bomb):
    path = tmp_path / "bomb.yaml"
    text, line = yaml_bomb("name: laughs\nconfig: crypto-city\n")
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}:{line}: the document expands")
