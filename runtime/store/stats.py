"""Analytics over the execution store, as SQL.

By model and by agent the unit is an agent turn (one ``cost`` event: its time to first token,
its first visible token from the turn's start, duration, tokens and cost); by procedure it is a
finished run (time from start to its first streamed token, which is also its first visible
one, duration and totals). Percentiles are nearest-rank: p95 is the smallest value
with at least 95 % of the values at or below it, so it is always a value that occurred.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from runtime.store.base import TERMINAL_STATUSES, GroupBy, Stat, StatsRow

# The statuses of runs that ended, as an SQL list.
_ENDED = ", ".join(f"'{status}'" for status in sorted(TERMINAL_STATUSES))

METRICS = ("ttft_ms", "first_visible_ms", "duration_ms", "total_tokens", "cost_usd")
PERCENTILES = (50, 95)

# Each source yields rows of (key, run_id, ts, mock, <metrics>); ``:since`` may be NULL for all
# time.
_SOURCES: dict[str, str] = {
    "model": "SELECT model AS key, run_id, ts, mock, {metrics} FROM turns",
    "agent": "SELECT agent AS key, run_id, ts, mock, {metrics} FROM turns",
    "procedure": (
        "SELECT procedure AS key, id AS run_id, started_at AS ts, mock, {metrics} FROM runs "
        f"WHERE status IN ({_ENDED}) AND started_at IS NOT NULL"
    ),
}
# The column of the ``alerts`` table (one row per ``runtime.alerts`` warning) for each key.
_ALERT_KEYS = {"model": "model", "agent": "agent", "procedure": "procedure"}


def tag_filter(tags: Mapping[str, str] | None, column: str = "tags") -> tuple[str, list[Any]]:
    """A condition on a runs row's JSON ``tags`` that every tag in ``tags`` matches, with its
    parameters; ``("1", [])`` without tags. Keys are checked (``runtime.run_tags``) to hold no
    double quote, so they can sit in a quoted JSON path."""
    if not tags:
        return "1", []
    parts, params = [], []
    for key, value in tags.items():
        parts.append(f"json_extract({column}, ?) = ?")
        params += [f'$."{key}"', value]
    return " AND ".join(parts), params


def tagged_runs(
    tags: Mapping[str, str] | None, run_id: str = "run_id"
) -> tuple[str, dict[str, Any]]:
    """``run_id IN (runs with these tags)`` as SQL with named parameters."""
    if not tags:
        return "1", {}
    condition, values = tag_filter(tags)
    named: dict[str, Any] = {}
    for index, value in enumerate(values):
        named[f"tag{index}"] = value
        condition = condition.replace("?", f":tag{index}", 1)
    return f"{run_id} IN (SELECT id FROM runs WHERE {condition})", named


def source_sql(by: GroupBy, tagged: str = "1") -> str:
    # A run's first streamed token is the first a person sees of it.
    runs = {"first_visible_ms": "ttft_ms AS first_visible_ms"} if by == "procedure" else {}
    body = _SOURCES[by].format(metrics=", ".join(runs.get(m, m) for m in METRICS))
    return (
        f"WITH src AS ({body}), "
        "sel AS (SELECT * FROM src WHERE (:since IS NULL OR ts >= :since) AND (:mock OR mock = 0) "
        f"AND {tagged})"
    )


def _percentile_sql(by: GroupBy, metric: str, tagged: str = "1") -> str:
    # Rank r of n is the p-th percentile's when r * 100 >= p * n first holds: integer
    # arithmetic, so that 0.95 * 20 never rounds to just above 19.
    picks = ", ".join(
        f"MIN(CASE WHEN rn * 100 >= {p} * n THEN val END) AS p{p}" for p in PERCENTILES
    )
    return (
        f"{source_sql(by, tagged)}, ranked AS ("
        f"SELECT key, {metric} AS val, "
        f"ROW_NUMBER() OVER (PARTITION BY key ORDER BY {metric}) AS rn, "
        f"COUNT(*) OVER (PARTITION BY key) AS n "
        f"FROM sel WHERE {metric} IS NOT NULL) "
        f"SELECT key, {picks} FROM ranked GROUP BY key"
    )


def _totals_sql(by: GroupBy, tagged: str = "1") -> str:
    averages = ", ".join(f"AVG({m}) AS avg_{m}" for m in METRICS)
    return (
        f"{source_sql(by, tagged)} SELECT key, COUNT(*) AS n, {averages}, SUM(cost_usd) AS cost_sum "
        "FROM sel GROUP BY key"
    )


def _alerts_sql(by: GroupBy, tagged: str) -> str:
    return (
        f"SELECT {_ALERT_KEYS[by]} AS key, COUNT(*) AS n FROM alerts "
        f"WHERE (:since IS NULL OR ts >= :since) AND (:mock OR mock = 0) AND {tagged} "
        "GROUP BY key"
    )


def _estimated_sql(by: GroupBy, tagged: str) -> str:
    """Turns whose usage was Tide's count (``usage_estimated`` on their cost event)."""
    return (
        f"SELECT {by} AS key, COUNT(*) AS n FROM turns "
        "WHERE (:since IS NULL OR ts >= :since) AND (:mock OR mock = 0) "
        f"AND {tagged} AND EXISTS (SELECT 1 FROM events e WHERE e.run_id = turns.run_id "
        "AND e.seq = turns.seq AND e.data ->> '$.usage_estimated' = 1) GROUP BY key"
    )


def query_stats(
    conn: sqlite3.Connection,
    *,
    by: GroupBy,
    since: int | None,
    mock: bool,
    tags: Mapping[str, str] | None = None,
) -> list[StatsRow]:
    """Per-key aggregates, most frequent first. ``since`` is in microseconds since the epoch;
    only runs carrying every one of ``tags`` count."""
    if by not in _SOURCES:
        raise ValueError(f"cannot group by '{by}'; use one of {', '.join(_SOURCES)}")
    tagged, tag_params = tagged_runs(tags)
    params = {"since": since, "mock": int(mock), **tag_params}
    totals = {row["key"]: row for row in conn.execute(_totals_sql(by, tagged), params)}
    percentiles: dict[str, dict[str, sqlite3.Row]] = {m: {} for m in METRICS}
    for metric in METRICS:
        for row in conn.execute(_percentile_sql(by, metric, tagged), params):
            percentiles[metric][row["key"]] = row
    alerts = {row["key"]: int(row["n"]) for row in conn.execute(_alerts_sql(by, tagged), params)}
    estimated = {
        row["key"]: int(row["n"]) for row in conn.execute(_estimated_sql(by, tagged), params)
    }
    rows = []
    for key, total in totals.items():
        stats = {m: _stat(total, percentiles[m].get(key), m) for m in METRICS}
        rows.append(
            StatsRow(
                key=str(key),
                count=int(total["n"]),
                cost_sum=total["cost_sum"],
                alerts=alerts.get(key, 0),
                usage_estimated=estimated.get(key, 0),
                **stats,
            )
        )
    rows.sort(key=lambda row: (-row.count, row.key))
    return rows


def _stat(total: sqlite3.Row, ranked: sqlite3.Row | None, metric: str) -> Stat:
    return Stat(
        avg=total[f"avg_{metric}"],
        p50=ranked["p50"] if ranked else None,
        p95=ranked["p95"] if ranked else None,
    )
