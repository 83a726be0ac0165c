"""Benchmark of the IDE server's event relay, over real HTTP.

    .venv/bin/python bench/sse_relay.py [--streams 1,100,500] [--rate 2] [--window 10]
        [--coalesce-ms 0] [--wire-rates 50,200] [--wire-coalesce-ms 50] [--fanout 100]

Three processes: the scripted model server streaming every answer at ``--rate`` tokens per
second (it notes when it sends each piece), the IDE server (``tide ide``'s application; the
model is reached over HTTP, as a remote one would be), and this client. For each N, runs start
at random times over a ramp (N/25 s, at least 2 s: starting a run costs far more than
streaming a chunk), each watched by its own SSE connection, and every answer is long enough
that all N stream at once for ``--window`` seconds. Measured in that steady window:

- ``latency_ms``: from the model server sending a piece of text to this client receiving the
  chunk event that carries it (p50, p99, max), through LiteLLM, the runtime, the relay and
  the network (``latency_ms_whole_run`` includes the ramp and the ends of the runs);
- ``baseline_ms``: the same N streams read by this client straight from the model server (no
  Tide in the path: the same server, rate, ramp and client), and ``added_ms``, the difference
  of the two at p50 and p99: what Tide adds;
- ``stages_ms``: where each chunk's time goes: model server -> the runtime creating the
  event (its ``ts``) -> the relay handing it to the HTTP server -> this client; ``relay`` is
  ts -> client, the relay's, the HTTP server's and the network's share;
- ``loops``: each process's event-loop lag, GC pauses and slow callbacks (``LoopProbe``):
  a late timer in this client means it, not the server, was measured;
- ``cpu_ms_per_1000_chunks``: the IDE server's CPU per 1000 chunks relayed, most of it the
  model client's parsing (``fanout`` isolates what the relay itself costs per watcher);
- ``rss_kib_per_stream``: the IDE server's resident memory with N runs streaming, above its
  idle size, per run and its watcher (a run holds a thread and a Lua state);

and over the whole run: ``lost`` (pieces the model sent that the watcher never received,
chunks out of order, runs that did not complete with the exact text: all must be 0) and
``wire`` (chunk messages' bytes against their text's, as SSE text and as sent, gzip-compressed
unless ``--no-gzip``; live, in the snapshot a late joiner gets, and for one stream at the
``--wire-rates``, each measured twice: every chunk its own message, and with the server
gathering live chunks for ``--wire-coalesce-ms``, the IDE's window, with the latency each
costs). ``--coalesce-ms`` is the window every other watcher asks for (``?coalesce_ms=``;
default 0, none). Prints JSON. ``TIDE_BENCH_DUMP=FILE`` also writes everything observed in the
last scenario (every message's arrival, every send, the IDE server's probe) to FILE.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay_stats import (
    LoopProbe,
    Sample,
    Watch,
    analyse,
    cpu_s,
    loop_summary,
    rss_kib,
    stages,
    window_usage,
)
from relay_watch import read_events, read_model

HERE = Path(__file__).resolve().parent
LOGS = Path(tempfile.gettempdir()) / "tide-bench-logs"
PROCEDURE = """
writer = Agent {{
  model = "openai/tide-scripted",
  api_base = "{base_url}",
  price = {{ input = 0, output = 0 }},
  system_prompt = "You write.",
}}
Procedure {{
  input = {{ tag = field.string{{ required = true }} }},
  function(input)
    return {{ text = writer(input.tag).message }}
  end
}}
"""
Reader = Callable[[httpx.AsyncClient, str, Watch], Coroutine[Any, Any, None]]
# The window the IDE asks for (COALESCE_MS in frontend/src/run/stream.ts).
WIRE_COALESCE_MS = 50


def start(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], Any]:
    """Start one of the servers; its log goes to a file under the temporary directory."""
    LOGS.mkdir(exist_ok=True)
    log = (LOGS / f"{args[0]}-{time.monotonic_ns()}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(HERE / "relay_servers.py"), *args],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the {args[0]} server did not start; see {log.name}")
    return process, json.loads(line)


def stop(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        process.terminate()
        process.wait(10)


async def drive(
    client: httpx.AsyncClient,
    runs: int,
    ramp: float,
    label: str,
    open_stream: Callable[[str], Awaitable[str]],
    reader: Reader,
    watchers: int = 1,
) -> list[Watch]:
    """Start ``runs`` streams at random times over ``ramp`` seconds and read them to the end.
    Random: streams at one rate started at regular intervals would send in lockstep bursts,
    which no real set of users does."""
    watches: list[Watch] = []
    # One generator for all: a generator seeded anew for each start would give every run the
    # same start, and N streams at one rate would send in lockstep bursts of N chunks.
    rng = random.Random(runs)
    starts = sorted(rng.uniform(0, ramp) for _ in range(runs))

    async def one(index: int) -> None:
        await anyio.sleep(starts[index])
        tag = f"{label} run {index} {time.monotonic_ns()}"
        target = await open_stream(tag)
        async with anyio.create_task_group() as group:
            for _ in range(watchers):
                w = Watch(tag)
                watches.append(w)
                group.start_soon(reader, client, target, w)

    async with anyio.create_task_group() as group:
        for index in range(runs):
            group.start_soon(one, index)
    return watches


def _client(url: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    return httpx.AsyncClient(base_url=url, timeout=None, limits=limits)


async def diag(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    result: dict[str, Any] = (await client.get(url)).json()
    return result


async def scenario(
    ide_url: str,
    pid: int,
    model_url: str,
    workspace: Path,
    runs: int,
    watchers: int,
    ramp: float,
    label: str,
    gzip: bool,
    coalesce_ms: int,
) -> dict[str, Any]:
    probe = LoopProbe()
    async with _client(ide_url) as client, anyio.create_task_group() as tasks:
        tasks.start_soon(probe.run)
        samples = [Sample(time.monotonic(), cpu_s(pid), rss_kib(pid))]

        async def open_run(tag: str) -> str:
            answer = await client.post(
                "/api/runs", json={"path": "bench.tac", "inputs": {"tag": tag}}
            )
            answer.raise_for_status()
            return str(answer.json()["run_id"])

        async def reader(client: httpx.AsyncClient, run_id: str, w: Watch) -> None:
            await read_events(client, run_id, w, gzip=gzip, coalesce_ms=coalesce_ms)

        async def sample() -> None:
            while True:
                await anyio.sleep(0.25)
                samples.append(Sample(time.monotonic(), cpu_s(pid), rss_kib(pid)))

        async with anyio.create_task_group() as sampling:
            sampling.start_soon(sample)
            watches = await drive(client, runs, ramp, label, open_run, reader, watchers)
            sampling.cancel_scope.cancel()
        base = model_url.removesuffix("/v1")
        sends = await diag(client, base + "/_bench/sends")
        model_loop = await diag(client, base + "/_bench/diag")
        ide_loop = await diag(client, "/_bench/diag")
        # A watcher joining after the end gets the run as a snapshot, its chunks merged.
        late = {encoding: Watch(watches[0].tag) for encoding in ("identity", "gzip")}
        for encoding, w in late.items():
            await read_events(
                client, watches[0].run_id, w, gzip=encoding == "gzip", coalesce_ms=coalesce_ms
            )
        tasks.cancel_scope.cancel()
    if os.environ.get("TIDE_BENCH_DUMP") and label != "warm":
        # Everything observed, for a closer look at a run than the summary gives.
        raw = {"watches": [vars(w) for w in watches], "sends": sends, "ide": ide_loop}
        Path(os.environ["TIDE_BENCH_DUMP"]).write_text(json.dumps(raw))
    result = analyse(watches, sends)
    # The snapshot comes in one write with the other events: its chunks' share of the bytes
    # sent is taken as their share of the bytes decoded.
    result["wire"]["late_joiner_snapshot"] = {
        encoding: {
            "sse_ratio": round(w.chunk_wire_bytes / w.chunk_text_bytes, 3),
            "wire_ratio": round(
                w.chunk_wire_bytes * w.raw_bytes / w.decoded_bytes / w.chunk_text_bytes, 3
            ),
        }
        for encoding, w in late.items()
    }
    window = result.pop("window")
    database = workspace / ".tide" / "runs.db"
    result["stages_ms"] = stages(
        watches, database, ide_loop.pop("writes"), window, ide_loop.pop("marks")
    )
    start_at, end_at, _ = window
    result["loops"] = {
        name: loop_summary(raw, start_at, end_at)
        for name, raw in (("ide", ide_loop), ("model", model_loop), ("client", probe.raw()))
    }
    result.update(window_usage(samples, window, runs * watchers))
    result.update(
        streams=runs * watchers,
        runs=runs,
        ramp_s=round(ramp, 1),
        stream_open_retries=sum(w.retries for w in watches),
        seconds=round(samples[-1].at - samples[0].at, 1),
    )
    return result


async def baseline(n: int, rate: float, tokens: int, ramp: float, label: str) -> dict[str, Any]:
    """The same N streams, read straight from the model server: what the model server, the
    network and this client cost without Tide."""
    model, info = start(["model", "--rate", str(rate), "--tokens", str(tokens)])
    base = info["base_url"]
    probe = LoopProbe()
    try:
        async with _client(base) as client, anyio.create_task_group() as tasks:
            tasks.start_soon(probe.run)

            async def open_stream(tag: str) -> str:
                return tag

            watches = await drive(client, n, ramp, label, open_stream, read_model)
            sends = await diag(client, base.removesuffix("/v1") + "/_bench/sends")
            model_loop = await diag(client, base.removesuffix("/v1") + "/_bench/diag")
            tasks.cancel_scope.cancel()
    finally:
        stop(model)
    result = analyse(watches, sends)
    start_at, end_at, _ = result["window"]
    return {
        "latency_ms": result["latency_ms"],
        "lost": result["lost"],
        "loops": {
            "model": loop_summary(model_loop, start_at, end_at),
            "client": loop_summary(probe.raw(), start_at, end_at),
        },
    }


async def measure(
    n: int,
    rate: float,
    tokens: int,
    watchers: int,
    ramp: float,
    label: str,
    gzip: bool,
    coalesce_ms: int = 0,
) -> dict[str, Any]:
    model, model_info = start(["model", "--rate", str(rate), "--tokens", str(tokens)])
    with tempfile.TemporaryDirectory() as directory:
        workspace = Path(directory)
        (workspace / "bench.tac").write_text(PROCEDURE.format(base_url=model_info["base_url"]))
        ide, ide_info = start(
            ["ide", "--workspace", str(workspace), "--max-concurrent", str(max(n, 4))],
            # The model is "openai/..." at a local address: LiteLLM wants a key, never sent on.
            env={
                "OPENAI_API_KEY": "unused-by-the-scripted-server",
                # Experiments: extra packages for the IDE server only (TIDE_BENCH_IDE_PATH).
                **(
                    {"PYTHONPATH": extra}
                    if (extra := os.environ.get("TIDE_BENCH_IDE_PATH"))
                    else {}
                ),
            },
        )
        url, pid, base = ide_info["url"], ide_info["pid"], model_info["base_url"]
        try:
            # A first run loads the model client and warms caches; it is not measured.
            await scenario(url, pid, base, workspace, 1, 1, 0, "warm", gzip, coalesce_ms)
            return await scenario(
                url, pid, base, workspace, n, watchers, ramp, label, gzip, coalesce_ms
            )
        finally:
            stop(ide, model)


def _added(tide: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    def minus(key: str) -> float | None:
        a, b = tide["latency_ms"][key], base["latency_ms"][key]
        return None if a is None or b is None else round(a - b, 2)

    return {"p50": minus("p50"), "p99": minus("p99")}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "benchmark": "sse_relay",
        "cpus": os.cpu_count(),
        "rate_tokens_per_s": args.rate,
        "steady_window_s": args.window,
        "gzip": args.gzip,
        "coalesce_ms": args.coalesce_ms,
        "streams": {},
    }
    for n in args.streams:
        ramp = max(2.0, n / 25)
        tokens = math.ceil(args.rate * (ramp + args.window + 3))
        tide = await measure(n, args.rate, tokens, 1, ramp, f"n{n}", args.gzip, args.coalesce_ms)
        if args.baseline:
            base = await baseline(n, args.rate, tokens, ramp, f"b{n}")
            tide["baseline"] = base
            tide["added_ms"] = _added(tide, base)
        result["streams"][str(n)] = tide
    wire: dict[str, Any] = {}
    for rate in args.wire_rates:
        tokens = math.ceil(rate * (args.window + 3))
        by_window: dict[str, Any] = {}
        wire[str(rate)] = by_window
        for ms in sorted({0, args.wire_coalesce_ms}):
            one = await measure(1, rate, tokens, 1, 0, f"w{rate}c{ms}", args.gzip, ms)
            by_window[f"coalesce_ms_{ms}"] = {
                "wire": one["wire"],
                "latency_ms": one["latency_ms"],
                "relay_ms": one["stages_ms"]["relay"],
            }
    if wire:
        result["wire_one_stream_by_rate"] = wire
    if args.fanout:
        tokens = math.ceil(args.fanout_rate * (args.window + 3))
        one = await measure(1, args.fanout_rate, tokens, 1, 0, "fan1", args.gzip, args.coalesce_ms)
        many = await measure(
            1, args.fanout_rate, tokens, args.fanout, 0, "fanM", args.gzip, args.coalesce_ms
        )
        result["fanout"] = {
            "rate_tokens_per_s": args.fanout_rate,
            "watchers": args.fanout,
            "one_watcher": one,
            "many_watchers": many,
            "cpu_ms_per_1000_chunks_per_extra_watcher": round(
                (many["whole_run_cpu_s"] - one["whole_run_cpu_s"])
                * 1e6
                / (many["chunks"] - one["chunks"]),
                3,
            ),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", default="1,100,500")
    parser.add_argument("--rate", type=float, default=2.0, help="tokens per second per stream")
    parser.add_argument("--window", type=float, default=10.0, help="seconds of steady state")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument("--no-gzip", dest="gzip", action="store_false")
    parser.add_argument(
        "--coalesce-ms", type=int, default=0, help="the window the watchers ask for (ms)"
    )
    parser.add_argument("--wire-rates", default="50,200", help="one stream at each (tokens/s)")
    parser.add_argument(
        "--wire-coalesce-ms",
        type=int,
        default=WIRE_COALESCE_MS,
        help="the window the wire bytes at each rate are also measured with (ms)",
    )
    parser.add_argument("--fanout", type=int, default=100, help="watchers of one run (0: skip)")
    parser.add_argument("--fanout-rate", type=float, default=50.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.streams = [int(n) for n in args.streams.split(",") if n]
    args.wire_rates = [float(r) for r in args.wire_rates.split(",") if r]
    result = anyio.run(main_async, args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
