"""``tide model-server``: run the scripted OpenAI-compatible model server."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from runtime.cli._common import port_number, positive_number

    parser = subparsers.add_parser(
        "model-server",
        help="run the scripted OpenAI-compatible model server",
        description=(
            "Serve /v1/chat/completions offline and deterministically: replies come from a "
            "script, or are default text derived from the prompt."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=port_number, default=8000, help="port to listen on (0: any)")
    parser.add_argument("--script", metavar="FILE.json", help="script of replies (JSON)")
    parser.add_argument(
        "--rate",
        type=positive_number,
        metavar="TOKENS_PER_SECOND",
        help="pace of streamed tokens (default: as fast as possible)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import signal
    import sys
    from pathlib import Path

    import anyio
    from pydantic import ValidationError

    from runtime.model_server import Script, ScriptedModelServer

    script = None
    if args.script is not None:
        try:
            script = Script.model_validate_json(Path(args.script).read_text(encoding="utf-8"))
        except (OSError, ValidationError) as exc:
            print(f"tide model-server: cannot use script {args.script}: {exc}", file=sys.stderr)
            return 2

    async def serve() -> None:
        server = ScriptedModelServer(
            script, host=args.host, port=args.port, tokens_per_second=args.rate
        )
        # Ctrl-C and SIGTERM end the wait below, and the server shuts down as the block ends.
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with server:
                print(f"scripted model server listening on {server.base_url}", flush=True)
                async for _ in signals:
                    break
        print("scripted model server stopped", file=sys.stderr)

    try:
        anyio.run(serve)
    except OSError as exc:
        print(
            f"tide model-server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        # uvicorn shuts down on the signal and then raises it again; stopping is the point.
        print("scripted model server stopped", file=sys.stderr)
    return 0
