"""``tide ide``: serve the IDE for a workspace."""

from __future__ import annotations

import argparse
from typing import Any

from runtime.cli import port_number, positive_int


def register(sub: Any) -> None:
    from runtime.executor.pool import RUNS_PER_EXECUTOR, SHARED_FROM

    parser: argparse.ArgumentParser = sub.add_parser(
        "ide",
        help="open the IDE for a workspace of procedures",
        description="Serve the IDE (editor, runs, analytics) for a folder of procedures.",
    )
    parser.add_argument(
        "--workspace", default=".", metavar="DIR", help="the folder of procedures (default: .)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=port_number, default=8765, help="port (default 8765; 0: any free)"
    )
    parser.add_argument("--open", action="store_true", help="open the IDE in a browser")
    parser.add_argument(
        "--token",
        help="require this token on every request (one is generated when binding off loopback)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=positive_int,
        default=4,
        metavar="N",
        help="runs executing at once; more wait in a queue (default 4)",
    )
    parser.add_argument(
        "--max-memory",
        type=positive_int,
        metavar="MIB",
        help="each run's memory limit: Lua's heap and what it hands the server (default 256)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run procedures in the server's own process instead of in executor processes "
        "(only for procedures you trust: one stuck in a call into Lua's C library holds the "
        "server)",
    )
    parser.add_argument(
        "--runs-per-executor",
        type=positive_int,
        default=RUNS_PER_EXECUTOR,
        metavar="N",
        help=f"once {SHARED_FROM} runs of a procedure are going, its further runs share "
        f"executor processes, N at most each (default {RUNS_PER_EXECUTOR}; 1: a process for "
        "every run). A run stopped by force stops the others of its procedure in its process",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import asyncio
    import secrets
    import sys
    import webbrowser
    from pathlib import Path
    from urllib.parse import quote

    from ide_backend.app import create_app
    from ide_backend.server import bind, make_server, url_for
    from ide_backend.settings import Settings, is_loopback
    from runtime.cli import EXIT_USAGE, print_error
    from runtime.config import RuntimeConfig

    workspace = Path(args.workspace)
    if not workspace.is_dir():
        print_error(f"the workspace {workspace} is not a directory", "give --workspace DIR")
        return EXIT_USAGE
    # The history is opened now, where a file that is not one can be reported plainly, rather
    # than in the server's start-up.
    from runtime.store import default_store_path
    from runtime.store.opening import StoreError, open_history, read_only_note

    try:
        history = open_history(default_store_path(workspace))
    except StoreError as exc:
        print_error(exc.message, exc.hint)
        return EXIT_USAGE
    history.close()
    if history.readonly:
        print(read_only_note(history.path, "the IDE shows it, and refuses to start runs"))
    token = args.token
    if token is not None and not token.strip():
        print_error(
            "--token is empty: an empty token would let anyone in",
            "give a token, or leave --token out to have one generated off loopback",
        )
        return EXIT_USAGE
    if token is None and not is_loopback(args.host):
        token = secrets.token_urlsafe(24)
    config = RuntimeConfig.from_env()
    if args.max_memory is not None:
        config = config.model_copy(update={"max_memory": args.max_memory * 1024 * 1024})
    # Each running run holds a thread for its Lua code while its agents wait for their models.
    threads = max(config.max_lua_threads, args.max_concurrent + 16)
    settings = Settings(
        workspace=workspace,
        host=args.host,
        port=args.port,
        token=token,
        max_concurrent=args.max_concurrent,
        executors=not args.in_process,
        runs_per_executor=args.runs_per_executor,
        runtime=config.model_copy(update={"max_lua_threads": threads}),
    )
    try:
        listener = bind(args.host, args.port)
    except OSError as exc:
        print_error(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            "is another server using the port? pick one with --port",
        )
        return EXIT_USAGE
    app = create_app(settings)
    url = url_for(args.host, int(listener.getsockname()[1])) + "/"
    shown = f"{url}?token={quote(token, safe='')}" if token else url
    print(f"Tide IDE for {settings.workspace}\n  {shown}", flush=True)
    if not (settings.frontend_dir / "index.html").is_file():
        print("  (frontend not built: cd frontend && npm install && npm run build)", flush=True)
    if token and not is_loopback(args.host):
        print("  anyone with this URL can run procedures: share it carefully", file=sys.stderr)
    if args.open:
        webbrowser.open(shown)
    server = make_server(app, log_level="info")
    asyncio.run(server.serve([listener]))
    return 0
