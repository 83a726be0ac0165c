"""What Tide adds to a streamed answer.

The same scripted server (in this process, no delay) sends the same 2,000-token answer to:
raw httpx reading SSE, `litellm.acompletion` alone (as is, and letting go of the chunks its
stream keeps, as Tide does), and a Tide agent turn inside a procedure with a minimal log
handler. Prints JSON: time per answer and per chunk for each; Tide's
overhead over LiteLLM and over raw httpx, in wall and CPU time, as the median of per-round
ratios; and how long each chunk takes from LiteLLM yielding it to the log handler receiving it
(p50/p99), measured with the server streaming at a model's pace.

Usage: python bench/stream_overhead.py [--tokens N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import anyio

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENAI_API_KEY", "bench-key")

PROCEDURE = """
bench = Agent {{ model = "openai/bench", api_base = "{base}", system_prompt = "Write." }}
Procedure {{ function(input) return {{ text = bench("go").output }} end }}
"""


class ChunkClock:
    """A log handler that notes when each chunk event arrives."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []

    def log(self, event: Any) -> None:
        if event.type == "agent_stream_chunk":
            self.arrivals.append(time.perf_counter())


def patch_litellm(yields: list[float]) -> None:
    """Record when LiteLLM yields each content chunk, whoever called it."""
    import litellm

    original = litellm.acompletion

    class Timed:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def __aiter__(self) -> Any:
            return self._iterate()

        async def _iterate(self) -> Any:
            async for chunk in self._inner:
                if chunk.choices and chunk.choices[0].delta.content:
                    yields.append(time.perf_counter())
                yield chunk

    async def timed(*args: Any, **kwargs: Any) -> Any:
        response = await original(*args, **kwargs)
        return Timed(response) if kwargs.get("stream") else response

    litellm.acompletion = timed


async def raw_httpx(base: str) -> tuple[float, int]:
    import httpx

    body = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    chunks = 0
    started = time.perf_counter()
    async with (
        httpx.AsyncClient(timeout=60) as client,
        client.stream("POST", f"{base}/chat/completions", json=body) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                delta = json.loads(line[6:])["choices"]
                if delta and delta[0]["delta"].get("content"):
                    chunks += 1
    return time.perf_counter() - started, chunks


async def litellm_alone(base: str, *, trimmed: bool = False) -> tuple[float, int]:
    """``trimmed``: let go of the chunks LiteLLM's stream keeps, as Tide's engine does."""
    import litellm

    chunks = 0
    started = time.perf_counter()
    response = await litellm.acompletion(
        model="openai/bench",
        api_base=base,
        api_key="bench-key",
        stream=True,
        messages=[{"role": "user", "content": "go"}],
        stream_options={"include_usage": True},
    )
    async for chunk in response:
        if trimmed and len(response.chunks) > 64:
            del response.chunks[:-2]
        if chunk.choices and chunk.choices[0].delta.content:
            chunks += 1
    return time.perf_counter() - started, chunks


async def tide_turn(runtime: Any, base: str, clock: ChunkClock) -> tuple[float, int]:
    started = time.perf_counter()
    result = await runtime.run(PROCEDURE.format(base=base), handlers=[clock])
    assert result.ok, result.error
    return time.perf_counter() - started, len(clock.arrivals)


async def measure(tokens: int, runs: int, pace: float) -> dict[str, Any]:
    from runtime import Runtime
    from runtime.model_server import Reply, ScriptedModelServer

    yields: list[float] = []
    patch_litellm(yields)
    names = ("raw_httpx", "litellm", "litellm_trimmed", "tide")
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    latencies: list[float] = []
    chunk_counts: dict[str, int] = {}
    async with ScriptedModelServer() as server, Runtime() as runtime:
        base = server.base_url
        for index in range(runs + 1):
            for name in names:
                server.append(Reply(tokens=tokens))
                yields.clear()
                cpu_started = time.process_time()
                if name == "raw_httpx":
                    elapsed, count = await raw_httpx(base)
                elif name.startswith("litellm"):
                    elapsed, count = await litellm_alone(base, trimmed=name == "litellm_trimmed")
                else:
                    clock = ChunkClock()
                    elapsed, count = await tide_turn(runtime, base, clock)
                chunk_counts[name] = count
                if index:  # the first round warms up connections and LiteLLM
                    times[name].append(elapsed)
                    cpu[name].append(time.process_time() - cpu_started)
        # Latency is measured at a model's pace: with no delay, chunks queue behind the reader
        # and the figure would be the backlog, not the cost of passing a chunk on.
        server.tokens_per_second = pace
        for _ in range(runs):
            server.append(Reply(tokens=400))
            yields.clear()
            clock = ChunkClock()
            await tide_turn(runtime, base, clock)
            latencies.extend(a - y for a, y in zip(clock.arrivals, yields, strict=False))
    median = {name: statistics.median(values) for name, values in times.items()}
    latencies.sort()
    return {
        "tokens": tokens,
        "runs": runs,
        "chunks": chunk_counts,
        "seconds_per_answer": {k: round(v, 4) for k, v in median.items()},
        "cpu_seconds_per_answer": {k: round(statistics.median(v), 4) for k, v in cpu.items()},
        "us_per_chunk": {k: round(v / max(chunk_counts[k], 1) * 1e6, 1) for k, v in median.items()},
        # Each round runs all three back to back, so its ratio is taken under one machine
        # load; the median of those ratios is steadier than a ratio of medians on a shared host.
        "tide_over_litellm": paired_overhead(times["tide"], times["litellm"]),
        "tide_over_litellm_cpu": paired_overhead(cpu["tide"], cpu["litellm"]),
        # LiteLLM's stream keeps every chunk; letting them go, as Tide does, makes each chunk
        # cheaper (memory reused rather than fresh). Against LiteLLM doing the same, what
        # remains is Tide's own cost.
        "tide_over_litellm_trimmed": paired_overhead(times["tide"], times["litellm_trimmed"]),
        "tide_over_raw_httpx": paired_overhead(times["tide"], times["raw_httpx"]),
        "chunk_to_handler_ms": {
            "tokens_per_second": pace,
            "p50": round(latencies[len(latencies) // 2] * 1000, 3),
            "p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3),
            "samples": len(latencies),
        },
        "targets": {"tide_over_litellm": 0.15, "chunk_to_handler_p99_ms": 1.0},
    }


def paired_overhead(values: list[float], baseline: list[float]) -> float:
    return round(statistics.median(v / b for v, b in zip(values, baseline, strict=True)) - 1, 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--pace", type=float, default=200.0, help="tokens/s for the latency runs")
    args = parser.parse_args()
    print(json.dumps(anyio.run(measure, args.tokens, args.runs, args.pace), indent=2))


if __name__ == "__main__":
    main()
