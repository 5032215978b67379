"""ledger — double-entry core (filled in by the foundation issue)."""
