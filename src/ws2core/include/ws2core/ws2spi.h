/* ws2core/ws2spi.h: the Winsock 2 SPI upcall table (WSPUPCALLTABLE) for providers compiled
 * for the host, with the Windows types and constants it needs.
 *
 * A provider written against the Windows ws2spi.h compiles against this header on Linux or
 * macOS and is handed a WSPUPCALLTABLE filled in by ws2core:
 *
 *     #include <ws2core/ws2spi.h>     (the folder is ws2core.get_include())
 *
 *     const WSPUPCALLTABLE *up = (const WSPUPCALLTABLE *)address;  // UpcallTable.native_table()
 *     int err;
 *     SOCKET s = up->lpWPUCreateSocketHandle(catalog_entry_id, (DWORD_PTR)my_state, &err);
 *
 * Layout: every type has the width Windows gives it on a host of the same pointer size, so
 * on a 64-bit host SOCKET, DWORD_PTR and the handles are 8 bytes, fd_set has the Windows x64
 * layout (fd_count, 4 bytes of padding, 8-byte SOCKETs) and WSPUPCALLTABLE is 120 bytes.
 * WSPAPI is the host's C calling convention.  BOOL results are exactly TRUE (1) or FALSE (0).
 *
 * Living beside the host's headers: <sys/select.h> (pulled in by <stdlib.h> on glibc) also
 * defines fd_set and FD_SETSIZE.  This header therefore declares its set as ws2core_fd_set,
 * sized by WS2CORE_FD_SETSIZE (64, Windows' default; define it before including this header
 * to change it), and makes `fd_set` a macro for it, so provider code reads as on Windows.
 * Include it after the host's headers; a translation unit that needs the host's fd_set after
 * this header defines WS2CORE_NO_FD_SET_MACRO first and writes ws2core_fd_set.  The host's
 * FD_SETSIZE and FD_* macros are left alone.  Every constant is guarded by #ifndef, and a
 * program that brings its own Windows type definitions (Winelib, for instance) defines
 * WS2CORE_NO_WINDOWS_TYPES to skip ws2core's.
 */
#ifndef WS2CORE_WS2SPI_H
#define WS2CORE_WS2SPI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The name of the PyCapsule that UpcallTable.native_capsule() returns. */
#define WS2CORE_WSPUPCALLTABLE_CAPSULE "ws2core.WSPUPCALLTABLE"

#ifndef WSPAPI
#define WSPAPI
#endif
#ifndef CALLBACK
#define CALLBACK
#endif

/* ----- Windows types ---------------------------------------------------------------- */

#ifndef WS2CORE_NO_WINDOWS_TYPES
typedef uint32_t DWORD;
typedef DWORD *PDWORD;
typedef uintptr_t DWORD_PTR;            /* ULONG_PTR: pointer-sized */
typedef DWORD_PTR *PDWORD_PTR;
typedef int BOOL;
typedef int INT;
typedef INT *LPINT;
typedef unsigned int UINT;
typedef uint16_t WCHAR;                 /* UTF-16 code unit, whatever the host's wchar_t */
typedef void *HANDLE;
typedef void *HWND;
typedef uintptr_t WPARAM;               /* UINT_PTR */
typedef intptr_t LPARAM;                /* LONG_PTR */
typedef uintptr_t SOCKET;               /* UINT_PTR */
typedef HANDLE WSAEVENT;
typedef struct _GUID {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    uint8_t Data4[8];
} GUID;
typedef GUID *LPGUID;
#endif /* WS2CORE_NO_WINDOWS_TYPES */

/* WSATHREADID: what WPUOpenCurrentThread fills in and WPUQueueApc takes. */
typedef struct _WSATHREADID {
    HANDLE ThreadHandle;
    DWORD_PTR Reserved;
} WSATHREADID, *LPWSATHREADID;

typedef BOOL (CALLBACK *LPBLOCKINGCALLBACK)(DWORD_PTR dwContext);
typedef void (CALLBACK *LPWSAUSERAPC)(DWORD_PTR dwContext);

/* ----- fd_set in the Windows layout ------------------------------------------------- */

#ifndef WS2CORE_FD_SETSIZE
#define WS2CORE_FD_SETSIZE 64
#endif

/* The natural alignment of SOCKET puts 4 bytes of padding after fd_count on a 64-bit host,
   exactly where Windows x64 has them (and none on a 32-bit host, as on Windows x86). */
typedef struct ws2core_fd_set {
    unsigned int fd_count;              /* how many of fd_array are in use */
    SOCKET fd_array[WS2CORE_FD_SETSIZE];
} ws2core_fd_set;

#ifndef WS2CORE_NO_FD_SET_MACRO
#define fd_set ws2core_fd_set
#endif

/* ----- Results and constants -------------------------------------------------------- */

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#ifndef INVALID_SOCKET
#define INVALID_SOCKET ((SOCKET)(~(SOCKET)0))
#endif
#ifndef SOCKET_ERROR
#define SOCKET_ERROR (-1)
#endif
#ifndef WSA_INVALID_EVENT
#define WSA_INVALID_EVENT ((WSAEVENT)NULL)
#endif
#ifndef WSA_MAXIMUM_WAIT_EVENTS
#define WSA_MAXIMUM_WAIT_EVENTS 64
#endif
#ifndef WSA_INFINITE
#define WSA_INFINITE 0xFFFFFFFFu
#endif
#ifndef WSA_WAIT_EVENT_0
#define WSA_WAIT_EVENT_0 0u
#endif
#ifndef WSA_WAIT_IO_COMPLETION
#define WSA_WAIT_IO_COMPLETION 0xC0u
#endif
#ifndef WSA_WAIT_TIMEOUT
#define WSA_WAIT_TIMEOUT 0x102u
#endif
#ifndef WSA_WAIT_FAILED
#define WSA_WAIT_FAILED 0xFFFFFFFFu
#endif

/* ----- Error codes (the values of ws2core.constants) -------------------------------- */

#ifndef WSA_INVALID_HANDLE
#define WSA_INVALID_HANDLE 6            /* ERROR_INVALID_HANDLE */
#endif
#ifndef WSA_NOT_ENOUGH_MEMORY
#define WSA_NOT_ENOUGH_MEMORY 8         /* ERROR_NOT_ENOUGH_MEMORY */
#endif
#ifndef WSA_INVALID_PARAMETER
#define WSA_INVALID_PARAMETER 87        /* ERROR_INVALID_PARAMETER */
#endif
#ifndef WSABASEERR
#define WSABASEERR 10000
#endif
#ifndef WSAEFAULT
#define WSAEFAULT 10014
#endif
#ifndef WSAEINVAL
#define WSAEINVAL 10022
#endif
#ifndef WSAEWOULDBLOCK
#define WSAEWOULDBLOCK 10035
#endif
#ifndef WSAEINPROGRESS
#define WSAEINPROGRESS 10036
#endif
#ifndef WSAENOTSOCK
#define WSAENOTSOCK 10038
#endif
#ifndef WSAENOBUFS
#define WSAENOBUFS 10055
#endif
#ifndef WSAENETDOWN
#define WSAENETDOWN 10050
#endif
#ifndef WSANOTINITIALISED
#define WSANOTINITIALISED 10093
#endif

/* ----- The upcall dispatch table ---------------------------------------------------- */

typedef BOOL (WSPAPI *LPWPUCLOSEEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef int (WSPAPI *LPWPUCLOSESOCKETHANDLE)(SOCKET s, LPINT lpErrno);
typedef WSAEVENT (WSPAPI *LPWPUCREATEEVENT)(LPINT lpErrno);
typedef SOCKET (WSPAPI *LPWPUCREATESOCKETHANDLE)(DWORD dwCatalogEntryId, DWORD_PTR dwContext,
                                                 LPINT lpErrno);
typedef int (WSPAPI *LPWPUFDISSET)(SOCKET s, ws2core_fd_set *fdset);
typedef int (WSPAPI *LPWPUGETPROVIDERPATH)(LPGUID lpProviderId, WCHAR *lpszProviderDllPath,
                                           LPINT lpProviderDllPathLen, LPINT lpErrno);
typedef SOCKET (WSPAPI *LPWPUMODIFYIFSHANDLE)(DWORD dwCatalogEntryId, SOCKET ProposedHandle,
                                              LPINT lpErrno);
typedef BOOL (WSPAPI *LPWPUPOSTMESSAGE)(HWND hWnd, UINT Msg, WPARAM wParam, LPARAM lParam);
typedef int (WSPAPI *LPWPUQUERYBLOCKINGCALLBACK)(DWORD dwCatalogEntryId,
                                                 LPBLOCKINGCALLBACK *lplpfnCallback,
                                                 PDWORD_PTR lpdwContext, LPINT lpErrno);
typedef int (WSPAPI *LPWPUQUERYSOCKETHANDLECONTEXT)(SOCKET s, PDWORD_PTR lpContext,
                                                    LPINT lpErrno);
typedef int (WSPAPI *LPWPUQUEUEAPC)(LPWSATHREADID lpThreadId, LPWSAUSERAPC lpfnUserApc,
                                    DWORD_PTR dwContext, LPINT lpErrno);
typedef BOOL (WSPAPI *LPWPURESETEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef BOOL (WSPAPI *LPWPUSETEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef int (WSPAPI *LPWPUOPENCURRENTTHREAD)(LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int (WSPAPI *LPWPUCLOSETHREAD)(LPWSATHREADID lpThreadId, LPINT lpErrno);

/* The fifteen fields in the order of the Windows ws2spi.h (not alphabetical at the end). */
typedef struct _WSPUPCALLTABLE {
    LPWPUCLOSEEVENT lpWPUCloseEvent;
    LPWPUCLOSESOCKETHANDLE lpWPUCloseSocketHandle;
    LPWPUCREATEEVENT lpWPUCreateEvent;
    LPWPUCREATESOCKETHANDLE lpWPUCreateSocketHandle;
    LPWPUFDISSET lpWPUFDIsSet;
    LPWPUGETPROVIDERPATH lpWPUGetProviderPath;
    LPWPUMODIFYIFSHANDLE lpWPUModifyIFSHandle;
    LPWPUPOSTMESSAGE lpWPUPostMessage;
    LPWPUQUERYBLOCKINGCALLBACK lpWPUQueryBlockingCallback;
    LPWPUQUERYSOCKETHANDLECONTEXT lpWPUQuerySocketHandleContext;
    LPWPUQUEUEAPC lpWPUQueueApc;
    LPWPURESETEVENT lpWPUResetEvent;
    LPWPUSETEVENT lpWPUSetEvent;
    LPWPUOPENCURRENTTHREAD lpWPUOpenCurrentThread;
    LPWPUCLOSETHREAD lpWPUCloseThread;
} WSPUPCALLTABLE, *LPWSPUPCALLTABLE;

/* ----- ws2core's own entry points: alertable waits for C threads --------------------- */

/* A thread receives the APCs queued to it (WPUQueueApc) only in an alertable wait; a Windows
 * thread would call WSAWaitForMultipleEvents or SleepEx, which are not in the upcall table.
 * UpcallTable.native_wait_table() gives the address of a WS2COREWAITTABLE serving the same
 * table as native_table(), valid as long as it.  Both waits take the GIL while they do not
 * block, run the calling thread's APCs on it when fAlertable/bAlertable is TRUE (a C APC is
 * called without the GIL; a Python APC that raises is reported as unraisable and the wait
 * still returns WSA_WAIT_IO_COMPLETION), and report failures through lpErrno (a NULL lpErrno
 * is allowed), not through a last error:
 *   lpWaitForMultipleEvents: WSAWaitForMultipleEvents' results (WSA_WAIT_EVENT_0 + index,
 *     WSA_WAIT_TIMEOUT, WSA_WAIT_IO_COMPLETION, or WSA_WAIT_FAILED with WSA_INVALID_PARAMETER
 *     for cEvents outside 1..64 or a NULL lphEvents, WSA_INVALID_HANDLE for an entry that is
 *     not a live event, WSANOTINITIALISED once the interpreter shuts down);
 *   lpSleepEx: 0 after dwMilliseconds (WSA_INFINITE: never), WSA_WAIT_IO_COMPLETION after
 *     running APCs, or WSA_WAIT_FAILED with WSANOTINITIALISED. */
typedef DWORD (WSPAPI *LPWS2COREWAITFORMULTIPLEEVENTS)(DWORD cEvents, const WSAEVENT *lphEvents,
                                                       BOOL fWaitAll, DWORD dwTimeout,
                                                       BOOL fAlertable, LPINT lpErrno);
typedef DWORD (WSPAPI *LPWS2CORESLEEPEX)(DWORD dwMilliseconds, BOOL bAlertable, LPINT lpErrno);

typedef struct _WS2COREWAITTABLE {
    LPWS2COREWAITFORMULTIPLEEVENTS lpWaitForMultipleEvents;
    LPWS2CORESLEEPEX lpSleepEx;
} WS2COREWAITTABLE, *LPWS2COREWAITTABLE;

#ifdef __cplusplus
}
#endif

#endif /* WS2CORE_WS2SPI_H */
