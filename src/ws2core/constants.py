"""Windows constants and error codes, with their Windows names and x64 values.

Sources: winsock2.h and ws2spi.h as published in the Windows SDK (mirrored by mingw-w64),
the "Windows Sockets Error Codes" page, and WaitForMultipleObjectsEx for the WAIT_* values.
"""

from __future__ import annotations

from operator import index as _index
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uuid as _uuid

# --- Handles and results (x64: SOCKET is UINT_PTR, WSAEVENT is HANDLE) ---
INVALID_SOCKET = 2**64 - 1          #: (SOCKET)(~0) on x64
INVALID_SOCKET_X86 = 2**32 - 1      #: (SOCKET)(~0) in a 32-bit process, where SOCKET is 4 bytes
SOCKET_ERROR = -1
WSA_INVALID_EVENT = 0               #: ((WSAEVENT)NULL)
FALSE = 0
TRUE = 1

# --- fd_set and waits ---
FD_SETSIZE = 64
WSA_MAXIMUM_WAIT_EVENTS = 64        #: MAXIMUM_WAIT_OBJECTS
WSA_INFINITE = 0xFFFFFFFF           #: INFINITE
WSA_WAIT_EVENT_0 = 0                #: WAIT_OBJECT_0
WSA_WAIT_IO_COMPLETION = 0xC0       #: WAIT_IO_COMPLETION
WSA_WAIT_TIMEOUT = 258              #: WAIT_TIMEOUT
WSA_WAIT_FAILED = 0xFFFFFFFF        #: WAIT_FAILED (same bits as WSA_INFINITE)

# --- The sockets API, for providers (winsock2.h, ws2def.h, ws2ipdef.h): Windows values ---
# These are what a Windows program passes, and what ws2core.provider takes; several differ
# from the host's `socket` module (AF_INET6 is 23 on Windows, 10 on Linux; SOL_SOCKET is
# 0xFFFF, not 1), so never pass `socket.AF_INET6` where a Windows value is expected.
AF_UNSPEC = 0
AF_INET = 2
AF_INET6 = 23
SOCK_STREAM = 1
SOCK_DGRAM = 2
IPPROTO_IP = 0
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IPV6 = 41
SOMAXCONN = 0x7FFFFFFF
SOL_SOCKET = 0xFFFF
SO_DEBUG = 0x0001
SO_ACCEPTCONN = 0x0002
SO_REUSEADDR = 0x0004
SO_KEEPALIVE = 0x0008
SO_DONTROUTE = 0x0010
SO_BROADCAST = 0x0020
SO_LINGER = 0x0080
SO_OOBINLINE = 0x0100
SO_EXCLUSIVEADDRUSE = ~SO_REUSEADDR  #: -5 as the C int optname
SO_SNDBUF = 0x1001
SO_RCVBUF = 0x1002
SO_SNDTIMEO = 0x1005
SO_RCVTIMEO = 0x1006
SO_ERROR = 0x1007
SO_TYPE = 0x1008
TCP_NODELAY = 0x0001
IPV6_V6ONLY = 27
FIONREAD = 0x4004667F              #: _IOR('f', 127, u_long)
FIONBIO = 0x8004667E               #: _IOW('f', 126, u_long), as the DWORD dwIoControlCode
MSG_OOB = 0x1
MSG_PEEK = 0x2
MSG_DONTROUTE = 0x4
MSG_WAITALL = 0x8
MSG_PARTIAL = 0x8000
SD_RECEIVE = 0
SD_SEND = 1
SD_BOTH = 2
CF_ACCEPT = 0                      #: what a WSPAccept condition function returns
CF_REJECT = 1
CF_DEFER = 2

# --- Options, I/O controls and WSAPoll (issue 19: the control exports): Windows values ---
SO_DONTLINGER = ~SO_LINGER          #: -129 as the C int optname
SO_MAX_MSG_SIZE = 0x2003
SO_PROTOCOL_INFOA = 0x2004
SO_PROTOCOL_INFOW = 0x2005
IP_HDRINCL = 2
IP_TOS = 3
IP_TTL = 4
IP_MULTICAST_IF = 9
IP_MULTICAST_TTL = 10
IP_MULTICAST_LOOP = 11
IP_ADD_MEMBERSHIP = 12
IP_DROP_MEMBERSHIP = 13
IPV6_UNICAST_HOPS = 4
SIOCATMARK = 0x40047307            #: _IOR('s', 7, u_long)
SIO_GET_EXTENSION_FUNCTION_POINTER = 0xC8000006  #: _WSAIORW(IOC_WS2, 6)
# The extension functions' GUIDs (mswsock.h, as the Windows SDK and Wine's include/mswsock.h
# give them), the lpvInBuffer of SIO_GET_EXTENSION_FUNCTION_POINTER; ws2core.structs.GUID
# holds one in Windows' layout (uuid.UUID.bytes_le).  Each is a uuid.UUID made on first use
# (``__getattr__`` below): the uuid module costs a few milliseconds of every import, and on
# Python 3.10 it loads subprocess and selectors with it.
_guid_texts = {
    "WSAID_ACCEPTEX": "b5367df1-cbac-11cf-95ca-00805f48a192",
    "WSAID_GETACCEPTEXSOCKADDRS": "b5367df2-cbac-11cf-95ca-00805f48a192",
    "WSAID_CONNECTEX": "25a207b9-ddf3-4660-8ee9-76e58c74063e",
    "WSAID_DISCONNECTEX": "7fda2e11-8630-436f-a031-f536a6eec157",
}


def __getattr__(name: str) -> _uuid.UUID:
    text = _guid_texts.get(name)
    if text is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import uuid

    value = globals()[name] = uuid.UUID(text)   # made once: later lookups find it here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_guid_texts})


# mswsock.h: the options an AcceptEx'd or ConnectEx'd socket is given, and DisconnectEx's flag
# (TF_ for TransmitFile, whose flags DisconnectEx shares).
SO_UPDATE_ACCEPT_CONTEXT = 0x700B
SO_UPDATE_CONNECT_CONTEXT = 0x7010
TF_DISCONNECT = 0x01
TF_REUSE_SOCKET = 0x02
POLLERR = 0x0001                   #: WSAPOLLFD.revents only
POLLHUP = 0x0002
POLLNVAL = 0x0004
POLLWRNORM = 0x0010
POLLOUT = POLLWRNORM
POLLWRBAND = 0x0020
POLLRDNORM = 0x0100
POLLRDBAND = 0x0200
POLLIN = POLLRDNORM | POLLRDBAND
POLLPRI = 0x0400
# Network events (WSAEventSelect, WSAEnumNetworkEvents): FD_X == 1 << FD_X_BIT, and
# WSANETWORKEVENTS.iErrorCode[FD_X_BIT] holds the error that came with FD_X.
FD_READ_BIT = 0
FD_WRITE_BIT = 1
FD_OOB_BIT = 2
FD_ACCEPT_BIT = 3
FD_CONNECT_BIT = 4
FD_CLOSE_BIT = 5
FD_READ = 1 << FD_READ_BIT
FD_WRITE = 1 << FD_WRITE_BIT
FD_OOB = 1 << FD_OOB_BIT
FD_ACCEPT = 1 << FD_ACCEPT_BIT
FD_CONNECT = 1 << FD_CONNECT_BIT
FD_CLOSE = 1 << FD_CLOSE_BIT
FD_MAX_EVENTS = 10
FD_ALL_EVENTS = (1 << FD_MAX_EVENTS) - 1


# WSAAsyncSelect's message: wParam the socket, lParam MAKELONG(the FD_X event, its error).
def WSAMAKESELECTREPLY(event: int, error: int) -> int:
    """The lParam of a WSAAsyncSelect message: MAKELONG(event, error), the event in the low
    word and its Winsock error code (0: none) in the high word."""
    return (_index(event) & 0xFFFF) | (_index(error) & 0xFFFF) << 16


def WSAGETSELECTEVENT(lParam: int) -> int:
    """The FD_X event of a WSAAsyncSelect message's ``lParam`` (its low word)."""
    return _index(lParam) & 0xFFFF


def WSAGETSELECTERROR(lParam: int) -> int:
    """The error code of a WSAAsyncSelect message's ``lParam`` (its high word; 0: none)."""
    return _index(lParam) >> 16 & 0xFFFF

# --- Name lookups (ws2def.h, ws2tcpip.h): getaddrinfo's hints and getnameinfo's flags ---
# On Windows the EAI_* codes are Winsock errors: EAI_NONAME is WSAHOST_NOT_FOUND,
# EAI_FAMILY WSAEAFNOSUPPORT, EAI_SOCKTYPE WSAESOCKTNOSUPPORT, EAI_BADFLAGS WSAEINVAL,
# EAI_SERVICE WSATYPE_NOT_FOUND, EAI_AGAIN WSATRY_AGAIN, EAI_FAIL WSANO_RECOVERY.
AI_PASSIVE = 0x01
AI_CANONNAME = 0x02
AI_NUMERICHOST = 0x04
AI_NUMERICSERV = 0x08
AI_ALL = 0x0100
AI_ADDRCONFIG = 0x0400
AI_V4MAPPED = 0x0800
AI_FQDN = 0x00020000
NI_NOFQDN = 0x01
NI_NUMERICHOST = 0x02
NI_NAMEREQD = 0x04
NI_NUMERICSERV = 0x08
NI_DGRAM = 0x10
NI_MAXHOST = 1025
NI_MAXSERV = 32

# --- WSASocket and WSADuplicateSocket (winsock2.h) ---
FROM_PROTOCOL_INFO = -1            #: af, type or protocol taken from lpProtocolInfo
WSA_FLAG_OVERLAPPED = 0x01         #: a socket for overlapped I/O (socket() makes such)
SG_UNCONSTRAINED_GROUP = 0x01      #: WSASocket's g: socket groups, reserved on Windows
SG_CONSTRAINED_GROUP = 0x02
WSAPROTOCOL_LEN = 255              #: szProtocol holds WSAPROTOCOL_LEN + 1 characters
MAX_PROTOCOL_CHAIN = 7

# --- WSAPROTOCOL_INFO's contents (winsock2.h; issue 19: getsockopt SO_PROTOCOL_INFO) ---
XP1_CONNECTIONLESS = 0x00000001
XP1_GUARANTEED_DELIVERY = 0x00000002
XP1_GUARANTEED_ORDER = 0x00000004
XP1_MESSAGE_ORIENTED = 0x00000008
XP1_GRACEFUL_CLOSE = 0x00000020
XP1_EXPEDITED_DATA = 0x00000040
XP1_SUPPORT_BROADCAST = 0x00000200
XP1_SUPPORT_MULTIPOINT = 0x00000400
XP1_QOS_SUPPORTED = 0x00002000
XP1_IFS_HANDLES = 0x00020000
PFL_MULTIPLE_PROTO_ENTRIES = 0x00000001
PFL_RECOMMENDED_PROTO_ENTRY = 0x00000002
PFL_HIDDEN = 0x00000004            #: an entry WSAEnumProtocols leaves out (WSCEnumProtocols not)
PFL_MATCHES_PROTOCOL_ZERO = 0x00000008
LAYERED_PROTOCOL = 0               #: ProtocolChain.ChainLen of a layered protocol (an LSP's own)
BASE_PROTOCOL = 1                  #: ProtocolChain.ChainLen of a base protocol
BIGENDIAN = 0x0000                 #: iNetworkByteOrder
SECURITY_PROTOCOL_NONE = 0x0000    #: iSecurityScheme

# --- Win32 error codes that Winsock reuses under WSA_* names ---
ERROR_INVALID_HANDLE = 6
ERROR_NOT_ENOUGH_MEMORY = 8
ERROR_INVALID_PARAMETER = 87
ERROR_OPERATION_ABORTED = 995
ERROR_IO_INCOMPLETE = 996
ERROR_IO_PENDING = 997
WSA_INVALID_HANDLE = ERROR_INVALID_HANDLE
WSA_NOT_ENOUGH_MEMORY = ERROR_NOT_ENOUGH_MEMORY
WSA_INVALID_PARAMETER = ERROR_INVALID_PARAMETER
WSA_OPERATION_ABORTED = ERROR_OPERATION_ABORTED
WSA_IO_INCOMPLETE = ERROR_IO_INCOMPLETE
WSA_IO_PENDING = ERROR_IO_PENDING
# ws2spi.h: a WSAOVERLAPPED's Internal while its operation is pending (STATUS_PENDING)
WSS_OPERATION_IN_PROGRESS = 0x00000103

# --- Windows Sockets error codes (WSABASEERR + n) ---
WSABASEERR = 10000
WSAEINTR = 10004
WSAEBADF = 10009
WSAEACCES = 10013
WSAEFAULT = 10014
WSAEINVAL = 10022
WSAEMFILE = 10024
WSAEWOULDBLOCK = 10035
WSAEINPROGRESS = 10036
WSAEALREADY = 10037
WSAENOTSOCK = 10038
WSAEDESTADDRREQ = 10039
WSAEMSGSIZE = 10040
WSAEPROTOTYPE = 10041
WSAENOPROTOOPT = 10042
WSAEPROTONOSUPPORT = 10043
WSAESOCKTNOSUPPORT = 10044
WSAEOPNOTSUPP = 10045
WSAEPFNOSUPPORT = 10046
WSAEAFNOSUPPORT = 10047
WSAEADDRINUSE = 10048
WSAEADDRNOTAVAIL = 10049
WSAENETDOWN = 10050
WSAENETUNREACH = 10051
WSAENETRESET = 10052
WSAECONNABORTED = 10053
WSAECONNRESET = 10054
WSAENOBUFS = 10055
WSAEISCONN = 10056
WSAENOTCONN = 10057
WSAESHUTDOWN = 10058
WSAETOOMANYREFS = 10059
WSAETIMEDOUT = 10060
WSAECONNREFUSED = 10061
WSAELOOP = 10062
WSAENAMETOOLONG = 10063
WSAEHOSTDOWN = 10064
WSAEHOSTUNREACH = 10065
WSAENOTEMPTY = 10066
WSAEPROCLIM = 10067
WSAEUSERS = 10068
WSAEDQUOT = 10069
WSAESTALE = 10070
WSAEREMOTE = 10071
WSASYSNOTREADY = 10091
WSAVERNOTSUPPORTED = 10092
WSANOTINITIALISED = 10093
WSAEDISCON = 10101
WSAENOMORE = 10102
WSAECANCELLED = 10103
WSAEINVALIDPROCTABLE = 10104
WSAEINVALIDPROVIDER = 10105
WSAEPROVIDERFAILEDINIT = 10106
WSASYSCALLFAILURE = 10107
WSASERVICE_NOT_FOUND = 10108
WSATYPE_NOT_FOUND = 10109
WSA_E_NO_MORE = 10110
WSA_E_CANCELLED = 10111
WSAEREFUSED = 10112
WSAHOST_NOT_FOUND = 11001
WSATRY_AGAIN = 11002
WSANO_RECOVERY = 11003
WSANO_DATA = 11004

# --- Addresses and adapters (issue 19: inet_addr, inet_ntop, iphlpapi) ---
INADDR_NONE = 0xFFFFFFFF
# inet_ntop's last error for a NULL or short buffer on Windows 8 and later: ntdll's status,
# passed on as it is (Wine's test_addr_to_print, which runs on Windows).
STATUS_INVALID_PARAMETER = 0xC000000D
ERROR_BUFFER_OVERFLOW = 111
ERROR_NO_DATA = 232
ERROR_NOACCESS = 998


# --- kernel32: the waits and Win32 codes of the kernel calls made on ws2core's handles
# (WaitForMultipleObjectsEx, ReadFile; codes from winerror.h) ---
WAIT_OBJECT_0 = 0                   #: the WSA_WAIT_EVENT_0 of the kernel's waits
WAIT_IO_COMPLETION = 0xC0
WAIT_TIMEOUT = 258
WAIT_FAILED = 0xFFFFFFFF
MAXIMUM_WAIT_OBJECTS = 64
INFINITE = 0xFFFFFFFF
ERROR_NOT_SUPPORTED = 50
ERROR_NETNAME_DELETED = 64          #: STATUS_CONNECTION_RESET as a Win32 code
ERROR_SEM_TIMEOUT = 121             #: STATUS_IO_TIMEOUT
ERROR_NOACCESS = 998                #: STATUS_ACCESS_VIOLATION: a bad buffer
ERROR_CONNECTION_ABORTED = 1236     #: STATUS_CONNECTION_ABORTED
ERROR_ABANDONED_WAIT_0 = 735        #: a completion port closed under GetQueuedCompletionStatus

# --- user32: the window and message calls a message-only window needs (ws2core.guest.windows;
# codes from winerror.h) ---
HWND_MESSAGE = -3                   #: CreateWindowEx's parent of a message-only window
WM_QUIT = 0x0012
WM_USER = 0x0400
PM_REMOVE = 0x0001
ERROR_TIMEOUT = 1460                #: a GetMessage that ran out of the exports' max_block
ERROR_INSUFFICIENT_BUFFER = 122     #: a class name longer than an atom's 255 characters
ERROR_INVALID_WINDOW_HANDLE = 1400
ERROR_CANNOT_FIND_WND_CLASS = 1407
ERROR_CLASS_ALREADY_EXISTS = 1410
ERROR_CLASS_DOES_NOT_EXIST = 1411
ERROR_CLASS_HAS_WINDOWS = 1412

def _error_names() -> dict[int, str]:
    """Number -> name for every error code above.

    Where a WSA_* name and its Win32 twin share a number, the WSA name wins (it is what a
    Winsock programmer reads in the documentation of the function that failed).
    """
    names: dict[int, str] = {}
    for name, value in globals().items():
        if name.startswith("ERROR_") and isinstance(value, int):
            names.setdefault(value, name)
    for name, value in globals().items():
        if name.startswith("WSA") and name != "WSABASEERR" and not name.startswith(
            ("WSA_WAIT_", "WSA_INFINITE", "WSA_MAXIMUM", "WSA_INVALID_EVENT")
        ) and isinstance(value, int):
            names[value] = name
    return names


ERROR_NAMES: dict[int, str] = _error_names()


def errorname(code: int) -> str:
    """The symbolic name of a Windows error code: ``errorname(10038) == "WSAENOTSOCK"``.

    The WSA name is given where a Win32 twin shares the number
    (``errorname(6) == "WSA_INVALID_HANDLE"``); a code ws2core has no name for comes back as
    its decimal digits.  ``code`` is an int (anything with ``__index__``); anything else is a
    TypeError, a bool included: an error code is never a truth value, and a bool here is
    almost surely a BOOL result or a flag passed by mistake.
    """
    if code.__class__ is not int:
        if isinstance(code, bool) or not hasattr(type(code), "__index__"):
            # Worded as ws2core._shared.not_an_int words it (constants imports nothing of ours).
            raise TypeError(
                f"errorname() argument 'code' must be an int (a Windows error code), "
                f"not {type(code).__name__}"
            )
        code = _index(code)
    return ERROR_NAMES.get(code, str(code))
