"""Plain security games from an analyst's CSV payoff table.

``game_from_csv_text`` reads the table (one row per target, or per attacker
type and target for a Bayesian game); ``solve_game_csv`` also solves it for
its strong Stackelberg equilibrium (:func:`watchfloor.patrol.solve_game`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.patrol import GameSolution, SecurityGame, solve_game

__all__ = ["GAME_COLUMNS", "game_from_csv_text", "game_solution_to_dict", "solve_game_csv"]

GAME_COLUMNS = (
    "target",
    "defender_covered",
    "defender_uncovered",
    "attacker_covered",
    "attacker_uncovered",
)


def _row_probability(row: dict[str, str], *, source: str, line: int) -> float:
    try:
        return float(row["type_probability"])
    except ValueError:
        msg = f"{source}, line {line}: type_probability {row['type_probability']!r} is not a number"
        raise InvalidInputError(msg) from None


def _read_rows(
    reader: csv.DictReader[str], *, source: str, bayesian: bool
) -> tuple[dict[str, dict[str, list[float]]], dict[str, float], list[str]]:
    """Return the payoffs by attacker type and target, the type probabilities, the targets."""
    rows: dict[str, dict[str, list[float]]] = {}
    probs: dict[str, float] = {}
    order: list[str] = []
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        target = row.get("target", "")
        if not target:
            msg = f"{source}, line {line}: the target is empty"
            raise InvalidInputError(msg)
        values = []
        for col in GAME_COLUMNS[1:]:
            try:
                values.append(float(row[col]))
            except (KeyError, ValueError):
                msg = f"{source}, line {line}: {col} {row.get(col, '')!r} is not a number"
                raise InvalidInputError(msg) from None
        kind = row.get("attacker_type", "") if bayesian else "attacker"
        if bayesian:
            if not kind:
                msg = f"{source}, line {line}: attacker_type is empty"
                raise InvalidInputError(msg)
            p = _row_probability(row, source=source, line=line)
            if kind in probs and abs(probs[kind] - p) > 1e-12:
                msg = f"{source}, line {line}: type {kind!r} has two different probabilities"
                raise InvalidInputError(msg)
            probs[kind] = p
        table = rows.setdefault(kind, {})
        if target in table:
            msg = f"{source}, line {line}: target {target!r} appears twice" + (
                f" for type {kind!r}" if bayesian else ""
            )
            raise InvalidInputError(msg)
        table[target] = values
        if target not in order:
            order.append(target)
    return rows, probs, order


def game_from_csv_text(text: str, *, source: str = "payoff table") -> SecurityGame:
    """Return the security game described by a CSV payoff table.

    Columns: ``target, defender_covered, defender_uncovered, attacker_covered,
    attacker_uncovered``, one row per target; for a Bayesian game also
    ``attacker_type, type_probability`` with one row per type and target.

    Raises
    ------
    InvalidInputError
        When a column is missing, a number cannot be read, a target repeats or
        the attacker types do not list the same targets.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in GAME_COLUMNS if c not in header]
    if missing:
        msg = (
            f"{source}: missing column(s) {', '.join(missing)}; the header must be "
            f"{','.join(GAME_COLUMNS)} (optionally attacker_type,type_probability)"
        )
        raise InvalidInputError(msg)
    bayesian = "attacker_type" in header or "type_probability" in header
    if bayesian and not ("attacker_type" in header and "type_probability" in header):
        msg = f"{source}: a Bayesian game needs both attacker_type and type_probability columns"
        raise InvalidInputError(msg)
    rows, probs, order = _read_rows(reader, source=source, bayesian=bayesian)
    if not order:
        msg = f"{source}: no targets (the table has a header but no rows)"
        raise InvalidInputError(msg)
    types = list(rows)
    for kind in types:
        if set(rows[kind]) != set(order):
            lacking = sorted(set(order) - set(rows[kind]))
            msg = f"{source}: type {kind!r} has no row for target(s) {', '.join(lacking)}"
            raise InvalidInputError(msg)
    arr = np.array([[rows[k][t] for t in order] for k in types])  # [types, targets, 4]
    return SecurityGame.from_arrays(
        arr[:, :, 0],
        arr[:, :, 1],
        arr[:, :, 2],
        arr[:, :, 3],
        type_probability=[probs[k] for k in types] if bayesian else None,
        target_ids=order,
        type_ids=types,
    )


def solve_game_csv(path: Path, *, n_units: int) -> tuple[SecurityGame, GameSolution]:
    """Return the game read from a CSV payoff table and its strong Stackelberg equilibrium.

    Raises
    ------
    NotFoundError
        When the file does not exist.
    InvalidInputError
        When the table is malformed or ``n_units`` is below 1.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        msg = f"payoff table {path} does not exist"
        raise NotFoundError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"payoff table {path} cannot be read: {exc}"
        raise InvalidInputError(msg) from None
    game = game_from_csv_text(text, source=f"payoff table {path.name}")
    return game, solve_game(game, n_units=n_units)


def game_solution_to_dict(game: SecurityGame, solution: GameSolution) -> dict[str, Any]:
    """Return the JSON form: coverage per target, attacker target(s) and utilities."""
    out: dict[str, Any] = {
        "coverage": {
            t: round(float(c), 12) for t, c in zip(game.target_ids, solution.coverage, strict=True)
        },
        "defender_utility": float(solution.defender_utility),
        "status": solution.status,
        "method": solution.method,
    }
    if game.n_types == 1:
        out["attacker_target"] = game.target_ids[int(solution.attacker_target[0])]
        out["attacker_utility"] = float(solution.attacker_utility[0])
    else:
        out["attacker_target"] = {
            k: game.target_ids[int(t)]
            for k, t in zip(game.type_ids, solution.attacker_target, strict=True)
        }
        out["attacker_utility"] = {
            k: float(u) for k, u in zip(game.type_ids, solution.attacker_utility, strict=True)
        }
        out["gap"] = solution.gap
    return out
