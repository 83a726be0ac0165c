"""What ``sse_relay.py`` computes from what it observed: latencies, losses, wire bytes, and the
IDE server's CPU and memory over the steady window."""

from __future__ import annotations

import itertools
import os
import sqlite3
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Watch:
    """One SSE connection: what arrived, and when (``time.monotonic()``)."""

    tag: str
    run_id: str = ""
    ids: list[int] = field(default_factory=list)
    # (receive time, offset, text) of every chunk message.
    chunks: list[tuple[float, int, str]] = field(default_factory=list)
    # (seq, wall-clock receive time) of every chunk message, to compare with the event's ts.
    chunk_walls: list[tuple[int, float]] = field(default_factory=list)
    chunk_wire_bytes: int = 0
    chunk_text_bytes: int = 0
    terminal: str | None = None
    retries: int = 0


@dataclass(frozen=True)
class Sample:
    at: float
    cpu_s: float
    rss_kib: int


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None, "mean": None}
    return {
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2),
        "mean": round(statistics.fmean(values), 2),
    }


def relay_latencies(
    watches: list[Watch], database: Path, window: tuple[float, float, int]
) -> dict[str, dict[str, float | None]]:
    """From each chunk event's creation in the runtime (its ``ts``, kept by the store) to its
    arrival here: what the relay, the HTTP server and the network add. ``steady`` counts the
    chunks received in the steady window (whose bounds are monotonic; arrivals carry both)."""
    every: list[float] = []
    steady: list[float] = []
    start, end, _ = window
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        for w in watches:
            created = dict(
                conn.execute(
                    "SELECT seq, ts FROM events WHERE run_id = ? AND type = 'agent_stream_chunk'",
                    (w.run_id,),
                ).fetchall()
            )
            for (seq, wall), (monotonic, _, _) in zip(w.chunk_walls, w.chunks, strict=True):
                if seq in created:
                    latency = (wall - created[seq] / 1e6) * 1000
                    every.append(latency)
                    if start <= monotonic <= end:
                        steady.append(latency)
    return {"steady": summary(steady), "whole_run": summary(every)}


def analyse(watches: list[Watch], sends: dict[str, list[list[Any]]]) -> dict[str, Any]:
    # The steady window: every run has started streaming and none has finished.
    spans = [(s[0][0], s[-1][0]) for w in watches if (s := sends.get(w.tag))]
    start = max((first for first, _ in spans), default=0.0)
    end = min((last for _, last in spans), default=0.0)
    every: list[float] = []
    steady: list[float] = []
    lost = gaps = wrong = 0
    for w in watches:
        sent = sends.get(w.tag, [])
        ends, total = [], 0
        for _, piece in sent:
            total += len(piece)
            ends.append(total)
        text = ""
        next_piece = 0
        for received, offset, chunk in w.chunks:
            text = text[:offset] + chunk
            while next_piece < len(ends) and ends[next_piece] <= len(text):
                sent_at = sent[next_piece][0]
                latency = (received - sent_at) * 1000
                every.append(latency)
                if start <= sent_at <= end:
                    steady.append(latency)
                next_piece += 1
        lost += len(sent) - next_piece
        wrong += text != "".join(piece for _, piece in sent) or w.terminal != "run_completed"
        # run_started and agent_turn (the snapshot), then one message per event.
        after_snapshot = w.ids[2:]
        gaps += sum(1 for a, b in itertools.pairwise(after_snapshot) if b != a + 1)
    wire = sum(w.chunk_wire_bytes for w in watches)
    text_bytes = sum(w.chunk_text_bytes for w in watches)
    return {
        "chunks": len(every),
        "latency_ms": summary(steady),
        "latency_ms_whole_run": summary(every),
        "lost": {"pieces": lost, "seq_gaps": gaps, "runs_not_completed_or_wrong_text": wrong},
        "wire": {
            "chunk_message_bytes": wire,
            "chunk_text_bytes": text_bytes,
            "ratio": round(wire / text_bytes, 2) if text_bytes else None,
        },
        "window": (start, end, len(steady)),
    }


def _cpu_at(samples: list[Sample], moment: float) -> float:
    """CPU seconds used by ``moment``, interpolated between samples."""
    for before, after in itertools.pairwise(samples):
        if before.at <= moment <= after.at:
            share = (moment - before.at) / (after.at - before.at) if after.at > before.at else 0
            return before.cpu_s + share * (after.cpu_s - before.cpu_s)
    return samples[-1].cpu_s if moment > samples[-1].at else samples[0].cpu_s


def window_usage(
    samples: list[Sample], window: tuple[float, float, int], streams: int
) -> dict[str, Any]:
    start, end, chunks = window
    idle = samples[0].rss_kib
    inside = [s.rss_kib for s in samples if start <= s.at <= end] or [
        max(s.rss_kib for s in samples)
    ]
    cpu = _cpu_at(samples, end) - _cpu_at(samples, start)
    seconds = end - start
    return {
        "steady_window_s": round(seconds, 1),
        "steady_chunks": chunks,
        "cpu_ms_per_1000_chunks": round(cpu * 1e6 / chunks, 1) if chunks else None,
        "server_cpu_pct_of_one_core": round(cpu / seconds * 100, 1) if seconds > 0 else None,
        "whole_run_cpu_s": round(samples[-1].cpu_s - samples[0].cpu_s, 2),
        "rss_idle_mib": round(idle / 1024, 1),
        "rss_streaming_mib": round(statistics.median(inside) / 1024, 1),
        "rss_kib_per_stream": round((statistics.median(inside) - idle) / streams, 1),
    }
