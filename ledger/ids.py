"""Ids reserved ahead (PostgreSQL): a row whose id is known before it is written needs no answer from
its ``INSERT … RETURNING id``, so it can go out with a later statement instead of waiting a round trip of
its own.

A package about to write rows in its own tables calls ``reserve(uow, {"<table>_id_seq": n, …},
transfers=…, holds=…)`` before its first statement: one ``SELECT nextval(…), …`` travels with the next
statement the unit of work sends (``read_ahead``), and the ledger's own key-less transfers and holds then
take their ids from what was reserved for them. An instant sale reserves its order's, its fill's and the
fill's transfer's ids, a card purchase its hold's and its authorization's: the round trips each would
have waited for, while other purchases waited for the locks it held, are gone.

A reserved id is an ordinary value of the table's own sequence: unique, and taken under the same locks
as the write it serves when the caller reserves after taking them (an instant sale reserves under its
instrument's lock, so its trade ids follow the book's order, as ``RETURNING`` ids did). One that ends up
unused (a refusal, a rolled-back savepoint) is a gap, as a rolled-back INSERT leaves. SQLite has no round trips to
save: there ``reserve`` returns None and reserves nothing, and every id comes from its INSERT.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:
    from .unit_of_work import UnitOfWork

MAX_IDS_AHEAD = 16     # ids one call reserves, all sequences together
_SEQUENCE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
TRANSFERS, HOLDS = "ledger_transfers_id_seq", "ledger_holds_id_seq"
_POOL = "ledger:ids:"   # + sequence: (function giving the reserved ids, how many, how many taken) in uow.scratch


def reserve(uow: UnitOfWork, counts: Mapping[str, int], *, transfers: int = 0,
            holds: int = 0) -> Callable[[], dict[str, list[int]]] | None:
    """PostgreSQL: ``counts[sequence]`` values of each of a package's own sequences, and ids for the
    key-less ``transfers`` and ``holds`` the unit of work is about to make (each takes one while they
    last), all read in ONE statement sent with the next one ``uow`` sends. Returns the function that
    gives ``{sequence: [ids]}`` (as often as called). None on SQLite, where nothing is reserved."""
    if not uow.raw_cursor().can_defer:   # first: on SQLite a reservation costs nothing at all
        return None
    assert TRANSFERS not in counts and HOLDS not in counts, "the ledger's own: transfers=, holds="
    wanted = {**counts, TRANSFERS: transfers, HOLDS: holds}
    names = [sequence for sequence, count in wanted.items() for _ in range(count)]
    assert all(_SEQUENCE.fullmatch(sequence) for sequence in wanted), "not a sequence name"
    assert 0 < len(names) <= MAX_IDS_AHEAD, f"reserve 1 to {MAX_IDS_AHEAD} ids at a time"
    # Each nextval is a new value whatever order they are evaluated in: only uniqueness matters here.
    sql = "SELECT " + ", ".join(f"nextval(CAST(:s{i} AS regclass))" for i in range(len(names)))
    ahead = uow.sql.read_ahead(sql, {f"s{i}": name for i, name in enumerate(names)})

    def ids() -> dict[str, list[int]]:
        got: dict[str, list[int]] = {sequence: [] for sequence in wanted}
        for name, value in zip(names, ahead.one()):
            got[name].append(value)
        return got
    for sequence in (TRANSFERS, HOLDS):
        if wanted[sequence] > 0:
            pooled = uow.scratch.get(_POOL + sequence)
            if pooled is None:
                uow.scratch[_POOL + sequence] = (lambda s=sequence: ids()[s], wanted[sequence], 0)
            else:   # what an earlier reservation left, then these
                earlier, count, taken = pooled
                uow.scratch[_POOL + sequence] = (lambda s=sequence, e=earlier, t=taken: [*e()[t:], *ids()[s]],
                                                 count - taken + wanted[sequence], 0)
    return ids


def take(uow: UnitOfWork, sequence: str) -> Callable[[], int] | None:
    """The next id reserved for ``sequence`` (``TRANSFERS`` or ``HOLDS``) in this unit of work, as a function
    to call once the row is to be written (its read has gone out with a statement by then, or goes out
    alone); None when none is left or none was reserved."""
    pooled = uow.scratch.get(_POOL + sequence)
    if pooled is None or pooled[2] >= pooled[1]:
        return None
    values, count, taken = pooled
    # A new tuple, not a change in place: a savepoint that rolls back restores uow.scratch (and its ids).
    uow.scratch[_POOL + sequence] = (values, count, taken + 1)
    return lambda: values()[taken]


_WITH_ID = re.compile(r"^INSERT INTO (\w+) \((.*?)\) VALUES \((.*)\) RETURNING id$", re.S)
_WITH_ID_DONE: dict[str, str] = {}


def with_id(insert_returning_id: str) -> str:
    """``INSERT INTO t (a, …) VALUES (:a, …) RETURNING id`` as the same INSERT of a row with its id
    given (``:id``) and nothing returned."""
    done = _WITH_ID_DONE.get(insert_returning_id)
    if done is None:
        match = _WITH_ID.match(insert_returning_id)
        assert match is not None, "with_id takes a single-row INSERT … VALUES (…) RETURNING id"
        table, columns, values = match.groups()
        done = _WITH_ID_DONE[insert_returning_id] = f"INSERT INTO {table} (id, {columns}) VALUES (:id, {values})"
    return done
