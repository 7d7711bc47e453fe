"""ws2core: the Ws2_32 side of the Winsock 2 SPI upcall table, emulated off Windows.

``UpcallTable`` is the drop-in WSPUPCALLTABLE (the WPU upcalls under their Windows names);
``HandleTable`` is the Pythonic handle table beneath it; ``FdSet`` and the ``FD_*``
functions work on the Windows x64 fd_set layout.  ``IMPLEMENTATION`` says which core is in
use: ``"cython"`` or ``"python"`` (the pure-Python twin, used when ``WS2CORE_PURE_PYTHON=1``
or when the extension was not built).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

__version__ = "0.1.0"

from . import _implementation, constants
from ._shared import WinsockError
from .constants import *  # noqa: F403  (the Windows names are the public API)
from .constants import errorname

IMPLEMENTATION: str
"""The core in use: ``"cython"`` (ws2core._handles) or ``"python"`` (the pure-Python twin)."""

if TYPE_CHECKING:  # type checkers read _handles.pyi, which both cores follow
    from ._handles import (
        FD_CLR,
        FD_ISSET,
        FD_SET,
        FD_ZERO,
        DEFAULT_MAX_HANDLES,
        REUSE_DELAY,
        FdSet,
        HandleTable,
        Ref,
    )
else:
    # Both cores export the same names (their __all__); bind the chosen core's here.
    _core = _implementation.chosen()
    globals().update({name: getattr(_core, name) for name in _core.__all__})
    IMPLEMENTATION = _implementation.name_of(_core)
    del _core

from .upcalls import UpcallTable


def __getattr__(name: str) -> object:
    # The constants made on first use (constants.__getattr__: the WSAID_* GUIDs), which the
    # star import above cannot bind before they exist.
    if name in constants._guid_texts:
        return getattr(constants, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_include() -> str:
    """The folder to add to a C compiler's include path for ``#include <ws2core/ws2spi.h>``.

    As ``numpy.get_include()``: ``cc -I"$(python -c 'import ws2core; print(ws2core.get_include())')"``.
    The header declares WSPUPCALLTABLE and the Windows types it needs, for providers in C
    that are handed ``UpcallTable.native_table()``.
    """
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")


__all__ = [
    "DEFAULT_MAX_HANDLES",
    "FD_CLR",
    "FD_ISSET",
    "FD_SET",
    "FD_ZERO",
    "IMPLEMENTATION",
    "REUSE_DELAY",
    "FdSet",
    "HandleTable",
    "Ref",
    "UpcallTable",
    "WinsockError",
    "__version__",
    "constants",
    "errorname",
    "get_include",
    *(name for name in dir(constants) if name.isupper()),
]
