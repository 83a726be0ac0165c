"""Analytics over time: per key (model, agent or procedure) and per time bucket, the count,
p50/p95 time to first token and p50/p95/total cost, as SQL over the same rows as ``stats``.

Buckets are aligned on multiples of their width since the epoch (UTC): hours start on the hour,
days at midnight UTC. Only buckets with data are returned.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import timedelta

from runtime.store.base import GroupBy, SeriesPoint, Stat
from runtime.store.codec import from_micros
from runtime.store.stats import PERCENTILES, source_sql, tagged_runs

SERIES_METRICS = ("ttft_ms", "cost_usd")
# A bound on what one query returns, whatever the window and width asked for.
MAX_POINTS = 20_000


def _series_sql(by: GroupBy, metric: str, tagged: str) -> str:
    picks = ", ".join(
        f"MIN(CASE WHEN rn * 100 >= {p} * n THEN val END) AS p{p}" for p in PERCENTILES
    )
    return (
        f"{source_sql(by, tagged)}, bucketed AS (SELECT key, (ts / :every) * :every AS bucket, "
        f"{metric} AS val FROM sel WHERE {metric} IS NOT NULL), ranked AS ("
        "SELECT key, bucket, val, "
        "ROW_NUMBER() OVER (PARTITION BY key, bucket ORDER BY val) AS rn, "
        "COUNT(*) OVER (PARTITION BY key, bucket) AS n FROM bucketed) "
        f"SELECT key, bucket, {picks} FROM ranked GROUP BY key, bucket"
    )


def _counts_sql(by: GroupBy, tagged: str) -> str:
    return (
        f"{source_sql(by, tagged)} SELECT key, (ts / :every) * :every AS bucket, "
        "COUNT(*) AS n, SUM(cost_usd) AS cost_sum FROM sel GROUP BY key, bucket "
        f"ORDER BY bucket, key LIMIT {MAX_POINTS}"
    )


def query_series(
    conn: sqlite3.Connection,
    *,
    by: GroupBy,
    every: timedelta,
    since: int | None,
    mock: bool,
    tags: Mapping[str, str] | None = None,
) -> list[SeriesPoint]:
    """Points in time order, then by key. ``since`` is in microseconds since the epoch."""
    width = int(every.total_seconds() * 1_000_000)
    if width <= 0:
        raise ValueError("a time series needs buckets wider than zero")
    tagged, tag_params = tagged_runs(tags)
    params = {"since": since, "mock": int(mock), "every": width, **tag_params}
    counts = conn.execute(_counts_sql(by, tagged), params).fetchall()
    ranked: dict[str, dict[tuple[str, int], sqlite3.Row]] = {}
    for metric in SERIES_METRICS:
        rows = conn.execute(_series_sql(by, metric, tagged), params)
        ranked[metric] = {(row["key"], row["bucket"]): row for row in rows}

    def stat(metric: str, where: tuple[str, int]) -> Stat:
        row = ranked[metric].get(where)
        return Stat(p50=row["p50"], p95=row["p95"]) if row else Stat()

    return [
        SeriesPoint(
            key=str(row["key"]),
            start=from_micros(row["bucket"]),
            count=int(row["n"]),
            ttft_ms=stat("ttft_ms", (row["key"], row["bucket"])),
            cost_usd=stat("cost_usd", (row["key"], row["bucket"])),
            cost_sum=row["cost_sum"],
        )
        for row in counts
    ]
