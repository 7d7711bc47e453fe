"""ws2core.provider as a package: its public names, its modules and what importing it loads.

- every public name the one-module provider had is still there, the structures being
  ws2core.structs' own objects;
- each module of the package says in its docstring which concern it owns, and each method of
  HostSocketProvider is defined by exactly one of its mixins (no concern overrides another's);
- ``import ws2core.provider`` loads no adapter, and ``import ws2core`` loads no provider
  (checked in a fresh interpreter, as test_api checks the core choice).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import ws2core
import ws2core.provider
import ws2core.structs

PACKAGE_DIR = Path(ws2core.__file__).resolve().parent

# The public names of provider.py before it became a package (its dir(), less what it imported).
PUBLIC_NAMES = [
    "CONNECTED", "CONNECTING", "DATAGRAM", "HOST_ERRORS", "HostSocketProvider", "LISTENING",
    "ProviderSocket", "TIMEVAL", "UNCONNECTED", "WSANETWORKEVENTS", "winsock_error",
]


def test_the_public_names_stay_where_they_were() -> None:
    missing = [name for name in PUBLIC_NAMES if not hasattr(ws2core.provider, name)]
    assert missing == []
    assert sorted(ws2core.provider.__all__) == [
        "HOST_ERRORS", "HostSocketProvider",
        "LayeredProvider", "LayeredSocket",  # since Ws2_32 loads LSPs (DESIGN.md §7)
        "ProviderSocket", "TIMEVAL", "WSANETWORKEVENTS",
        "WSAOVERLAPPED",  # since the provider serves overlapped I/O
        "WSAPOLLFD",   # WSAPoll's entries in Python form, since the provider serves WSAPoll
    ]
    assert ws2core.provider.WSAOVERLAPPED is ws2core.structs.WSAOVERLAPPED
    assert ws2core.provider.TIMEVAL is ws2core.structs.TIMEVAL
    assert ws2core.provider.WSANETWORKEVENTS is ws2core.structs.WSANETWORKEVENTS
    assert ws2core.provider.HostSocketProvider.__module__ == "ws2core.provider"

# The WSP functions provider.py served before the split, and WSPGetOverlappedResult and
# WSPAsyncSelect since.
WSP_FUNCTIONS = [
    "WSPAccept", "WSPAsyncSelect", "WSPBind", "WSPCleanup", "WSPCloseSocket", "WSPConnect", "WSPDuplicateSocket",
    "WSPEnumNetworkEvents",
    "WSPEventSelect", "WSPGetOverlappedResult", "WSPGetPeerName", "WSPGetSockName", "WSPGetSockOpt", "WSPIoctl",
    "WSPListen", "WSPRecv", "WSPRecvFrom", "WSPSelect", "WSPSend", "WSPSendTo", "WSPSetSockOpt",
    "WSPShutdown", "WSPSocket", "WSPStartup",
]


def provider_modules() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(ws2core.provider.__path__, "ws2core.provider."))


@pytest.mark.parametrize("name", ["ws2core.provider", *provider_modules()])
def test_each_module_says_what_it_owns(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__ and module.__doc__.strip(), f"{name} has no docstring"


def test_each_method_lives_in_one_mixin() -> None:
    """A method two mixins define would be decided by the MRO, silently: one place each."""
    owners: dict[str, list[str]] = {}
    for cls in ws2core.provider.HostSocketProvider.__mro__[:-1]:  # object's own are not ours
        for name, value in vars(cls).items():
            if callable(value) or isinstance(value, (staticmethod, classmethod)):
                owners.setdefault(name, []).append(cls.__qualname__)
    twice = {name: classes for name, classes in owners.items() if len(classes) > 1}
    assert twice == {}
    assert sorted(name for name in owners if name.startswith("WSP")) == WSP_FUNCTIONS


def modules_after(statement: str) -> set[str]:
    """The ws2core modules loaded by ``statement`` in a fresh interpreter."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR.parent), env.get("PYTHONPATH")]))
    code = f"{statement}; import sys; print(' '.join(m for m in sys.modules if m.startswith('ws2core')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE_DIR.parent, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_importing_the_provider_loads_no_adapter() -> None:
    loaded = modules_after("import ws2core.provider")
    assert "ws2core.provider.sockets" in loaded
    assert not {name for name in loaded if name.startswith("ws2core.adapters")}


def test_importing_ws2core_loads_no_provider() -> None:
    loaded = modules_after("import ws2core")
    assert not {name for name in loaded if name.startswith("ws2core.provider")}
