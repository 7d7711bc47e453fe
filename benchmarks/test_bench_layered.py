"""What a layered provider adds per call (issue 22): Ws2_32 calls on a socket of the base
provider against the same calls through a chain whose one layer is ``LayeredProvider`` itself
(a layer that forwards everything), on both cores.

Each test makes two processes (two Ws2_32 over tables of the core), one with the default
catalog, one whose catalog puts the chain over TCP/IP first, each with a connected loopback
pair, then runs rounds that each time a batch of BATCH calls on each side, alternating which
goes first (interleaved, as the provider echo benchmarks are: both sides of a round meet the
same machine state).  ``extra_info``: ``direct_ns`` and ``layered_ns`` (the median per call of
each side), ``added_ns`` (their difference) and ``ratio_per_round_median``.  The cases:
``getsockname`` (a forwarded call that does no I/O), ``send_recv_64`` (WSASend of 64 bytes
on one end, WSARecv of them on the other: two forwarded calls) and ``overlapped_recv_1`` (an
overlapped 1-byte WSARecv that goes pending, the peer's send, the wait on its event and
WSAGetOverlappedResult: through the layer, its own structure below and its port's thread).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import AF_INET, SOCK_STREAM, SOCKET_ERROR, Ref
from ws2core.catalog import Catalog
from ws2core.constants import FALSE, LAYERED_PROTOCOL, TRUE
from ws2core.structs import WSAOVERLAPPED, WSAPROTOCOL_INFOW
from ws2core.ws2_32 import Ws2_32

FORWARDER = "ws2core.provider:LayeredProvider"
BATCH = 200
ROUNDS = 60


def _process(core: ModuleType, layered: bool) -> tuple[Ws2_32, int, int]:
    catalog = Catalog()
    if layered:
        layer = WSAPROTOCOL_INFOW()
        layer.ProtocolChain.ChainLen = LAYERED_PROTOCOL
        [layer_id] = catalog.install(uuid.uuid4(), FORWARDER, [layer])
        chain = catalog.entry(1001)
        assert chain is not None
        chain.ProtocolChain.ChainLen = 2
        chain.ProtocolChain.ChainEntries[0], chain.ProtocolChain.ChainEntries[1] = layer_id, 1001
        [chain_id] = catalog.install(uuid.uuid4(), FORWARDER, [chain])
        order = [chain_id] + [i.dwCatalogEntryId for i in catalog.protocols()
                              if i.dwCatalogEntryId != chain_id]
        assert catalog.WSCWriteProviderOrder(order, len(order)) == 0
    ws = Ws2_32(ws2core.UpcallTable(core.HandleTable(), catalog=catalog))
    assert ws.WSAStartup(0x0202, Ref()) == 0
    listener = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.bind(listener, ("127.0.0.1", 0), 16) == 0 and ws.listen(listener, 1) == 0
    address = Ref()
    assert ws.getsockname(listener, address, Ref(16)) == 0
    client = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.connect(client, address.value, 16) == 0
    server = ws.accept(listener, None, None)
    assert (ws.upcalls.table.catalog_entry(client) != 1001) == layered
    return ws, client, server


def _getsockname(ws: Ws2_32, client: int, server: int) -> Callable[[], None]:
    name, size = Ref(), Ref(16)

    def call() -> None:
        size.value = 16
        ws.getsockname(client, name, size)
    return call


def _send_recv_64(ws: Ws2_32, client: int, server: int) -> Callable[[], None]:
    data, buffer, sent, received, flags = b"x" * 64, bytearray(64), Ref(0), Ref(0), Ref(0)

    def call() -> None:
        ws.WSASend(client, [data], 1, sent, 0, None, None)
        flags.value = 0x8  # MSG_WAITALL: the whole 64 bytes
        ws.WSARecv(server, [buffer], 1, received, flags, None, None)
    return call


def _overlapped_recv_1(ws: Ws2_32, client: int, server: int) -> Callable[[], None]:
    event = ws.WSACreateEvent()
    overlapped = WSAOVERLAPPED()
    overlapped.hEvent = event
    buffer, received, flags, transferred = bytearray(1), Ref(0), Ref(0), Ref(0)

    def call() -> None:
        ws.WSAResetEvent(event)
        assert ws.WSARecv(server, [buffer], 1, received, flags, overlapped, None) == SOCKET_ERROR
        ws.send(client, b"x", 1, 0)
        ws.WSAWaitForMultipleEvents(1, [event], FALSE, 5000, FALSE)
        assert ws.WSAGetOverlappedResult(server, overlapped, transferred, FALSE, flags) == TRUE
    return call


# calls per timed batch: the overlapped receive waits for two thread hand-overs (~0.1 ms)
_BATCHES = {_getsockname: BATCH, _send_recv_64: BATCH, _overlapped_recv_1: BATCH // 10}


def _batch(call: Callable[[], None], size: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(size):
        call()
    return (time.perf_counter_ns() - start) / size


@pytest.mark.parametrize("workload", list(_BATCHES),
                         ids=["getsockname", "send_recv_64", "overlapped_recv_1"])
def test_layered_overhead(benchmark: Any, core: ModuleType, workload: Callable[..., Callable[[], None]]) -> None:
    benchmark.group = f"layered provider {workload.__name__.strip('_')}"
    processes = [_process(core, layered) for layered in (False, True)]
    calls = [workload(*process) for process in processes]
    size = _BATCHES[workload]
    direct: list[float] = []
    layered: list[float] = []

    def run() -> None:
        for _ in range(3):
            _batch(calls[0], size), _batch(calls[1], size)  # warm-up
        for round_ in range(ROUNDS):
            if round_ % 2:
                layered.append(_batch(calls[1], size))
                direct.append(_batch(calls[0], size))
            else:
                direct.append(_batch(calls[0], size))
                layered.append(_batch(calls[1], size))
    try:
        benchmark.pedantic(run, rounds=1, iterations=1)
    finally:
        for ws, *_ in processes:
            ws.close()
    direct_ns, layered_ns = statistics.median(direct), statistics.median(layered)
    benchmark.extra_info.update(
        direct_ns=round(direct_ns), layered_ns=round(layered_ns),
        added_ns=round(layered_ns - direct_ns),
        ratio_per_round_median=round(statistics.median(l / d for l, d in zip(layered, direct)), 3))
    assert len(direct) == len(layered) == ROUNDS
