"""JUnit XML for CI: one testsuite per scenario, one testcase per expectation."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .runner import ScenarioResult


def junit_xml(results: list[ScenarioResult]) -> str:
    root = ET.Element("testsuites", tests=str(sum(len(r.results) for r in results)),
                      failures=str(sum(len(r.failures) for r in results)))
    for res in results:
        suite = ET.SubElement(root, "testsuite", name=res.scenario.name, file=res.scenario.source,
                              tests=str(len(res.results)), failures=str(len(res.failures)), errors="0",
                              time=f"{res.seconds:.3f}")
        for r in res.results:
            case = ET.SubElement(suite, "testcase", classname=res.scenario.source,
                                 name=f"{r.step}: {r.expectation}", time="0")
            if not r.passed:
                fail = ET.SubElement(case, "failure", message=f"expected {r.expected}, got {r.actual}")
                fail.text = r.describe()
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(results: list[ScenarioResult], path: str | Path) -> None:
    Path(path).write_text(junit_xml(results), encoding="utf-8")
