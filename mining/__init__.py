"""Digital mining: licensed and illegal farms, their electricity, the levy on it, block rewards and the
grid operator's view of unexplained load.

Pure domain code (imports only ``ledger``; no I/O, no clock): ``consumption`` turns hash rate and
efficiency into watt-hours, ``levy`` prices them in tiyn, ``rewards`` shares a block subsidy in satoshi,
``detection`` compares a substation's reading with what licensed farms declared. The sandbox composes it
(``sandbox/services/mining.py``) and keeps its rows in the tables of ``mining/tables.py``.
"""
from .consumption import power_mw, energy_wh, max_load_wh
from .errors import MiningError
from .farms import FarmSpec, GRID, OWN_OFFGRID, POWER_SOURCES
from .levy import levy_minor
from .rewards import share_reward

__all__ = ["power_mw", "energy_wh", "max_load_wh", "MiningError", "FarmSpec", "GRID", "OWN_OFFGRID",
           "POWER_SOURCES", "levy_minor", "share_reward"]
