"""The handshake and channel over real loopback sockets, with a man in the middle that tampers."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

import pytest

from agentmesh import (
    AgentIdentity,
    ChannelError,
    Connection,
    Delegation,
    DelegationVerifier,
    Handshake,
    HandshakeError,
    accept,
    connect,
)

Relay = Callable[[int, bytes], bytes | None]  # (frame index, frame) -> frame to forward, or None to drop


async def _echo_server(handshake: Handshake, results: list[object]) -> asyncio.Server:
    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            conn = await accept(reader, writer, handshake)
        except HandshakeError as exc:
            results.append(exc)
            return
        results.append(conn.peer_did)
        try:
            while True:
                message = await conn.recv()
                await conn.send(b"echo:" + message)
        except ChannelError as exc:
            results.append(exc)
        finally:
            await conn.close()

    return await asyncio.start_server(on_client, "127.0.0.1", 0)


async def _proxy(target_port: int, upstream: Relay) -> asyncio.Server:
    """Relays whole frames client -> server through `upstream`, and server -> client unchanged."""

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, relay: Relay | None) -> None:
        index = 0
        try:
            while True:
                header = await reader.readexactly(4)
                body = await reader.readexactly(struct.unpack(">I", header)[0])
                out = relay(index, body) if relay else body
                index += 1
                if out is not None:
                    writer.write(struct.pack(">I", len(out)) + out)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s_reader, s_writer = await asyncio.open_connection("127.0.0.1", target_port)
        try:
            await asyncio.gather(pump(reader, s_writer, upstream), pump(s_reader, writer, None))
        finally:
            for w in (writer, s_writer):
                w.close()

    return await asyncio.start_server(on_client, "127.0.0.1", 0)


def _port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port


def arun(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 20))


def test_channel_over_a_real_socket(alice: AgentIdentity, bob: AgentIdentity) -> None:
    async def main() -> None:
        results: list[object] = []
        server = await _echo_server(Handshake(bob), results)
        async with server:
            conn = await connect("127.0.0.1", _port(server), Handshake(alice), expected_peer=bob.did)
            assert conn.peer_did == bob.did
            for size in (0, 1, 1024, 1 << 20):
                await conn.send(b"x" * size)
                assert await conn.recv() == b"echo:" + b"x" * size
            await conn.close()
        assert results[0] == alice.did

    arun(main)


def test_capability_requirement_over_a_socket(
    root: AgentIdentity, alice: AgentIdentity, bob: AgentIdentity
) -> None:
    async def main() -> None:
        results: list[object] = []
        verifier = DelegationVerifier([root.did])
        server = await _echo_server(Handshake(bob, verifier=verifier, require=["email:send"]), results)
        async with server:
            with pytest.raises(HandshakeError, match="closed"):
                await connect("127.0.0.1", _port(server), Handshake(alice))
            cred = Delegation.issue(root, alice, ["email:*"])
            conn = await connect("127.0.0.1", _port(server), Handshake(alice, credentials=[cred]))
            await conn.send(b"hi")
            assert await conn.recv() == b"echo:hi"
            await conn.close()
        assert isinstance(results[0], HandshakeError) and results[0].reason == "capability"

    arun(main)


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ("flip", "altered"),  # a bit of the first channel frame flipped
        ("replay", "replayed"),  # the first channel frame sent twice
        ("drop-and-reorder", None),  # frames reordered within the window are still accepted
    ],
)
def test_tampering_man_in_the_middle(
    alice: AgentIdentity, bob: AgentIdentity, attack: str, reason: str | None
) -> None:
    held: list[bytes] = []

    def relay(index: int, frame: bytes) -> bytes | None:
        if index < 2:  # hello, finish
            return frame
        if attack == "flip" and index == 2:
            return frame[:-5] + bytes([frame[-5] ^ 1]) + frame[-4:]
        if attack == "replay" and index == 3:
            return held[0]
        if attack == "drop-and-reorder" and index == 2:
            held.append(frame)
            return None
        if attack == "drop-and-reorder" and index == 3:
            return frame + b""  # forwarded first; the held frame follows in on_held
        held.append(frame)
        return frame

    async def main() -> None:
        results: list[object] = []
        server = await _echo_server(Handshake(bob), results)
        async with server:
            proxy = await _proxy(_port(server), relay)
            async with proxy:
                conn = await connect("127.0.0.1", _port(proxy), Handshake(alice), expected_peer=bob.did)
                await conn.send(b"one")
                if attack == "flip":
                    with pytest.raises(ChannelError, match="closed"):
                        await conn.recv()
                elif attack == "replay":
                    assert await conn.recv() == b"echo:one"
                    await conn.send(b"two")  # replaced by the replayed "one" in transit
                    with pytest.raises(ChannelError, match="closed"):
                        await conn.recv()
                else:
                    await conn.send(b"two")
                    assert await conn.recv() == b"echo:two"
                await conn.close()
        if reason is not None:
            assert isinstance(results[-1], ChannelError) and results[-1].reason == reason

    arun(main)


def test_handshake_man_in_the_middle_over_a_socket(
    alice: AgentIdentity, bob: AgentIdentity, mallory: AgentIdentity
) -> None:
    """Mallory's proxy replaces alice's hello with her own: bob talks to mallory, alice refuses."""

    def relay(index: int, frame: bytes) -> bytes | None:
        if index == 0:
            import json

            from agentmesh._encoding import b64e

            hello = json.loads(frame)
            hello["ephemeral"] = b64e(bytes(range(32)))
            return json.dumps(hello).encode()
        return frame

    async def main() -> None:
        results: list[object] = []
        server = await _echo_server(Handshake(bob), results)
        async with server:
            proxy = await _proxy(_port(server), relay)
            async with proxy:
                with pytest.raises(HandshakeError) as info:
                    await connect("127.0.0.1", _port(proxy), Handshake(alice), expected_peer=bob.did)
                assert info.value.reason == "bad-signature"

    arun(main)


def test_frames_over_the_limit_are_refused(alice: AgentIdentity, bob: AgentIdentity) -> None:
    async def main() -> None:
        results: list[object] = []
        server = await _echo_server(Handshake(bob), results)
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
            writer.write(struct.pack(">I", 1 << 30))
            await writer.drain()
            await reader.read()  # the server hangs up
            writer.close()
            await asyncio.sleep(0)
        assert isinstance(results[0], HandshakeError) and results[0].reason == "too-large"

    arun(main)


def test_connection_type_is_exported() -> None:
    assert Connection.__name__ == "Connection"
