"""agent-mesh benchmarks: identity, delegation, handshake, channel and governed-call overhead.

Run with the python that has agent-mesh installed (e.g. ``.nox/agent_mesh/bin/python``)::

    python packages/agent-mesh/bench/mesh_bench.py [--quick] [--json out.json]

Each figure is the median of several timed batches. Prints a table; ``--json`` also writes the
figures. No network: the socket figures use loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from agentmesh import (
    AgentIdentity,
    ChannelError,
    Delegation,
    DelegationVerifier,
    Handshake,
    MeshBinding,
    TrustLedger,
    accept,
    connect,
)

PAYLOAD = {"type": "bench/v1", "action": {"type": "send", "tool": "email"}, "args": {"to": "bob@example.com"}}


def _per_second(fn: Callable[[], Any], n: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def _micros(fn: Callable[[], Any], n: int, repeats: int) -> float:
    return 1e6 / _per_second(fn, n, repeats)


def _chain(depth: int) -> tuple[list[Delegation], str, AgentIdentity]:
    agents = [AgentIdentity.create(f"a{i}") for i in range(depth + 1)]
    creds: list[Delegation] = []
    for i in range(depth):
        creds.append(
            Delegation.issue(
                agents[i],
                agents[i + 1],
                ["read:*"],
                max_depth=depth - i - 1,
                parent=creds[-1] if creds else None,
            )
        )
    return creds, agents[0].did, agents[-1]


def _handshake_once(a: Handshake, b: Handshake) -> None:
    hello, pa = a.initiate()
    response, pb = b.respond(hello)
    finish, _ = pa.complete(response)
    pb.complete(finish)


async def _loopback(n_handshakes: int, n_messages: int) -> dict[str, float]:
    alice, bob = AgentIdentity.create("alice"), AgentIdentity.create("bob")
    server_side = Handshake(bob)

    async def _on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = await accept(reader, writer, server_side)
        try:
            while True:
                await conn.send(await conn.recv())
        except ChannelError:  # the client hung up
            writer.close()

    server = await asyncio.start_server(_on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        start = time.perf_counter()
        for _ in range(n_handshakes):
            conn = await connect("127.0.0.1", port, Handshake(alice))
            await conn.close()
        handshake_ms = (time.perf_counter() - start) / n_handshakes * 1000
        conn = await connect("127.0.0.1", port, Handshake(alice))
        message = b"x" * 1024
        start = time.perf_counter()
        for _ in range(n_messages):
            await conn.send(message)
            await conn.recv()
        rtt_us = (time.perf_counter() - start) / n_messages * 1e6
        await conn.close()
    return {"handshake_loopback_ms": handshake_ms, "echo_1kb_loopback_rtt_us": rtt_us}


def _governed_overhead(n: int, repeats: int) -> dict[str, float]:
    from agent_os import AuditLog, govern

    policy = """
apiVersion: governance.toolkit/v1
name: bench
default_action: allow
rules:
- {name: no-drops, condition: "action.type == 'drop'", action: deny}
"""

    def tool(action: str, key: str) -> str:
        return key

    root, agent = AgentIdentity.create("root"), AgentIdentity.create("agent")
    cred = Delegation.issue(root, agent, ["tool:*"], ttl_s=86400)
    plain = govern(tool, policy=policy, audit=AuditLog())
    mesh = govern(
        tool,
        policy=policy,
        audit=AuditLog(),
        **MeshBinding(
            agent, credentials=[cred], verifier=DelegationVerifier([root.did]), trust=TrustLedger()
        ).govern_options(),
    )
    return {
        "governed_call_plain_us": _micros(lambda: plain(action="get", key="k"), n, repeats),
        "governed_call_mesh_us": _micros(lambda: mesh(action="get", key="k"), n, repeats),
    }


def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    scale = 1 if args.quick else 5
    repeats = 3 if args.quick else 5
    figures: dict[str, float] = {}
    alice, bob = AgentIdentity.create("alice"), AgentIdentity.create("bob")
    signature = alice.sign(PAYLOAD)
    public = alice.public()
    figures["identity_create_per_s"] = _per_second(lambda: AgentIdentity.create("x"), 200 * scale, repeats)
    figures["sign_per_s"] = _per_second(lambda: alice.sign(PAYLOAD), 400 * scale, repeats)
    figures["verify_per_s"] = _per_second(lambda: public.verify(PAYLOAD, signature), 400 * scale, repeats)
    for depth in (1, 3, 5):
        creds, root_did, _ = _chain(depth)
        figures[f"chain_verify_d{depth}_cold_us"] = _micros(
            lambda creds=creds, root_did=root_did: DelegationVerifier([root_did]).verify(creds),
            40 * scale,
            repeats,
        )
        warm = DelegationVerifier([root_did])
        figures[f"chain_verify_d{depth}_warm_us"] = _micros(
            lambda creds=creds, warm=warm: warm.verify(creds), 200 * scale, repeats
        )
    a, b = Handshake(alice), Handshake(bob)
    figures["handshake_in_process_us"] = _micros(lambda: _handshake_once(a, b), 40 * scale, repeats)
    hello, pa = a.initiate()
    response, pb = b.respond(hello)
    finish, sa = pa.complete(response)
    sb = pb.complete(finish)
    message = b"m" * 1024
    n_msg = 2000 * scale

    def seal_open() -> None:
        sb.channel.open(sa.channel.seal(message))

    rate = _per_second(seal_open, n_msg, repeats)
    figures["channel_1kb_seal_open_us"] = 1e6 / rate
    figures["channel_1kb_throughput_mb_s"] = rate * 1024 / 1e6
    big = b"m" * 65536
    big_rate = _per_second(lambda: sb.channel.open(sa.channel.seal(big)), 200 * scale, repeats)
    figures["channel_64kb_throughput_mb_s"] = big_rate * 65536 / 1e6
    figures.update(asyncio.run(_loopback(20 * scale, 500 * scale)))
    figures.update(_governed_overhead(500 * scale, repeats))
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:>12,.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)


if __name__ == "__main__":
    _main()
