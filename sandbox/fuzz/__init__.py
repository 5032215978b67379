"""Property runs: ``cryptocity fuzz`` drives random valid verbs against a city and checks its invariants
after every step; a failure is shrunk (Hypothesis's stateful testing) to a scenario file that
``cryptocity run`` reproduces (docs/scenarios.md, "Property runs")."""
