"""Tide's listening sockets: the connections an asyncio server accepts on them send at once
(TCP_NODELAY), so a response on a kept-alive connection never waits for the client's delayed
ACK."""

from __future__ import annotations

import asyncio
import socket

import pytest

from runtime.listen import tcp_listener

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
async def test_accepted_connections_send_without_delay(host: str) -> None:
    try:
        listener = tcp_listener(host, 0)
    except OSError:
        pytest.skip(f"{host} is not available here")
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    try:
        address = listener.getsockname()
        _, writer = await asyncio.open_connection(address[0], address[1])
        assert await asyncio.wait_for(accepted, 10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_the_listening_socket_is_tcp_so_that_responses_are_not_delayed() -> None:
    listener = tcp_listener("127.0.0.1", 0)
    try:
        # asyncio turns Nagle's algorithm off for accepted sockets only when this is TCP.
        assert listener.proto == socket.IPPROTO_TCP
    finally:
        listener.close()


def test_a_busy_port_is_an_error_for_the_caller() -> None:
    first = tcp_listener("127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            tcp_listener("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()
