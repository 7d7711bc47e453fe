"""select and __WSAFDIsSet over guest memory: the fd_sets in the guest's layout.

A set is read as fd_count and that many SOCKETs (``ws2core.structs.FD_SET_LAYOUTS``), handed
to ``Ws2_32.select`` as a buffer in the table's ABI, and written back as select rewrote it.
Every wait is capped at the exports' ``max_block``, a NULL timeout included.
"""

from __future__ import annotations

import ctypes

from .._shared import WinsockError
from ..constants import SOCKET_ERROR, WSAEFAULT
from ..structs import TIMEVAL
from . import _memory
from ._exports import Exports, export
from ._protocol import Guest


@export("select", "ipppp", "i", SOCKET_ERROR)
def select(ex: Exports, g: Guest, nfds: int, readfds: int, writefds: int, exceptfds: int,
           timeout: int) -> int:
    ex.ws2_32.check_started()
    addresses = (readfds, writefds, exceptfds)
    sets = [_memory.read_fd_set(g, address) for address in addresses]
    for address, fds in zip(addresses, sets):
        if fds is not None:  # rewritten in place: writable before the wait, not after it
            _memory.require_writable(g, address, len(fds))
    seconds: float | None = ex.max_block  # a NULL timeout waits without limit
    if timeout:
        limit = TIMEVAL.from_buffer_copy(_memory.read(g, timeout, ctypes.sizeof(TIMEVAL)))
        if limit.tv_sec < 0 or limit.tv_usec < 0:
            seconds = -1.0  # passed on for select's WSAEINVAL
        else:
            seconds = ex.capped(limit.tv_sec + limit.tv_usec / 1_000_000)
    ready = ex.ws2_32.select(nfds, sets[0], sets[1], sets[2], seconds)
    if ready != SOCKET_ERROR:
        for address, fds in zip(addresses, sets):
            if fds is not None:
                _memory.write_fd_set(g, address, fds)
    return ready


@export("__WSAFDIsSet", "pp", "i", 0, last_error=False)
def WSAFDIsSet(ex: Exports, g: Guest, fd: int, set: int) -> int:
    fds = _memory.read_fd_set(g, set)
    if fds is None:
        raise WinsockError(WSAEFAULT, "a NULL fd_set")
    return ex.ws2_32.WSAFDIsSet(fd, fds)
