"""sandbox — the composition root: configuration, participants and licences,
rules, clock, population, the CryptoCity facade, scenarios, reports, CLI, web."""
