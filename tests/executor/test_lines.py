"""Reading an executor's lines in the transport's callbacks (``follow_lines``)."""

from __future__ import annotations

import socket
from collections.abc import Awaitable

import anyio
import pytest

from runtime.executor.lines import LineHandler, LineTooLong, follow_lines

pytestmark = pytest.mark.anyio


# A host's event loop may be uvloop (uvicorn picks it when installed), whose transports are
# not asyncio's classes.
@pytest.fixture(params=["asyncio", ("asyncio", {"use_uvloop": True})], ids=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> object:
    return request.param


async def follow(sock: socket.socket, on_line: LineHandler, *, max_line: int) -> bool:
    # uvloop runs no Python signal handler while it waits, so pytest's timeout would not fire.
    with anyio.fail_after(5):
        return await follow_lines(sock, on_line, max_line=max_line)


def pair() -> tuple[socket.socket, socket.socket]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    return ours, theirs


async def test_lines_are_handed_on_in_order_however_they_arrive() -> None:
    ours, theirs = pair()
    seen: list[bytes] = []

    def on_line(line: bytes) -> bool:
        seen.append(line)
        return line == b"end\n"

    async def write() -> None:
        theirs.sendall(b"one\ntwo\nthr")
        await anyio.sleep(0.02)
        theirs.sendall(b"ee\nend\nnever\n")

    async with anyio.create_task_group() as group:
        group.start_soon(write)
        assert await follow(ours, on_line, max_line=1024) is True
    assert seen == [b"one\n", b"two\n", b"three\n", b"end\n"]
    theirs.close()


async def test_the_other_end_closing_ends_it_without_a_last_line() -> None:
    ours, theirs = pair()
    seen: list[bytes] = []

    def on_line(line: bytes) -> bool:
        seen.append(line)
        return False

    theirs.sendall(b"one\npartial")
    theirs.close()
    assert await follow(ours, on_line, max_line=1024) is False
    assert seen == [b"one\n"]


async def test_what_a_line_returns_to_await_holds_the_next_lines_back() -> None:
    ours, theirs = pair()
    seen: list[str] = []
    gate = anyio.Event()

    def on_line(line: bytes) -> bool | Awaitable[bool]:
        if line == b"slow\n":

            async def slowly() -> bool:
                await gate.wait()
                seen.append("slow done")
                return False

            return slowly()
        seen.append(line.decode().strip())
        # anyio works here, in the transport's callback, as it does in a task.
        assert anyio.current_time() > 0
        return line == b"end\n"

    async def release() -> None:
        await anyio.sleep(0.05)
        assert seen == ["first"]
        gate.set()

    theirs.sendall(b"first\nslow\nafter\nend\n")
    async with anyio.create_task_group() as group:
        group.start_soon(release)
        assert await follow(ours, on_line, max_line=1024) is True
    assert seen == ["first", "slow done", "after", "end"]
    theirs.close()


async def test_a_line_too_long_is_refused() -> None:
    ours, theirs = pair()
    theirs.sendall(b"x" * 5000)
    with pytest.raises(LineTooLong):
        await follow(ours, lambda line: False, max_line=1024)
    theirs.close()


async def test_what_the_handler_raises_comes_out() -> None:
    ours, theirs = pair()

    def on_line(line: bytes) -> bool:
        raise ValueError(f"bad line {line!r}")

    theirs.sendall(b"{not json\n")
    with pytest.raises(ValueError, match="bad line"):
        await follow(ours, on_line, max_line=1024)
    theirs.close()
