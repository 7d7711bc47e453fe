"""Values that Windows takes and the host's socket module refuses with an exception.

The provider converts every host error into a Winsock code, not only OSError.  Covered, on
both cores, over loopback only:

- sin6_flowinfo is a ULONG on Windows, taken whatever its value (Wine hands it to the host's
  kernel, which ignores it); CPython refuses 2**20 and more with OverflowError.  bind,
  connect and sendto with any flowinfo succeed, in tuple and SOCKADDR_IN6 forms, through the
  provider and through a guest's bind and connect;
- an address tuple whose host has a NUL or a lone surrogate is not a numeric address
  (WSAEFAULT), not a ValueError;
- an int option value past INT_MAX is the same 32 bits as a C int (the host's setsockopt
  would raise TypeError);
- a select timeout past every float waits without limit (or is negative: WSAEINVAL);
- the backstop: a ValueError or OverflowError from a host call is WSAEINVAL, logged on
  ``ws2core.provider``; a TypeError (the wrong Python type) and a condition function's own
  exception still propagate.
"""

from __future__ import annotations

import logging
import socket
import struct
from typing import Any

import pytest

import ws2core
from ws2core import (
    AF_INET,
    AF_INET6,
    SO_RCVBUF,
    SOL_SOCKET,
    WSAEFAULT,
    WSAEINVAL,
    Ref,
)
from ws2core.guest import Exports
from ws2core.ws2_32 import Ws2_32
from guest_support import abi, guest_table  # noqa: F401  (fixtures)
from guest_support import Caller, FakeGuest
from provider_support import (
    Kit,
    fails,
    getopt,
    host,
    needs_ipv6,
    ok,
    recv_exact,
    send_all,
    sockaddr_in6,
    sockname,
    wait_readable,
)
from provider_support import kit, provider  # noqa: F401  (fixtures)

FLOWINFOS = [1 << 20, 0x0FFFFFFF, 0xFFFFFFFF]   # past the flow label: traffic class, the rest


def with_flowinfo(raw: bytes, flowinfo: int) -> bytes:
    """A SOCKADDR_IN6 with its sin6_flowinfo (network order, as Windows keeps it) set."""
    return raw[:4] + struct.pack(">I", flowinfo) + raw[8:]


@needs_ipv6
@pytest.mark.parametrize("flowinfo", FLOWINFOS, ids=hex)
def test_any_flowinfo_binds_connects_and_sends(provider: Any, kit: Kit, flowinfo: int) -> None:
    p = provider
    listener = kit.tcp(AF_INET6)
    ok(p.WSPBind, listener, with_flowinfo(sockaddr_in6("::1", 0), flowinfo), 28)
    port = sockname(p, listener)[1]
    ok(p.WSPListen, listener, 4)
    client = kit.tcp(AF_INET6)
    ok(p.WSPConnect, client, ("::1", port, flowinfo, 0), 28, None, None, None, None)
    server = kit.accept(listener)
    send_all(p, client, b"flow")
    assert recv_exact(p, server, 4) == b"flow"
    receiver, sender = kit.udp(AF_INET6), kit.udp(AF_INET6)
    ok(p.WSPBind, receiver, ("::1", 0, flowinfo, 0), 28)
    target = with_flowinfo(sockaddr_in6("::1", sockname(p, receiver)[1]), flowinfo)
    ok(p.WSPSendTo, sender, [b"gram"], 1, Ref(0), 0, target, 28, None, None, None)
    ok(p.WSPConnect, sender, target, 28, None, None, None, None)   # a datagram socket's peer
    ok(p.WSPSend, sender, [b"more"], 1, Ref(0), 0, None, None, None)
    for expected in (b"gram", b"more"):
        wait_readable(p, receiver)
        buf, got = bytearray(8), Ref(0)
        ok(p.WSPRecv, receiver, [buf], 1, got, Ref(0), None, None, None)
        assert bytes(buf[:got.value]) == expected


@needs_ipv6
def test_a_guests_flowinfo_is_taken(guest_table: ws2core.UpcallTable) -> None:
    emu = FakeGuest(8 if guest_table.table.abi == "x64" else 4)
    g = Caller(Exports(Ws2_32(guest_table), max_block=5.0), emu).started()
    try:
        lst = g("socket", AF_INET6, ws2core.SOCK_STREAM, 0)
        assert lst != g.invalid_socket
        name = emu.alloc(with_flowinfo(sockaddr_in6("::1", 0), 0xFFFFFFFF))
        assert g("bind", lst, name, 28) == 0
        length = emu.alloc(struct.pack("<i", 28))
        assert g("getsockname", lst, name, length) == 0
        assert g("listen", lst, 1) == 0
        emu.mem_write(name + 4, struct.pack(">I", 0xABCDEF01))
        client = g("socket", AF_INET6, ws2core.SOCK_STREAM, 0)
        assert g("connect", client, name, 28) == 0, ws2core.errorname(g.last_error)
    finally:
        g.ws2_32.close()


@pytest.mark.parametrize("bad", ["127.0.0.1\0", "\0", "::1\0junk", "\udc80"], ids=repr)
def test_a_host_string_the_host_cannot_encode_is_not_numeric(provider: Any, kit: Kit, bad: str) -> None:
    p = provider
    fails(WSAEFAULT, p.WSPBind, kit.tcp(), (bad, 0), 16)
    fails(WSAEFAULT, p.WSPConnect, kit.tcp(), (bad, 80), 16, None, None, None, None)
    fails(WSAEFAULT, p.WSPSendTo, kit.udp(), [b"x"], 1, Ref(0), 0, (bad, 9), 16, None, None, None)


@pytest.mark.parametrize("value", [0x80000000, 0xFFFFFFFF], ids=hex)
def test_an_option_past_int_max_is_the_same_32_bits(provider: Any, kit: Kit, value: int) -> None:
    s = kit.tcp()
    ok(provider.WSPSetSockOpt, s, SOL_SOCKET, SO_RCVBUF, value, 4)
    # The host reads the C int as a size and takes its largest; no exception on the way.
    assert getopt(provider, s, SOL_SOCKET, SO_RCVBUF) > 0


def test_a_select_timeout_past_every_float(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    send_all(p, a, b"x")
    wait_readable(p, c)
    assert ok(p.WSPSelect, 0, ws2core.FdSet([c]), None, None, 10**400) == 1
    fails(WSAEINVAL, p.WSPSelect, 0, ws2core.FdSet([c]), None, None, -(10**400))


class _Refusing:
    """A host socket whose bind raises what the socket module raises for a value it refuses."""

    def __init__(self, real: socket.socket, error: Exception) -> None:
        self._real, self._error = real, error

    def bind(self, address: Any) -> None:
        raise self._error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.mark.parametrize("error", [OverflowError("bind(): a field out of range"),
                                   ValueError("embedded null character"),
                                   UnicodeEncodeError("utf-8", "\udc80", 0, 1, "surrogate")],
                         ids=lambda error: type(error).__name__)
def test_the_backstop_answers_wsaeinval_and_logs(provider: Any, kit: Kit, error: Exception,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    p = provider
    s = kit.tcp()
    context = p.upcalls.table.context(s)
    real = host(p, s)
    context.host = _Refusing(real, error)
    try:
        with caplog.at_level(logging.WARNING, logger="ws2core.provider"):
            fails(WSAEINVAL, p.WSPBind, s, ("127.0.0.1", 0), 16)
    finally:
        context.host = real
    (record,) = [r for r in caplog.records if r.name == "ws2core.provider"]
    assert "WSAEINVAL" in record.getMessage() and record.exc_info is not None
    assert record.exc_info[1] is error


def test_type_errors_and_a_condition_functions_own_still_propagate(provider: Any, kit: Kit) -> None:
    p = provider
    with pytest.raises(TypeError):
        p.WSPBind(kit.tcp(), 1234, 16, Ref(0))          # not an address at all

    lst, port = kit.listener()
    client = kit.tcp()
    kit.connect(client, AF_INET, port)
    wait_readable(p, lst)

    def condition(*args: Any) -> int:
        raise ValueError("the caller's own")

    with pytest.raises(ValueError, match="the caller's own"):
        p.WSPAccept(lst, None, None, condition, 0, Ref(0))
    assert sum(1 for h in p.upcalls.table if p.upcalls.table.kind(h) == "socket") == 3

