"""WSAStartup, WSACleanup, WSAGetLastError and WSASetLastError over guest memory.

The last error an emulated program reads is its current guest thread's Win32 last error
(``Guest.get_last_error``), so GetLastError agrees with WSAGetLastError, as on Windows.
"""

from __future__ import annotations

import struct

from .. import Ref
from ..constants import SOCKET_ERROR, WSASYSNOTREADY
from ..ws2_32 import WSADATA
from . import _memory
from ._exports import Exports, export
from ._protocol import Guest


def wsadata_size(ptr_size: int) -> int:
    """sizeof(WSADATA) in the guest's ABI (408 on x64, 400 on x86)."""
    return 408 if ptr_size == 8 else 400


def pack_wsadata(data: WSADATA, ptr_size: int) -> bytes:
    """The WSADATA Ws2_32 writes (winsock2.h's layout for the guest's pointer size)."""
    if ptr_size == 8:  # the pointer moved ahead of the strings, for its alignment
        return struct.pack("<HHHHQ257s129s6x", data.wVersion, data.wHighVersion,
                           data.iMaxSockets, data.iMaxUdpDg, 0, data.szDescription,
                           data.szSystemStatus)
    return struct.pack("<HH257s129sHH2xI", data.wVersion, data.wHighVersion, data.szDescription,
                       data.szSystemStatus, data.iMaxSockets, data.iMaxUdpDg, 0)


@export("WSAStartup", "up", "i", None, internal=WSASYSNOTREADY)
def WSAStartup(ex: Exports, g: Guest, wVersionRequested: int, lpWSAData: int) -> int:
    ex.ws2_32.negotiate(wVersionRequested)  # Windows refuses the version before lpWSAData
    _memory.require_writable(g, lpWSAData, wsadata_size(g.ptr_size))
    data = Ref()
    code = ex.ws2_32.WSAStartup(wVersionRequested, data)
    if data.value is not None:
        _memory.write(g, lpWSAData, pack_wsadata(data.value, g.ptr_size))
    return code


@export("WSACleanup", "", "i", SOCKET_ERROR)
def WSACleanup(ex: Exports, g: Guest) -> int:
    return ex.ws2_32.WSACleanup()


@export("WSAGetLastError", "", "i", None)
def WSAGetLastError(ex: Exports, g: Guest) -> int:
    return g.get_last_error()


@export("WSASetLastError", "i", "v", None)
def WSASetLastError(ex: Exports, g: Guest, iError: int) -> None:
    g.set_last_error(iError)


__all__ = ["WSACleanup", "WSAGetLastError", "WSASetLastError", "WSAStartup", "pack_wsadata",
           "wsadata_size"]
