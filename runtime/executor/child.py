"""An executor: the forked process that runs the specs its fork server hands it (one, or several
of one procedure at once) and streams each one's events to the host on the run's own socket."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

from runtime.errors import TideError
from runtime.events import TERMINAL_TYPES, Event
from runtime.executor.spec import ADDRESS_SPACE_OVERHEAD, RunSpec
from runtime.wire import event_line, receive_message, send_message

SPEC_MAX_BYTES = 32 * 1024 * 1024
# How long after its timeout a run still going tells its host where its code is (the host
# stops it GRACE_S after the timeout).
LATE_S = 0.1
# How long a run's end waits for the run's history to be written before it is sent anyway.
END_STORED_WAIT_S = 5.0


def serve_executor(control_fd: int, runs: int = 1) -> int:
    """In the forked child: run each spec whose socket comes on ``control_fd`` (``runs`` at
    most at once), until the fork server closes it and the last run has ended."""
    control = socket.socket(fileno=control_fd)
    control.setblocking(True)
    return anyio.run(_serve, control, runs)


async def _serve(control: socket.socket, runs: int) -> int:
    limits = _Limits(runs)
    async with anyio.create_task_group() as group:
        while True:
            await anyio.wait_readable(control)
            try:
                # A whole message has come once the socket is readable: the fork server sends
                # each in one write, with its descriptor.
                message, fds = receive_message(control, max_fds=1)
            except (ConnectionError, OSError, ValueError):
                break  # no more runs: end with the last one
            for fd in fds:
                sock = socket.socket(fileno=fd)
                sock.setblocking(True)
                group.start_soon(_serve_run, sock, control, str(message.get("run")), limits)
    return 0


async def _serve_run(
    sock: socket.socket, control: socket.socket, run_id: str, limits: _Limits
) -> None:
    try:
        await _main(sock, limits)
    except Exception:
        # This run's own failure: its host sees its socket close; the other runs go on.
        traceback.print_exc()
    finally:
        sock.close()
        with contextlib.suppress(OSError):
            send_message(control, {"ended": run_id})


class _Limits:
    """The kernel's limits on the executor, behind the runs' own."""

    def __init__(self, runs: int) -> None:
        self.runs = runs
        self.memory_set = False

    def apply(self, spec: RunSpec) -> None:
        if not self.memory_set:
            self.memory_set = True
            _limit_memory(spec, self.runs)
        if self.runs == 1:
            _limit_cpu(spec)


async def _main(sock: socket.socket, limits: _Limits) -> None:
    from anyio.abc import UNIXSocketStream

    stream = await UNIXSocketStream.from_socket(sock)
    reader = BufferedByteReceiveStream(stream)
    try:
        spec = RunSpec.model_validate_json(await reader.receive_until(b"\n", SPEC_MAX_BYTES))
    except (anyio.EndOfStream, anyio.IncompleteRead, anyio.DelimiterNotFound, ValueError):
        return  # no spec: nothing to run
    # The host counts the time the spec allows from here (the fork server may have been busy).
    await _send(stream, {"started": True})
    limits.apply(spec)
    if spec.kind == "inspect":
        await _send(stream, await _inspect(spec))
    elif spec.kind == "validate":
        await _send(stream, _validate(spec))
    else:
        await _run(spec, stream, reader)
    with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await stream.aclose()


def _limit_memory(spec: RunSpec, runs: int) -> None:
    """A backstop behind the runs' own limits: the kernel stops what they miss. The runs of one
    executor share the limit (they are of one procedure, with one memory setting)."""
    config = spec.runtime_config()
    with open("/proc/self/statm") as statm:
        virtual = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    address_space = virtual + runs * 2 * config.max_memory + ADDRESS_SPACE_OVERHEAD
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))


def _limit_cpu(spec: RunSpec) -> None:
    """For an executor of one run (its inspection, then the run): the processor time ``spec``
    allows, from now. Only the soft limit, which can be raised again for the run after its
    inspection; the fork server's deadline bounds the time of an executor of several."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    seconds = int(used.ru_utime + used.ru_stime + spec.time_allowed()) + 5
    with contextlib.suppress(ValueError, OSError):
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, hard))


def _adopt_servers(runtime: Any, spec: RunSpec) -> None:
    """This machine's model servers are the host's: the executor calls them, never starts one."""
    for provider, api_base in spec.served.items():
        runtime.router.adopt(provider, api_base)


def _create_run(runtime: Any, spec: RunSpec, handlers: list[Any]) -> Any:
    _adopt_servers(runtime, spec)
    return runtime.create_run(
        spec.procedure(),
        spec.inputs,
        handlers=handlers,
        mock=spec.mock,
        model=spec.model,
        run_id=spec.run_id,
        inputs_from_strings=spec.inputs_from_strings,
        tags=spec.tags,
    )


async def _inspect(spec: RunSpec) -> dict[str, Any]:
    from runtime.api import Runtime

    async with Runtime(spec.runtime_config()) as runtime:
        try:
            run = _create_run(runtime, spec, [])
            info = await run.prepare()
        except TideError as exc:
            error: dict[str, Any] = exc.info().model_dump(mode="json")
            issues = getattr(exc, "issues", None)
            if issues:
                error["issues"] = [i.model_dump(mode="json") for i in issues]
            return {"error": error}
        return {
            "inputs": run.inputs,
            "models": sorted({a.model for a in info.agents if a.model}),
            "model": run.model_override,
            "tags": run.tags,
        }


def _validate(spec: RunSpec) -> dict[str, Any]:
    from runtime.validate import validate_source

    config = spec.runtime_config()
    seconds = min(config.inspect_timeout_s, config.timeout_s)
    return validate_source(spec.procedure(), timeout_s=seconds).describe()


async def _send(stream: SocketStream, message: dict[str, Any]) -> None:
    await stream.send(json.dumps(message, default=str).encode() + b"\n")


class _Relay:
    """The run's log handler that sends each event as a line on the socket, in order. A line is
    written at once when the socket takes it (almost always), without waiting for a turn of
    the event loop; the rest of one it does not take is awaited (the bus holds the next events
    back). ``started`` is set once the run has started.

    ``stored``, when the run records itself, waits until its store has written what it was
    given: the run's end is sent after that, so that whoever sees a run end finds all of it
    in the history."""

    def __init__(
        self, stream: SocketStream, stored: Callable[[], Awaitable[object]] | None = None
    ) -> None:
        self._socket: socket.socket = stream.extra(SocketAttribute.raw_socket)
        self._stored = stored
        self.broken = False
        self.started = anyio.Event()
        # Set while a line is part-written: the next ones wait for it.
        self._writing: anyio.Event | None = None

    def log(self, event: Event) -> Awaitable[None] | None:
        if event.type == "run_started":
            self.started.set()
        if self.broken:
            return None
        if self._stored is not None and event.type in TERMINAL_TYPES:
            return self._end(event_line(event))
        return self._write(event_line(event))

    async def _end(self, line: bytes) -> None:
        assert self._stored is not None
        await self._stored()
        pending = self._write(line)
        if pending is not None:
            await pending

    async def tell(self, message: dict[str, Any]) -> None:
        """Write a line of the executor's own (not an event), unless one is part-written: it
        is a hint for the host, which can do without it."""
        if not self.broken and self._writing is None:
            pending = self._write(json.dumps(message).encode() + b"\n")
            if pending is not None:
                await pending

    def _write(self, line: bytes) -> Awaitable[None] | None:
        if self._writing is not None:
            return self._write_after(line)
        try:
            sent = self._socket.send(line, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.broken = True
            return None
        if sent == len(line):
            return None
        self._writing = anyio.Event()
        return self._send_rest(memoryview(line)[sent:])

    async def _send_rest(self, rest: memoryview) -> None:
        try:
            while rest:
                await anyio.wait_writable(self._socket)
                try:
                    rest = rest[self._socket.send(rest, socket.MSG_DONTWAIT) :]
                except BlockingIOError:
                    continue
        except OSError:
            self.broken = True
        finally:
            writing, self._writing = self._writing, None
            if writing is not None:
                writing.set()

    async def _write_after(self, line: bytes) -> None:
        while self._writing is not None:
            await self._writing.wait()
        pending = None if self.broken else self._write(line)
        if pending is not None:
            await pending


async def _tell_where_when_late(run: Any, relay: _Relay, timeout_s: float) -> None:
    """A run going on past its timeout is inside a call its hook cannot stop, and its host is
    about to stop this process: tell the host where the procedure's code was last seen, for the
    run's error to name."""
    await relay.started.wait()
    await anyio.sleep(timeout_s + LATE_S)
    where = run.where()
    if where is not None:
        await relay.tell({"where": {"file": where[0], "line": where[1]}})


def _written_by(store: Any) -> Callable[[], Awaitable[object]]:
    """Wait until ``store`` has written what it was given; a history too busy to write is
    waited for a while, not for ever: the run has ended."""
    return lambda: anyio.to_thread.run_sync(store.flush_sync, END_STORED_WAIT_S)


async def _run(spec: RunSpec, stream: SocketStream, reader: BufferedByteReceiveStream) -> None:
    store = None
    if spec.store is not None:
        from runtime.store import SQLiteStore, StoreHandler

        store = SQLiteStore(spec.store)
    relay = _Relay(stream, None if store is None else _written_by(store))
    # The relay first, for each chunk to leave at once. The run's end, which it sends from its
    # own task once the store has written it, the store is given in the same step.
    handlers: list[Any] = [relay]
    if store is not None:
        handlers.append(StoreHandler(store, model=spec.model, mock=spec.mock))
    try:
        await _run_with(spec, stream, reader, relay, handlers, store)
    finally:
        if store is not None:
            with anyio.CancelScope(shield=True):
                await store.aclose()


async def _until_cancelled_or_gone(stream: SocketStream, reader: BufferedByteReceiveStream) -> None:
    """Return when the host sends ``cancel`` or closes its end. The socket is read once it is
    readable rather than through the stream: a stream's read cancelled at the instant data
    arrives (the host closing as the run ends) makes asyncio log an error."""
    sock = stream.extra(SocketAttribute.raw_socket)
    received = bytes(reader.buffer)  # what came with the spec
    with contextlib.suppress(OSError, anyio.ClosedResourceError):
        while b"cancel" not in received:
            await anyio.wait_readable(sock)
            try:
                data = sock.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            if not data:
                return
            received = received[-16:] + data


async def _open(runtime: Any, spec: RunSpec, handlers: list[Any], store: Any) -> Any:
    if not spec.resume:
        return _create_run(runtime, spec, handlers)
    if store is None:
        raise TideError("a run is resumed from its store, and this spec names none")
    from runtime.resume import open_resumed_run

    _adopt_servers(runtime, spec)
    # The host checked the run and marked it running (as answering a question does).
    return await open_resumed_run(runtime, store, spec.run_id, answered=True, handlers=handlers)


async def _run_with(
    spec: RunSpec,
    stream: SocketStream,
    reader: BufferedByteReceiveStream,
    relay: _Relay,
    handlers: list[Any],
    store: Any,
) -> None:
    from runtime.api import Runtime

    async with Runtime(spec.runtime_config()) as runtime:
        try:
            run = await _open(runtime, spec, handlers, store)
        except TideError as exc:
            await _send(stream, {"error": exc.info().model_dump(mode="json")})
            return
        async with anyio.create_task_group() as group:

            async def listen() -> None:
                # "cancel" from the host, or the host gone: either way the run stops.
                await _until_cancelled_or_gone(stream, reader)
                run.cancel()

            group.start_soon(listen)
            group.start_soon(_tell_where_when_late, run, relay, spec.runtime_config().timeout_s)
            try:
                result = await run.execute()
            except TideError as exc:
                await _send(stream, {"error": exc.info().model_dump(mode="json")})
            else:
                if result.status == "waiting":
                    # Parked until a person answers: no terminal event, and nothing to kill.
                    await _send(stream, {"parked": True})
            group.cancel_scope.cancel()
