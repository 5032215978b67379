"""The city's use cases, one module per area. Every service function has the same shape::

    def verb(city: CityContext, uow: UnitOfWork, *, keyword arguments) -> TypedResult

It runs inside the caller's unit of work (the caller owns the transaction and commits: the facade
``CryptoCity``, the web layer, the CLI), reads what it needs from the database, writes its change and
the change's audit entry, and returns a typed result — or raises a ``DomainError`` subclass with a
stable ``code``, having changed nothing the caller will commit.

| module           | verbs |
|------------------|-------|
| ``customers``    | onboard, set_kyc_tier, profile, customer, customers |
| ``custody``      | deposit, faucet, onchain_deposit, deposit_address, balances |
| ``withdrawals``  | withdraw, withdrawals |
| ``trading``      | buy, sell, place_order, cancel_order, order_owner |
| ``stablecoin``   | mint, redeem, set_address_frozen |
| ``payments``     | pay, authorize, capture, reverse, refund (the card network's side) |
| ``cards``        | freeze_card, unfreeze_card, update_controls, update_funding |
| ``merchants``    | register_merchant, resolve |
| ``licences``     | suspend_licence, reinstate_licence, renew_licence |
| ``clock``        | advance |
| ``reports``      | regulator_summary, tax_statement, flags, verify |
| ``mining``       | register_farm, set_meter, pay_levy, on_advance (called by ``clock.advance``) |
| ``mining_cases`` | detect, close_farm (with ``mining_grid``: the grid operator's substation readings) |
| ``mining_reports`` | summary, farm_report, regulator_section (``mining_guard``: may a farm sell) |
"""
