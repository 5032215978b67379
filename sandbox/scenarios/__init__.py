"""Scenario files: format (model), line-numbered loading (loader), expectation matching (runner), JUnit XML."""
from .junit import junit_xml, write_junit
from .loader import Scenario, ScenarioError, Step, load_scenario, scenario_from_text
from .model import VERBS
from .matching import ExpectationResult, match_block, match_step
from .runner import ScenarioResult, run_scenario

__all__ = ["ExpectationResult", "Scenario", "ScenarioError", "ScenarioResult", "Step", "VERBS", "junit_xml",
           "load_scenario", "match_block", "match_step", "run_scenario", "scenario_from_text", "write_junit"]
