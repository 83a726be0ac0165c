"""The two servers ``sse_relay.py`` starts, each in a process of its own.

    python bench/relay_servers.py model --rate 5 --tokens 50
    python bench/relay_servers.py ide --workspace DIR --max-concurrent 500

Each prints one JSON line (its URL and pid) once it listens, then serves until killed.

``model`` is the scripted model server with a recorder around it that notes, for every
streamed piece of text, the ``time.monotonic()`` just before it is sent; ``GET /_bench/sends``
returns them by prompt. (The clock is the machine's, the same in every process, so a client
can subtract its own readings.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SendRecorder:
    """ASGI middleware: the send time of every streamed content piece, by the prompt."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.sends: dict[str, list[tuple[float, str]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/sends":
            await self._report(send)
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
            await send(message)
            if data.startswith(b"data: {"):
                choices = json.loads(data[6:])["choices"]
                content = choices[0]["delta"].get("content") if choices else None
                if content:
                    record.append((at, content))

        await self.app(scope, receive_and_keep, send_and_note)

    async def _report(self, send: Send) -> None:
        payload = json.dumps(self.sends).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


async def serve_model(rate: float, tokens: int, stall: float) -> None:
    from runtime.model_server import Reply, Script, ScriptedModelServer

    script = Script(replies=[Reply(tokens=tokens, repeat=True, stall_before_first_token=stall)])
    server = ScriptedModelServer(script, tokens_per_second=rate)
    server.app = SendRecorder(server.app)  # type: ignore[assignment]
    async with server:
        print(json.dumps({"base_url": server.base_url, "pid": os.getpid()}), flush=True)
        await anyio.sleep_forever()


async def serve_ide(workspace: Path, max_concurrent: int) -> None:
    from ide_backend.app import create_app
    from ide_backend.server import running_server
    from ide_backend.settings import Settings
    from runtime.config import RuntimeConfig

    settings = Settings(
        workspace=workspace,
        max_concurrent=max_concurrent,
        # Each run holds a thread for its Lua code while it waits for its model.
        runtime=RuntimeConfig(max_lua_threads=max_concurrent + 16),
    )
    async with running_server(create_app(settings)) as url:
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
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(lambda: target)


if __name__ == "__main__":
    main()
