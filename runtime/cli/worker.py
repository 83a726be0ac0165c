"""``tide worker start|stop|status``: a warm process that makes ``tide run`` start fast."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runtime.cli._common import positive_number

# How long ``tide worker start`` waits for the worker to have imported everything.
READY_TIMEOUT_S = 120.0
# What a run imports besides DSPy and LiteLLM: loaded once in the worker, not in every child.
RUN_MODULES = ("runtime.api", "runtime.console", "runtime.store", "runtime.model_server.server")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "worker",
        help="keep a warm process that makes `tide run` start fast",
        description=(
            "A worker imports DSPy and LiteLLM once and forks one child per `tide run`, which "
            "then starts in a fraction of a second. `tide run` uses a running worker by itself "
            "(TIDE_WORKER=off: never)."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = actions.add_parser("start", help="start a worker (if none is running)")
    start.add_argument(
        "--idle-exit",
        type=positive_number,
        default=30.0,
        metavar="MINUTES",
        help="exit after this long without a run (default 30)",
    )
    start.add_argument(
        "--foreground", action="store_true", help="run the worker in this process, logging here"
    )
    start.set_defaults(handler=handle_start)
    stop = actions.add_parser("stop", help="stop every worker (runs in progress finish first)")
    stop.set_defaults(handler=handle_stop)
    status = actions.add_parser("status", help="list running workers")
    status.set_defaults(handler=handle_status)


def handle_start(args: argparse.Namespace) -> int:
    import subprocess
    import time

    from runtime.cli._common import EXIT_FAILED, EXIT_OK, print_error
    from runtime.own_python import module_command, module_environment
    from runtime.worker import WorkerDirError, fingerprint, request, socket_path, worker_dir

    try:
        directory = worker_dir(create=True)
    except (OSError, WorkerDirError) as exc:
        print_error(f"cannot use the worker directory: {exc}")
        return EXIT_FAILED
    idle_exit_s = str(args.idle_exit * 60)
    if args.foreground:
        return serve(["--idle-exit", idle_exit_s])
    current = fingerprint()
    path = socket_path(directory, current)
    try:
        info = request(path, {"op": "status"})
        print(f"a worker is already running (pid {info['pid']})")
        return EXIT_OK
    except OSError:
        pass
    log_path = directory / f"worker-{current}.log"
    began = time.monotonic()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            module_command("runtime.cli.worker", "--idle-exit", idle_exit_s),
            env=module_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    while time.monotonic() - began < READY_TIMEOUT_S:
        if process.poll() is not None and not path.exists():
            print_error(f"the worker stopped while starting; its log: {log_path}")
            return EXIT_FAILED
        try:
            info = request(path, {"op": "status"})
        except OSError:
            time.sleep(0.05)
            continue
        print(
            f"worker ready in {time.monotonic() - began:.1f} s (pid {info['pid']}): "
            "`tide run` now starts in it; `tide worker stop` ends it"
        )
        return EXIT_OK
    print_error(f"the worker did not start within {READY_TIMEOUT_S:.0f} s; its log: {log_path}")
    return EXIT_FAILED


def handle_stop(args: argparse.Namespace) -> int:
    from runtime.cli._common import EXIT_FAILED, EXIT_OK
    from runtime.worker import request

    sockets = _sockets()
    if sockets is None:
        return EXIT_FAILED
    stopped = 0
    for path in sockets:
        try:
            reply = request(path, {"op": "stop"})
        except OSError:
            path.unlink(missing_ok=True)  # left by a worker that was killed
            continue
        stopped += 1
        running = reply.get("running", 0)
        tail = f", after its {running} run(s) in progress" if running else ""
        print(f"worker stopping{tail}")
    if not stopped:
        print("no worker running")
    return EXIT_OK


def handle_status(args: argparse.Namespace) -> int:
    import time

    from runtime.cli._common import EXIT_FAILED, EXIT_OK
    from runtime.worker import fingerprint, request

    sockets = _sockets()
    if sockets is None:
        return EXIT_FAILED
    current = fingerprint()
    found = 0
    for path in sockets:
        try:
            info = request(path, {"op": "status"})
        except OSError:
            continue
        found += 1
        state = "serves `tide run`" if info["fingerprint"] == current else "stale: Tide changed"
        uptime = time.time() - float(info["started_at"])
        print(
            f"worker pid {info['pid']}: {state}; up {uptime / 60:.0f} min, "
            f"{info['runs']} run(s), {info['running']} running"
        )
    if not found:
        print("no worker running")
    return EXIT_OK


def _sockets() -> list[Path] | None:
    """The sockets of this user's workers; None (reported) when their directory is unsafe."""
    from runtime.cli._common import print_error
    from runtime.worker import WorkerDirError, worker_dir

    try:
        directory = worker_dir()
    except FileNotFoundError:
        return []
    except (OSError, WorkerDirError) as exc:
        print_error(f"cannot use the worker directory: {exc}")
        return None
    return sorted(directory.glob("worker-*.sock"))


def serve(argv: list[str]) -> int:
    """The worker process itself: ``tide`` commands, each in a child forked from it."""
    from runtime.cli import run_cli
    from runtime.worker import serve as serve_commands

    return serve_commands(argv, setup=_prepare_for_runs, command=run_cli)


def _prepare_for_runs() -> None:
    import importlib

    from runtime.cli import DELEGATED_COMMANDS, build_parser
    from runtime.models.router import load_model_libraries

    for command in dict.fromkeys(words[0] for words in DELEGATED_COMMANDS):
        build_parser(command)
    load_model_libraries()
    for name in RUN_MODULES:
        importlib.import_module(name)


if __name__ == "__main__":
    import sys

    raise SystemExit(serve(sys.argv[1:]))
