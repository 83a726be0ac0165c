"""What ``sse_relay.py`` computes from what it observed: latencies, losses, wire bytes, and the
IDE server's CPU and memory over the steady window."""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Watch:
    """One SSE connection: what arrived, and when (``time.monotonic()``)."""

    tag: str
    run_id: str = ""
    # (seq, event type) of every message with an id, in order.
    ids: list[tuple[int, str]] = field(default_factory=list)
    # (receive time, offset, text, seq) of every chunk message.
    chunks: list[tuple[float, int, str, int]] = field(default_factory=list)
    # The model server's send time of the first piece each chunk message completed (or None),
    # filled in by ``analyse``.
    sent: list[float | None] = field(default_factory=list)
    # Chunk messages as the SSE text they are, against their text; and, of the reads that
    # held chunk messages only, the bytes that came over the wire (compressed or not).
    chunk_wire_bytes: int = 0
    chunk_text_bytes: int = 0
    raw_chunk_read_bytes: int = 0
    raw_chunk_read_text_bytes: int = 0
    # Everything read, as it came and decoded.
    raw_bytes: int = 0
    decoded_bytes: int = 0
    encoding: str = "identity"
    terminal: str | None = None
    # What a failed run's terminal event said.
    error: Any = None
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


def stages(
    watches: list[Watch],
    database: Path,
    writes: dict[str, list[list[float]]],
    window: tuple[float, float, int],
    marks_by_stage: dict[str, list[tuple[float, int]]] | None = None,
) -> dict[str, Any]:
    """Where the time of each chunk goes, for the chunks whose piece was sent in the steady
    window: model server send -> the runtime creating the event (its ``ts``, kept by the
    store) -> the relay handing its message to the HTTP server (uncompressed streams only)
    -> this client receiving it. ``relay_ms`` is ts -> client, the relay's, the HTTP server's
    and the network's share. Also checks every non-chunk event in the store arrived.

    ``ts`` is wall-clock time; it is moved onto the monotonic clock with this process's
    offset between the two, which every process on the machine shares."""
    offset = time.time() - time.monotonic()
    start, end, _ = window
    parts: dict[str, list[float]] = {
        k: [] for k in ("model_to_event", "event_to_write", "write_to_client", "relay")
    }
    missing = 0
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        for w in watches:
            rows = conn.execute(
                "SELECT seq, type, ts FROM events WHERE run_id = ?", (w.run_id,)
            ).fetchall()
            created = {seq: ts / 1e6 - offset for seq, kind, ts in rows}
            got = {seq for seq, _ in w.ids}
            missing += sum(
                1 for seq, kind, _ in rows if kind != "agent_stream_chunk" and seq not in got
            )
            written = dict((int(seq), at) for seq, at in writes.get(w.run_id, []))
            for (received, _, _, seq), sent in zip(w.chunks, w.sent, strict=True):
                at = created.get(seq)
                if at is None or sent is None or not start <= sent <= end:
                    continue
                parts["model_to_event"].append((at - sent) * 1000)
                parts["relay"].append((received - at) * 1000)
                if seq in written:
                    parts["event_to_write"].append((written[seq] - at) * 1000)
                    parts["write_to_client"].append((received - written[seq]) * 1000)
    result: dict[str, Any] = {name: summary(values) for name, values in parts.items()}
    # Inside model_to_event: from the send to the IDE server's socket reader, to LiteLLM
    # yielding the chunk, and to Tide's model client taking it (the chunk's id has its send).
    for stage, marks in (marks_by_stage or {}).items():
        first: dict[int, float] = {}
        for at, sent in marks:
            first.setdefault(sent, at)
        result[f"model_to_{stage}"] = summary(
            [(at - sent / 1e9) * 1000 for sent, at in first.items() if start <= sent / 1e9 <= end]
        )
    result["events_missing"] = missing
    return result


def analyse(watches: list[Watch], sends: dict[str, list[list[Any]]]) -> dict[str, Any]:
    # The steady window: every run has started streaming and none has finished.
    # (Runs that failed are counted below; their short spans would leave no window.)
    spans = [
        (s[0][0], s[-1][0])
        for w in watches
        if (s := sends.get(w.tag)) and w.terminal == "run_completed"
    ]
    start = max((first for first, _ in spans), default=0.0)
    end = min((last for _, last in spans), default=0.0)
    steady_found = end > start
    if not steady_found:
        # The server was too slow to start the last runs before the first ones ended: no
        # moment had all N streaming, and the whole run stands in for the window.
        start = min((first for first, _ in spans), default=0.0)
        end = max((last for _, last in spans), default=0.0)
    every: list[float] = []
    steady: list[float] = []
    lost = disorder = wrong = 0
    for w in watches:
        sent = sends.get(w.tag, [])
        ends, total = [], 0
        for _, piece in sent:
            total += len(piece)
            ends.append(total)
        text = ""
        next_piece = 0
        w.sent = []
        for received, offset, chunk, _ in w.chunks:
            # A live chunk starts where the text so far ends: a gap or an overlap is a loss
            # or a duplicate (a merged chunk stands for several events, with the last's id).
            disorder += offset != len(text)
            text = text[:offset] + chunk
            first: float | None = None
            while next_piece < len(ends) and ends[next_piece] <= len(text):
                sent_at = sent[next_piece][0]
                first = sent_at if first is None else first
                latency = (received - sent_at) * 1000
                every.append(latency)
                if start <= sent_at <= end:
                    steady.append(latency)
                next_piece += 1
            w.sent.append(first)
        lost += len(sent) - next_piece
        wrong += text != "".join(piece for _, piece in sent) or w.terminal != "run_completed"
        seqs = [seq for seq, _ in w.ids]
        disorder += sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
    return {
        "chunks": len(every),
        "latency_ms": summary(steady),
        "latency_ms_whole_run": summary(every),
        "lost": {
            "pieces": lost,
            "out_of_order_or_gap": disorder,
            "runs_not_completed_or_wrong_text": wrong,
        },
        "wire": wire_ratios(watches),
        "errors": sorted({str(w.error) for w in watches if w.error is not None})[:5],
        "all_streaming_at_once": steady_found,
        "window": (start, end, len(steady)),
    }


def wire_ratios(watches: list[Watch]) -> dict[str, Any]:
    """Bytes of chunk messages per byte of their text: as SSE text, and as they came over the
    wire (compressed when the stream was)."""
    text = sum(w.chunk_text_bytes for w in watches)
    raw_text = sum(w.raw_chunk_read_text_bytes for w in watches)
    raw = sum(w.raw_chunk_read_bytes for w in watches)
    return {
        "encoding": watches[0].encoding if watches else None,
        "chunk_messages": sum(len(w.chunks) for w in watches),
        "chunk_text_bytes": text,
        "sse_ratio": round(sum(w.chunk_wire_bytes for w in watches) / text, 2) if text else None,
        "wire_ratio": round(raw / raw_text, 2) if raw_text else None,
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


# --- What holds up an event loop -------------------------------------------------------------


class LoopProbe:
    """Measures, in the process it runs in, what holds up that process's event loop.

    - ``lags``: how late a short timer fires (whatever ran in between delayed every task);
    - ``gcs``: each garbage collection's generation and duration (a stop-the-world pause);
    - ``slow``: callbacks that ran longer than ``slow_ms``, by where their task stopped (patched
      into asyncio's ``Handle._run`` while the probe runs: a timer read per callback).

    Times are ``time.monotonic()``, the machine's clock, so other processes can compare them.
    """

    def __init__(self, period_s: float = 0.005, slow_ms: float | None = 5.0) -> None:
        self.period_s = period_s
        self.slow_ms = slow_ms
        self.lags: list[tuple[float, float]] = []
        self.gcs: list[tuple[float, int, float]] = []
        self.slow: list[tuple[float, float, str]] = []
        self._gc_started = 0.0

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_started = now
        else:
            took = (now - self._gc_started) * 1000
            self.gcs.append((time.monotonic(), int(info["generation"]), took))

    def _patch(self) -> Callable[[], None]:
        """Time every callback; returns what undoes it."""
        original = asyncio.events.Handle._run
        if self.slow_ms is None:
            return lambda: None
        limit = self.slow_ms / 1000
        slow = self.slow

        def timed(handle: asyncio.Handle) -> None:
            start = time.perf_counter()
            original(handle)
            took = time.perf_counter() - start
            if took > limit:
                slow.append((time.monotonic(), took * 1000, _describe(handle)))

        asyncio.events.Handle._run = timed  # type: ignore[method-assign,assignment]

        def undo() -> None:
            asyncio.events.Handle._run = original  # type: ignore[method-assign]

        return undo

    async def run(self) -> None:
        gc.callbacks.append(self._on_gc)
        undo = self._patch()
        try:
            while True:
                due = time.monotonic() + self.period_s
                await asyncio.sleep(self.period_s)
                now = time.monotonic()
                self.lags.append((now, (now - due) * 1000))
        finally:
            gc.callbacks.remove(self._on_gc)
            undo()

    def raw(self) -> dict[str, Any]:
        return {"lags": self.lags, "gcs": self.gcs, "slow": self.slow}


def _describe(handle: asyncio.Handle) -> str:
    """What a slow callback was: for a task's step, where its coroutines now wait."""
    callback = handle._callback  # type: ignore[attr-defined]
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        where: list[str] = []
        coro: Any = owner.get_coro()
        while coro is not None and len(where) < 8:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
            name = getattr(coro, "__qualname__", type(coro).__name__)
            where.append(f"{name}:{frame.f_lineno if frame else '-'}")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        return "task " + " > ".join(where)
    return str(getattr(callback, "__qualname__", callback))


def loop_summary(raw: dict[str, Any], start: float, end: float) -> dict[str, Any]:
    """A probe's findings between ``start`` and ``end`` (monotonic)."""
    lags = [lag for at, lag in raw["lags"] if start <= at <= end]
    gcs = [(gen, took) for at, gen, took in raw["gcs"] if start <= at <= end]
    slow: dict[str, list[float]] = {}
    for at, took, what in raw["slow"]:
        if start <= at <= end:
            slow.setdefault(what, []).append(took)
    top = sorted(slow.items(), key=lambda item: -sum(item[1]))[:8]
    return {
        "lag_ms": summary(lags),
        "lags_over_10ms": sum(1 for lag in lags if lag > 10),
        "gc": {
            f"gen{gen}": {
                "count": len(took := [t for g, t in gcs if g == gen]),
                "max_ms": round(max(took), 2) if took else None,
                "total_ms": round(sum(took), 1),
            }
            for gen in (0, 1, 2)
        },
        "slow_callbacks": [
            {
                "what": what,
                "count": len(times),
                "total_ms": round(sum(times), 1),
                "max_ms": round(max(times), 1),
            }
            for what, times in top
        ],
    }
