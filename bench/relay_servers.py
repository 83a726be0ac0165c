"""The two servers ``sse_relay.py`` starts, each in a process of its own.

    python bench/relay_servers.py model --rate 5 --tokens 50
    python bench/relay_servers.py ide --workspace DIR --max-concurrent 500

Each prints one JSON line (its URL and pid) once it listens, then serves until killed.

``model`` is the scripted model server with a recorder around it that notes, for every
streamed piece of text, the ``time.monotonic()`` just before it is sent; ``GET /_bench/sends``
returns them by prompt. (The clock is the machine's, the same in every process, so a client
can subtract its own readings.)

It also puts that moment in each chunk's id (``chatcmpl-t<ns>``), which LiteLLM passes on, so
that the IDE server can note when each chunk reaches its socket reader, LiteLLM's output and
Tide's model client (``trace_model_client``).

Both run a ``LoopProbe`` (event-loop lag, GC pauses, slow callbacks) whose raw findings
``GET /_bench/diag`` returns; the IDE server's also has those chunk marks and, for every
event-stream message it wrote uncompressed, the moment it handed it to the HTTP server. For a
closer look at its memory: ``GET /_bench/heap`` (tracked objects by type), ``/_bench/garbage``
(what a full collection would free, by type) and ``/_bench/collect`` (one, timed).

Experiments, by environment variable: ``TIDE_BENCH_NO_GC`` (the IDE server without garbage
collection), ``TIDE_BENCH_UVLOOP`` (the IDE server on uvloop, if importable),
``TIDE_BENCH_IN_PROCESS`` (runs in the IDE server's own process, not in executors).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
from relay_stats import LoopProbe, rss_kib
from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def send_json(send: Send, value: Any) -> None:
    payload = json.dumps(value).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


ANSWER_ID = re.compile(rb'"chatcmpl-tide\d+"')
SENT_ID = re.compile(rb'"chatcmpl-t(\d+)"')


class SendRecorder:
    """ASGI middleware: the send time of every streamed content piece, by the prompt."""

    def __init__(self, app: ASGIApp, probe: LoopProbe) -> None:
        self.app = app
        self.probe = probe
        self.sends: dict[str, list[tuple[float, str]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/sends":
            await send_json(send, self.sends)
            return
        if scope["type"] == "http" and scope["path"] == "/_bench/diag":
            await send_json(send, self.probe.raw())
            return
        if scope["type"] != "http" or scope["path"] != "/v1/chat/completions":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        record: list[tuple[float, str]] = []

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    request = json.loads(body)
                    users = [m for m in request["messages"] if m.get("role") == "user"]
                    self.sends[str(users[-1]["content"])] = record
            return message

        async def send_and_note(message: Message) -> None:
            data = message.get("body", b"") if message["type"] == "http.response.body" else b""
            at = time.monotonic()
            if data.startswith(b"data: {"):
                # Each chunk carries its send time in its id, which LiteLLM passes on: the IDE
                # server notes when each reaches its stages (see ``trace_model_client``).
                data = ANSWER_ID.sub(b'"chatcmpl-t%d"' % int(at * 1e9), data, count=1)
                message = {**message, "body": data}
            await send(message)
            if data.startswith(b"data: {"):
                choices = json.loads(data[6:])["choices"]
                content = choices[0]["delta"].get("content") if choices else None
                if content:
                    record.append((at, content))

        await self.app(scope, receive_and_keep, send_and_note)


def heap() -> dict[str, Any]:
    """What a full garbage collection would walk: the tracked objects not frozen, by type."""
    import collections
    import gc

    objects = gc.get_objects()
    kinds = collections.Counter(
        f"{getattr(type(o), '__module__', '?')}.{type(o).__qualname__}" for o in objects
    )
    return {
        "tracked": len(objects),
        "frozen": gc.get_freeze_count(),
        "top": kinds.most_common(25),
    }


def garbage() -> dict[str, Any]:
    """What a full collection would free now (reference cycles only), by type."""
    import collections
    import gc

    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = list(gc.garbage)
        gc.garbage.clear()
    finally:
        gc.set_debug(0)
    kinds = collections.Counter(
        f"{getattr(type(o), '__module__', '?')}.{type(o).__qualname__}" for o in found
    )
    return {"objects": len(found), "top": kinds.most_common(40)}


class WriteRecorder:
    """ASGI middleware around the IDE server: the moment each event-stream message is handed
    to the HTTP server (uncompressed streams only), and ``/_bench/diag``."""

    def __init__(
        self, app: ASGIApp, probe: LoopProbe, marks: dict[str, list[tuple[float, int]]]
    ) -> None:
        self.app = app
        self.probe = probe
        self.marks = marks
        self.writes: dict[str, list[tuple[int, float]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path == "/_bench/collect":
            import gc

            started = time.perf_counter()
            found = gc.collect()
            took = (time.perf_counter() - started) * 1000
            await send_json(send, {"collected": found, "ms": took, "rss_kib": rss_kib(os.getpid())})
            return
        if scope["type"] == "http" and path == "/_bench/garbage":
            await send_json(send, garbage())
            return
        if scope["type"] == "http" and path == "/_bench/heap":
            await send_json(send, heap())
            return
        if scope["type"] == "http" and path == "/_bench/diag":
            await send_json(send, {**self.probe.raw(), "writes": self.writes, "marks": self.marks})
            return
        if scope["type"] != "http" or not path.endswith("/events"):
            await self.app(scope, receive, send)
            return
        record = self.writes.setdefault(path.split("/")[3], [])
        plain = True

        async def send_and_note(message: Message) -> None:
            nonlocal plain
            if message["type"] == "http.response.start":
                plain = not any(k == b"content-encoding" for k, _ in message.get("headers", []))
            at = time.monotonic()
            await send(message)
            body = message.get("body", b"") if message["type"] == "http.response.body" else b""
            if plain and body:
                for line in body.split(b"\n"):
                    if line.startswith(b"id: "):
                        record.append((int(line[4:]), at))

        await self.app(scope, receive, send_and_note)


async def serve_model(rate: float, tokens: int, stall: float) -> None:
    from runtime.model_server import Reply, Script, ScriptedModelServer

    script = Script(replies=[Reply(tokens=tokens, repeat=True, stall_before_first_token=stall)])
    server = ScriptedModelServer(script, tokens_per_second=rate)
    probe = LoopProbe()
    server.app = SendRecorder(server.app, probe)  # type: ignore[assignment]
    async with server, anyio.create_task_group() as tasks:
        tasks.start_soon(probe.run)
        print(json.dumps({"base_url": server.base_url, "pid": os.getpid()}), flush=True)
        await anyio.sleep_forever()


def trace_model_client() -> dict[str, list[tuple[float, int]]]:
    """Note when each model chunk (by the send time in its id) reaches the IDE server's
    socket reader (aiohttp's ``StreamReader.feed_data``, in the event loop) and Tide's chunk
    reader: first in the engine as LiteLLM yields it, then in the model client's consumer."""
    import aiohttp.streams

    from runtime.models._dspy import ChunkReader

    marks: dict[str, list[tuple[float, int]]] = {"socket": [], "litellm": [], "client": []}
    seen: set[int] = set()
    feed_data = aiohttp.streams.StreamReader.feed_data
    feed = ChunkReader.feed

    def noting_feed_data(self: Any, data: bytes, *args: Any) -> Any:
        at = time.monotonic()
        for match in SENT_ID.finditer(data):
            marks["socket"].append((at, int(match[1])))
        return feed_data(self, data, *args)

    def noting_feed(self: Any, chunk: Any) -> Any:
        at = time.monotonic()
        found = SENT_ID.fullmatch(f'"{getattr(chunk, "id", "")}"'.encode())
        if found:
            sent = int(found[1])
            stage = "client" if sent in seen else "litellm"
            seen.add(sent)
            marks[stage].append((at, sent))
        return feed(self, chunk)

    aiohttp.streams.StreamReader.feed_data = noting_feed_data  # type: ignore[method-assign,assignment]
    ChunkReader.feed = noting_feed  # type: ignore[method-assign]
    return marks


async def serve_ide(workspace: Path, max_concurrent: int) -> None:
    from ide_backend.app import create_app
    from ide_backend.server import running_server
    from ide_backend.settings import Settings
    from runtime.config import RuntimeConfig

    settings = Settings(
        workspace=workspace,
        max_concurrent=max_concurrent,
        executors=not os.environ.get("TIDE_BENCH_IN_PROCESS"),
        # Each run holds a thread for its Lua code while it waits for its model.
        runtime=RuntimeConfig(max_lua_threads=max_concurrent + 16),
    )
    if os.environ.get("TIDE_BENCH_NO_GC"):
        import gc

        gc.disable()

    probe = LoopProbe()
    app = WriteRecorder(create_app(settings), probe, trace_model_client())
    async with running_server(app) as url, anyio.create_task_group() as tasks:
        tasks.start_soon(probe.run)
        print(json.dumps({"url": url, "pid": os.getpid()}), flush=True)
        await anyio.sleep_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="server", required=True)
    model = sub.add_parser("model")
    model.add_argument("--rate", type=float, required=True)
    model.add_argument("--tokens", type=int, required=True)
    model.add_argument("--stall", type=float, default=0.0)
    ide = sub.add_parser("ide")
    ide.add_argument("--workspace", type=Path, required=True)
    ide.add_argument("--max-concurrent", type=int, required=True)
    args = parser.parse_args()
    target: Any
    if args.server == "model":
        target = serve_model(args.rate, args.tokens, args.stall)
    else:
        target = serve_ide(args.workspace, args.max_concurrent)
    uvloop = args.server == "ide" and os.environ.get("TIDE_BENCH_UVLOOP")
    options = {"use_uvloop": True} if uvloop else {}
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(lambda: target, backend_options=options)


if __name__ == "__main__":
    main()
