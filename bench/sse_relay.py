"""Benchmark of the IDE server's event relay, over real HTTP.

    .venv/bin/python bench/sse_relay.py [--streams 1,100,500] [--rate 2] [--window 10]

Three processes: the scripted model server streaming every answer at ``--rate`` tokens per
second (it notes when it sends each piece), the IDE server (``tide ide``'s application; the
model is reached over HTTP, as a remote one would be), and this client. For each N, runs start
at random times over a ramp (N/25 s, at least 2 s: starting a run costs far more than
streaming a chunk), each watched by its own SSE connection, and every answer is long enough
that all N stream at once for ``--window`` seconds. Measured in that steady window:

- ``latency_ms``: from the model server sending a piece of text to this client receiving the
  chunk event that carries it (p50, p99, max), through LiteLLM, the runtime, the relay and
  the network (``latency_ms_whole_run`` includes the ramp and the ends of the runs);
  ``relay_latency_ms``: from the runtime creating the chunk event (its ``ts``, as stored) to
  this client receiving it: the relay's, the HTTP server's and the network's share;
- ``cpu_ms_per_1000_chunks``: the IDE server's CPU per 1000 chunks relayed, most of it the
  model client's parsing (``fanout`` isolates what the relay itself costs per watcher);
- ``rss_kib_per_stream``: the IDE server's resident memory with N runs streaming, above its
  idle size, per run and its watcher (a run holds a thread and a Lua state);

and over the whole run: ``lost`` (pieces the model sent that the watcher never received, seq
gaps, runs that did not complete with the exact text: all must be 0) and ``wire`` (bytes of
chunk messages on the wire against the bytes of their text, live and in the snapshot a late
joiner gets). Prints JSON.
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
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay_stats import (
    Sample,
    Watch,
    analyse,
    cpu_s,
    relay_latencies,
    rss_kib,
    window_usage,
)

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
RETRYABLE = (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError)


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


async def watch(client: httpx.AsyncClient, run_id: str, w: Watch) -> None:
    w.run_id = run_id
    for attempt in range(3):
        try:
            await _watch_once(client, run_id, w)
            return
        except RETRYABLE:
            # A kept-alive connection closed under the request: nothing arrived, try again.
            if w.ids or attempt == 2:
                raise
            w.retries += 1


async def _watch_once(client: httpx.AsyncClient, run_id: str, w: Watch) -> None:
    async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        buffer = b""
        async for data in response.aiter_raw():
            received = time.monotonic()
            buffer += data
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
                if b"id" not in fields:
                    continue
                w.ids.append(int(fields[b"id"]))
                kind = fields.get(b"event", b"").decode()
                if kind == "agent_stream_chunk":
                    event = json.loads(fields[b"data"])
                    w.chunks.append((received, event["offset"], event["chunk_text"]))
                    w.chunk_walls.append((event["seq"], time.time()))
                    w.chunk_wire_bytes += len(block) + 2
                    w.chunk_text_bytes += len(event["chunk_text"].encode())
                elif kind in ("run_completed", "run_failed", "run_cancelled"):
                    w.terminal = kind
                    return


async def scenario(
    url: str,
    pid: int,
    model_url: str,
    workspace: Path,
    runs: int,
    watchers: int,
    ramp: float,
    label: str,
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=url, timeout=None, limits=limits) as client:
        samples = [Sample(time.monotonic(), cpu_s(pid), rss_kib(pid))]
        watches: list[Watch] = []

        # Random start times: streams at one rate started at regular intervals would send in
        # lockstep bursts, which no real set of users does.
        starts = sorted(random.Random(runs).uniform(0, ramp) for _ in range(runs))

        async def one(index: int) -> None:
            await anyio.sleep(starts[index])
            tag = f"{label} run {index} {time.monotonic_ns()}"
            answer = await client.post(
                "/api/runs", json={"path": "bench.tac", "inputs": {"tag": tag}}
            )
            answer.raise_for_status()
            run_id = answer.json()["run_id"]
            async with anyio.create_task_group() as group:
                for _ in range(watchers):
                    w = Watch(tag)
                    watches.append(w)
                    group.start_soon(watch, client, run_id, w)

        async def sample(stop: anyio.Event) -> None:
            while not stop.is_set():
                await anyio.sleep(0.25)
                samples.append(Sample(time.monotonic(), cpu_s(pid), rss_kib(pid)))

        stop = anyio.Event()
        async with anyio.create_task_group() as outer:
            outer.start_soon(sample, stop)
            async with anyio.create_task_group() as group:
                for index in range(runs):
                    group.start_soon(one, index)
            stop.set()
        sends = (await client.get(model_url.removesuffix("/v1") + "/_bench/sends")).json()
        # A watcher joining after the end gets the run as a snapshot, its chunks merged.
        late = Watch(watches[0].tag)
        await watch(client, watches[0].run_id, late)
    result = analyse(watches, sends)
    result["wire"]["late_joiner_snapshot_ratio"] = round(
        late.chunk_wire_bytes / late.chunk_text_bytes, 3
    )
    window = result.pop("window")
    database = workspace / ".tide" / "runs.db"
    result["relay_latency_ms"] = relay_latencies(watches, database, window)
    result.update(window_usage(samples, window, runs * watchers))
    result.update(
        streams=runs * watchers,
        runs=runs,
        ramp_s=round(ramp, 1),
        stream_open_retries=sum(w.retries for w in watches),
        seconds=round(samples[-1].at - samples[0].at, 1),
    )
    return result


async def measure(
    n: int, rate: float, tokens: int, watchers: int, ramp: float, label: str
) -> dict[str, Any]:
    model, model_info = start(["model", "--rate", str(rate), "--tokens", str(tokens)])
    with tempfile.TemporaryDirectory() as directory:
        workspace = Path(directory)
        (workspace / "bench.tac").write_text(PROCEDURE.format(base_url=model_info["base_url"]))
        ide, ide_info = start(
            ["ide", "--workspace", str(workspace), "--max-concurrent", str(max(n, 4))],
            # The model is "openai/..." at a local address: LiteLLM wants a key, never sent on.
            env={"OPENAI_API_KEY": "unused-by-the-scripted-server"},
        )
        url, pid, base = ide_info["url"], ide_info["pid"], model_info["base_url"]
        try:
            # A first run loads the model client and warms caches; it is not measured.
            await scenario(url, pid, base, workspace, 1, 1, 0, "warm")
            return await scenario(url, pid, base, workspace, n, watchers, ramp, label)
        finally:
            for process in (ide, model):
                process.terminate()
                process.wait(10)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "benchmark": "sse_relay",
        "cpus": os.cpu_count(),
        "rate_tokens_per_s": args.rate,
        "steady_window_s": args.window,
        "streams": {},
    }
    for n in args.streams:
        ramp = max(2.0, n / 25)
        tokens = math.ceil(args.rate * (ramp + args.window + 3))
        result["streams"][str(n)] = await measure(n, args.rate, tokens, 1, ramp, f"n{n}")
    if args.fanout:
        tokens = math.ceil(args.fanout_rate * (args.window + 3))
        one = await measure(1, args.fanout_rate, tokens, 1, 0, "fan1")
        many = await measure(1, args.fanout_rate, tokens, args.fanout, 0, "fanM")
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
    parser.add_argument("--fanout", type=int, default=100, help="watchers of one run (0: skip)")
    parser.add_argument("--fanout-rate", type=float, default=50.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.streams = [int(n) for n in args.streams.split(",") if n]
    result = anyio.run(main_async, args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
