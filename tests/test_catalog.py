"""The Winsock catalog (ws2core.catalog, DESIGN.md §7): the default entries, WSCInstallProvider,
WSCDeinstallProvider, WSCEnumProtocols and the enumeration WSAEnumProtocolsA/W make, and
WPUGetProviderPath reading it through UpcallTable on both cores (tests/test_native.py: the
same through the native table).  Bad input of the upcall: tests/test_bad_input.py.
"""

from __future__ import annotations

import ctypes
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ws2core
from ws2core import (
    AF_INET,
    AF_INET6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    PFL_HIDDEN,
    PFL_MATCHES_PROTOCOL_ZERO,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOCKET_ERROR,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOBUFS,
    WSANO_RECOVERY,
    Ref,
    WinsockError,
)
from ws2core.catalog import (
    HOST_PROVIDER_PATH,
    MSAFD_TCPIP,
    MSAFD_TCPIP6,
    Catalog,
    guid_of,
    protocol_name,
    set_protocol_name,
)
from ws2core.structs import GUID, WSAPROTOCOL_INFOA, WSAPROTOCOL_INFOW

W = ctypes.sizeof(WSAPROTOCOL_INFOW)
A = ctypes.sizeof(WSAPROTOCOL_INFOA)
SENTINEL = -12345
LSP = uuid.UUID("0c5b2a9e-6f1d-4b7a-8e3c-2d4f6a8b0c1e")


def entry(chain: int = 1, protocol: int = IPPROTO_TCP, name: str = "test entry", *,
          family: int = AF_INET, kind: int = SOCK_STREAM, flags: int = 0,
          max_offset: int = 0, links: tuple[int, ...] = ()) -> WSAPROTOCOL_INFOW:
    info = WSAPROTOCOL_INFOW()
    info.ProtocolChain.ChainLen = chain
    info.ProtocolChain.ChainEntries[:len(links)] = links
    info.iAddressFamily, info.iSocketType, info.iProtocol = family, kind, protocol
    info.iProtocolMaxOffset, info.dwProviderFlags = max_offset, flags
    set_protocol_name(info, name)
    return info


def listing(catalog: Catalog, filter: Any = None, *, hidden: bool = True) -> list[tuple[int, str]]:
    """(catalog entry id, name) of what an enumeration writes, through a buffer of the exact size."""
    length = Ref(0)
    try:
        catalog.enumerate(filter, None, length, hidden=hidden)
    except WinsockError as error:
        assert error.winerror == WSAENOBUFS
    buffer = (WSAPROTOCOL_INFOW * (length.value // W))()
    count = catalog.enumerate(filter, buffer, Ref(ctypes.sizeof(buffer)), hidden=hidden)
    return [(info.dwCatalogEntryId, protocol_name(info)) for info in buffer[:count]]


# ------------------------------------------------------------------------------ the default


def test_default_catalog_is_the_base_provider_for_tcp_and_udp() -> None:
    """Windows' MSAFD entries (ids, GUIDs, flags from Wine's table and tests), in catalog order."""
    infos = Catalog().protocols()
    seen = [(i.dwCatalogEntryId, guid_of(i.ProviderId, "t", "t"), i.iAddressFamily, i.iSocketType,
             i.iProtocol, protocol_name(i)) for i in infos]
    assert seen == [
        (1001, MSAFD_TCPIP, AF_INET, SOCK_STREAM, IPPROTO_TCP, "MSAFD Tcpip [TCP/IP]"),
        (1002, MSAFD_TCPIP, AF_INET, SOCK_DGRAM, IPPROTO_UDP, "MSAFD Tcpip [UDP/IP]"),
        (1004, MSAFD_TCPIP6, AF_INET6, SOCK_STREAM, IPPROTO_TCP, "MSAFD Tcpip [TCP/IPv6]"),
        (1005, MSAFD_TCPIP6, AF_INET6, SOCK_DGRAM, IPPROTO_UDP, "MSAFD Tcpip [UDP/IPv6]"),
    ]
    assert str(MSAFD_TCPIP).upper() == "E70F1AA0-AB8B-11CF-8CA3-00805F48A192"
    for info in infos:
        assert info.dwProviderFlags == PFL_MATCHES_PROTOCOL_ZERO
        assert (info.ProtocolChain.ChainLen, info.iVersion) == (1, 2)
        assert info.dwServiceFlags1 == (0x20066 if info.iSocketType == SOCK_STREAM else 0x20609)
        assert info.dwMessageSize == (0 if info.iSocketType == SOCK_STREAM else 0xFFBB)
        assert info.iMaxSockAddr == info.iMinSockAddr == (16 if info.iAddressFamily == AF_INET else 28)
    assert Catalog().provider_path(MSAFD_TCPIP6) == HOST_PROVIDER_PATH
    assert Catalog(base_provider=False).protocols() == []


def test_the_providers_protocol_info_is_the_catalogs_entry() -> None:
    """HostSocketProvider's SO_PROTOCOL_INFO reads the default catalog's table: the same bytes
    but the catalog entry id, which is the provider's own."""
    from ws2core.provider.protocols import fill_protocol_info

    for info in Catalog().protocols():
        socket_info = WSAPROTOCOL_INFOW()
        fill_protocol_info(socket_info, info.iAddressFamily, info.iSocketType, 77)
        assert socket_info.dwCatalogEntryId == 77
        socket_info.dwCatalogEntryId = info.dwCatalogEntryId
        assert bytes(socket_info) == bytes(info)


# ------------------------------------------------------------------------------ enumeration


def test_enumeration_reports_the_size_needed_then_fills_the_buffer() -> None:
    catalog = Catalog()
    err, length = Ref(SENTINEL), Ref(0)
    assert catalog.WSCEnumProtocols(None, None, length, err) == SOCKET_ERROR
    assert (err.value, length.value) == (WSAENOBUFS, 4 * W)
    small = (WSAPROTOCOL_INFOW * 3)()
    length.value = ctypes.sizeof(small)
    assert catalog.WSCEnumProtocols(None, small, length, err) == SOCKET_ERROR
    assert length.value == 4 * W and bytes(small) == bytes(len(bytes(small)))  # nothing written
    big = (WSAPROTOCOL_INFOW * 6)()
    length.value = ctypes.sizeof(big)
    err.value = SENTINEL
    assert catalog.WSCEnumProtocols(None, big, length, err) == 4
    assert (err.value, length.value) == (SENTINEL, 6 * W)  # a success leaves both alone
    assert [i.dwCatalogEntryId for i in big[:4]] == [1001, 1002, 1004, 1005]
    assert big[4].dwCatalogEntryId == 0
    assert catalog.WSCEnumProtocols(None, None, None, err) == SOCKET_ERROR and err.value == WSAEFAULT


def test_a_protocol_filter_ends_at_zero_and_matches_a_range() -> None:
    """Wine's test list: unknown protocols ignored, TCP and UDP found; values after the 0 unread."""
    catalog = Catalog()
    assert [n for _, n in listing(catalog, [0xDEAD, IPPROTO_TCP, 0xCAFE, 0, IPPROTO_UDP])] == \
        ["MSAFD Tcpip [TCP/IP]", "MSAFD Tcpip [TCP/IPv6]"]
    assert len(listing(catalog, (ctypes.c_int * 4)(IPPROTO_UDP, 0xBEEF, 0, 0))) == 2
    assert listing(catalog, [0xBEEF]) == []                 # nothing: 0, no buffer needed
    assert catalog.enumerate([0xBEEF], None, Ref(0), hidden=False) == 0
    catalog.install(LSP, "x.dll", [entry(protocol=100, max_offset=5)])
    assert [i for i, _ in listing(catalog, [105])] == [1006]  # iProtocol .. + iProtocolMaxOffset
    assert listing(catalog, [106]) == []


def test_applications_see_no_hidden_and_no_layered_entry() -> None:
    """WSAEnumProtocols leaves out PFL_HIDDEN entries and an LSP's own (ChainLen 0) entry;
    WSCEnumProtocols reports them; a chain (ChainLen > 1) is an application's to see."""
    catalog = Catalog(base_provider=False)
    ids = catalog.install(LSP, "lsp.dll", [
        entry(0, name="layered"), entry(1, name="hidden", flags=PFL_HIDDEN),
        entry(2, name="chain", links=(1001, 1001))])
    assert ids == [1001, 1002, 1003]
    assert [n for _, n in listing(catalog, hidden=True)] == ["layered", "hidden", "chain"]
    assert [n for _, n in listing(catalog, hidden=False)] == ["chain"]
    assert catalog.protocols(hidden=False)[0].ProtocolChain.ChainEntries[:2] == [1001, 1001]


def test_the_ansi_form_converts_the_name_only() -> None:
    catalog = Catalog()
    catalog.install(LSP, "x.dll", [entry(name="caf\u00e9 \u2603")])
    length = Ref(0)
    with pytest.raises(WinsockError):
        catalog.enumerate(None, None, length, hidden=False, ansi=True)
    assert length.value == 5 * A
    buffer = (WSAPROTOCOL_INFOA * 5)()
    assert catalog.enumerate(None, buffer, Ref(5 * A), hidden=False, ansi=True) == 5
    wide = catalog.protocols()
    for ansi, w in zip(buffer, wide):
        offset = WSAPROTOCOL_INFOW.szProtocol.offset
        assert bytes(ansi)[:offset] == bytes(w)[:offset]
    assert buffer[0].szProtocol == b"MSAFD Tcpip [TCP/IP]"
    assert buffer[4].szProtocol == "caf\u00e9 ?".encode("cp1252")  # no snowman in cp1252


def test_a_buffer_smaller_than_its_length_is_refused_before_anything_is_written() -> None:
    catalog = Catalog()
    buffer = bytearray(3 * W)
    with pytest.raises(ValueError, match="holds"):
        catalog.enumerate(None, buffer, Ref(4 * W), hidden=True)
    with pytest.raises(TypeError):
        catalog.enumerate(None, bytes(4 * W), Ref(4 * W), hidden=True)
    with pytest.raises(TypeError):
        catalog.enumerate("6", None, Ref(0), hidden=True)
    with pytest.raises(ValueError):
        catalog.enumerate(None, None, Ref(-1), hidden=True)
    assert buffer == bytearray(3 * W)


# ------------------------------------------------------------------------------ install


def test_install_gives_ids_in_order_and_never_reuses_one() -> None:
    catalog = Catalog()
    err = Ref(SENTINEL)
    given = entry()
    given.dwCatalogEntryId = 5
    assert catalog.WSCInstallProvider(LSP, "a.dll", (WSAPROTOCOL_INFOW * 2)(given, entry()), 2, err) == 0
    assert err.value == SENTINEL
    assert [i.dwCatalogEntryId for i in catalog.protocols()][4:] == [1006, 1007]
    assert all(guid_of(i.ProviderId, "t", "t") == LSP for i in catalog.protocols()[4:])
    assert given.dwCatalogEntryId == 5  # the caller's structures are read, not changed
    assert catalog.WSCDeinstallProvider(LSP, err) == 0
    assert catalog.WSCInstallProvider(LSP, "a.dll", given, 1, err) == 0
    assert [i.dwCatalogEntryId for i in catalog.protocols()][4:] == [1008]


@pytest.mark.parametrize(("arguments", "code"), [
    ((None, "p", [entry()], 1), WSAEFAULT),
    ((LSP, None, [entry()], 1), WSAEFAULT),
    ((LSP, "p", None, 1), WSAEFAULT),
    ((LSP, "p", [], 0), WSAEINVAL),
    ((LSP, "p", [entry(chain=8)], 1), WSAEINVAL),
    ((LSP, "p", [entry(chain=-1)], 1), WSAEINVAL),
    ((MSAFD_TCPIP, "p", [entry()], 1), WSANO_RECOVERY),  # installed already
])
def test_install_failures(arguments: tuple[Any, ...], code: int) -> None:
    catalog = Catalog()
    err = Ref(SENTINEL)
    assert catalog.WSCInstallProvider(*arguments, err) == SOCKET_ERROR
    assert err.value == code
    assert len(catalog.protocols()) == 4 and catalog.provider_path(MSAFD_TCPIP) == HOST_PROVIDER_PATH


@pytest.mark.parametrize(("arguments", "error"), [
    (("guid", "p", [entry()], 1), TypeError),
    ((LSP, b"p", [entry()], 1), TypeError),
    ((LSP, "p\0q", [entry()], 1), ValueError),
    ((LSP, "p", [entry()], 2), ValueError),        # fewer entries than dwNumberOfEntries
    ((LSP, "p", bytes(W), 2), ValueError),
    ((LSP, "p", [WSAPROTOCOL_INFOA()], 1), TypeError),
    ((LSP, "p", 7, 1), TypeError),
    ((LSP, "p", [entry()], "1"), TypeError),
    ((LSP, "p", [entry()], -1), ValueError),
])
def test_install_refuses_arguments_of_the_wrong_kind(arguments: tuple[Any, ...],
                                                     error: type[Exception]) -> None:
    catalog = Catalog()
    err = Ref(SENTINEL)
    with pytest.raises(error):
        catalog.WSCInstallProvider(*arguments, err)
    assert err.value == SENTINEL and len(catalog.protocols()) == 4


def test_deinstall_failures_and_a_guid_structure() -> None:
    catalog = Catalog()
    err = Ref(SENTINEL)
    assert catalog.WSCDeinstallProvider(None, err) == SOCKET_ERROR and err.value == WSAEFAULT
    assert catalog.WSCDeinstallProvider(LSP, err) == SOCKET_ERROR and err.value == WSAEINVAL
    guid = GUID.from_buffer_copy(MSAFD_TCPIP.bytes_le)
    assert catalog.WSCDeinstallProvider(ctypes.pointer(guid), err) == 0
    assert [i.iAddressFamily for i in catalog.protocols()] == [AF_INET6, AF_INET6]
    with pytest.raises(TypeError, match="uuid.UUID or a GUID"):
        catalog.WSCDeinstallProvider(str(MSAFD_TCPIP6), err)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5), st.integers(1, 3), st.sampled_from(
    [0, 1, 2, 3])), max_size=25))
def test_install_deinstall_enumerate_round_trips(steps: list[tuple[bool, int, int, int]]) -> None:
    """Any sequence of installs and removals: the catalog holds exactly the installed
    providers' entries, in install order, with increasing ids never used twice; each path
    reads back; enumeration agrees with protocols() and WSAEnumProtocols' view is the
    entries with ChainLen > 0 and no PFL_HIDDEN."""
    catalog = Catalog(base_provider=False)
    model: dict[uuid.UUID, tuple[str, list[int], list[int]]] = {}   # guid -> path, ids, chains
    seen_ids: list[int] = []
    for install, which, count, chain in steps:
        guid = uuid.UUID(int=which + 1)
        err = Ref(SENTINEL)
        if install:
            chains = [(chain + k) % 3 for k in range(count)]
            infos = [entry(c, flags=PFL_HIDDEN if c == 2 and k % 2 else 0) for k, c in enumerate(chains)]
            result = catalog.WSCInstallProvider(guid, f"p{which}.dll", infos, count, err)
            if guid in model:
                assert (result, err.value) == (SOCKET_ERROR, WSANO_RECOVERY)
                continue
            assert result == 0
            ids = [i.dwCatalogEntryId for i in catalog.protocols()[-count:]]
            assert ids == sorted(ids) and not set(ids) & set(seen_ids)
            assert not seen_ids or ids[0] > max(seen_ids)
            seen_ids += ids
            model[guid] = (f"p{which}.dll", ids, [c if not (c == 2 and k % 2) else -1
                                                   for k, c in enumerate(chains)])
        else:
            result = catalog.WSCDeinstallProvider(guid, err)
            assert (result, err.value) == ((0, SENTINEL) if guid in model else (SOCKET_ERROR, WSAEINVAL))
            model.pop(guid, None)
    expected = sorted(i for _, ids, _ in model.values() for i in ids)
    assert [i.dwCatalogEntryId for i in catalog.protocols()] == expected
    assert [i for i, _ in listing(catalog)] == expected
    shown = sorted(i for _, ids, chains in model.values() for i, c in zip(ids, chains) if c > 0)
    assert [i for i, _ in listing(catalog, hidden=False)] == shown
    for guid, (path, _, _) in model.items():
        assert catalog.provider_path(guid) == path


# ------------------------------------------------------------------------------ WPUGetProviderPath


def test_upcall_table_has_a_default_catalog_or_the_one_given(table: Any) -> None:
    up = ws2core.UpcallTable(table)
    assert isinstance(up.catalog, Catalog) and len(up.catalog.protocols()) == 4
    shared = Catalog(base_provider=False)
    assert ws2core.UpcallTable(catalog=shared).catalog is shared
    with pytest.raises(TypeError, match="catalog must be"):
        ws2core.UpcallTable(catalog=[])


def test_provider_path_into_a_buffer(upcalls: Any, Ref: Any) -> None:
    """The needed WCHARs (with the NUL) on WSAEFAULT, nothing else written; then the path in
    UTF-16-LE with its NUL and its length without (ReactOS's lengths)."""
    err, length = Ref(SENTINEL), Ref(0)
    path = HOST_PROVIDER_PATH
    buffer = bytearray(b"\xee" * 2 * 40)
    assert upcalls.WPUGetProviderPath(MSAFD_TCPIP, None, length, err) == SOCKET_ERROR
    assert (err.value, length.value) == (WSAEFAULT, len(path) + 1)
    length.value = len(path)  # one short: the NUL does not fit
    assert upcalls.WPUGetProviderPath(MSAFD_TCPIP, buffer, length, err) == SOCKET_ERROR
    assert length.value == len(path) + 1 and buffer == bytearray(b"\xee" * 80)
    err.value = SENTINEL
    length.value = 40
    assert upcalls.WPUGetProviderPath(GUID.from_buffer_copy(MSAFD_TCPIP.bytes_le), buffer, length, err) == 0
    assert (err.value, length.value) == (SENTINEL, len(path))
    assert bytes(buffer) == (path + "\0").encode("utf-16-le") + b"\xee" * (78 - 2 * len(path))
    words = (ctypes.c_uint16 * 40)()
    length.value = 40
    assert upcalls.WPUGetProviderPath(MSAFD_TCPIP6, words, length, err) == 0
    assert "".join(map(chr, words[:len(path)])) == path and words[len(path)] == 0


def test_provider_path_into_a_ref_and_after_an_install(upcalls: Any, Ref: Any) -> None:
    err, length, out = Ref(SENTINEL), Ref(260), Ref()
    installed = "%SystemRoot%\\system32\\\U0001d49c.dll"  # one character, two WCHARs
    upcalls.catalog.install(LSP, installed, [entry()])
    assert upcalls.WPUGetProviderPath(LSP, out, length, err) == 0
    assert (out.value, length.value) == (installed, len(installed.encode("utf-16-le")) // 2)
    length.value = len(installed)  # counted in characters, not WCHARs: too small
    assert upcalls.WPUGetProviderPath(LSP, out, length, err) == SOCKET_ERROR
    assert (err.value, length.value) == (WSAEFAULT, len(installed) + 2)
    upcalls.catalog.deinstall(LSP)
    err.value = SENTINEL
    assert upcalls.WPUGetProviderPath(LSP, out, length, err) == SOCKET_ERROR
    assert err.value == WSAEINVAL and length.value == len(installed) + 2


# ------------------------------------------------------------------------------ order and look-ups


def test_find_picks_the_first_listed_match_in_catalog_order() -> None:
    """What socket() picks: family and type, the protocol in range (0: PFL_MATCHES_PROTOCOL_ZERO),
    hidden and layered entries skipped; WSCWriteProviderOrder changes which comes first."""
    catalog = Catalog()
    assert catalog.find(AF_INET, SOCK_STREAM, 0).dwCatalogEntryId == 1001
    assert catalog.find(AF_INET6, SOCK_DGRAM, IPPROTO_UDP).dwCatalogEntryId == 1005
    assert catalog.find(AF_INET, SOCK_STREAM, IPPROTO_UDP) is None
    assert catalog.find(99, SOCK_STREAM, 0) is None
    hidden, layered, plain, chain = catalog.install(LSP, "lsp:Layer", [
        entry(flags=PFL_HIDDEN | PFL_MATCHES_PROTOCOL_ZERO), entry(0),
        entry(protocol=IPPROTO_TCP), entry(2, links=(1007, 1001), flags=PFL_MATCHES_PROTOCOL_ZERO)])
    order = [hidden, layered, plain, chain, 1001, 1002, 1004, 1005]
    assert catalog.WSCWriteProviderOrder(order, len(order)) == 0
    assert [info.dwCatalogEntryId for info in catalog.protocols()] == order
    assert catalog.find(AF_INET, SOCK_STREAM, 0).dwCatalogEntryId == chain  # plain lacks the flag
    assert catalog.find(AF_INET, SOCK_STREAM, IPPROTO_TCP).dwCatalogEntryId == plain
    assert catalog.entry(layered).ProtocolChain.ChainLen == 0
    assert catalog.entry(4242) is None


def test_write_provider_order_must_name_every_entry_once() -> None:
    catalog = Catalog()
    before = [info.dwCatalogEntryId for info in catalog.protocols()]
    for order in ([1001, 1002, 1004], [1001, 1001, 1002, 1004], [1001, 1002, 1004, 1006],
                  [1001, 1002, 1004, 1005, 1005]):
        assert catalog.WSCWriteProviderOrder(order, len(order)) == WSAEINVAL
    assert catalog.WSCWriteProviderOrder(None, 4) == WSAEINVAL
    assert catalog.WSCWriteProviderOrder([1005, 1004, 1002, 1001, 1], 4) == 0  # the count bounds it
    assert [info.dwCatalogEntryId for info in catalog.protocols()] == before[::-1]
    with pytest.raises(ValueError):
        catalog.WSCWriteProviderOrder([1005], 4)
    with pytest.raises(TypeError):
        catalog.WSCWriteProviderOrder(["1001"], 1)


def test_load_provider_loads_a_path_once_per_table() -> None:
    from ws2core.catalog import load_provider, register_provider, unload_providers
    from ws2core.constants import WSAEPROVIDERFAILEDINIT

    catalog = Catalog()
    catalog.install(LSP, "collections:OrderedDict", [entry(0)])
    upcalls = ws2core.UpcallTable(catalog=catalog)
    first = load_provider(upcalls, LSP)
    assert type(first).__name__ == "OrderedDict" and load_provider(upcalls, LSP) is first
    assert load_provider(ws2core.UpcallTable(catalog=catalog), LSP) is not first
    marker = object()
    register_provider(upcalls, HOST_PROVIDER_PATH, marker)
    assert load_provider(upcalls, MSAFD_TCPIP6) is marker
    unload_providers(upcalls)
    assert load_provider(upcalls, LSP) is not first
    for path in ("C:\\lsp.dll", "no_such_module_here:X", "collections:NoSuchThing"):
        other = Catalog()
        other.install(LSP, path, [entry(0)])
        with pytest.raises(WinsockError) as raised:
            load_provider(ws2core.UpcallTable(catalog=other), LSP)
        assert raised.value.winerror == WSAEPROVIDERFAILEDINIT
    with pytest.raises(WinsockError) as raised:
        load_provider(upcalls, uuid.uuid4())
    assert raised.value.winerror == WSAEINVAL
