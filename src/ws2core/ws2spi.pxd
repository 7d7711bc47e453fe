# cython: language_level=3
"""Cython declarations of <ws2core/ws2spi.h>: the WSPUPCALLTABLE and its Windows types.

A provider written in Cython calls the upcalls of a native table as C calls, without the GIL
if it likes::

    from cpython.pycapsule cimport PyCapsule_GetPointer
    from ws2core.ws2spi cimport SOCKET, DWORD_PTR, WSPUPCALLTABLE, INVALID_SOCKET

    cdef const WSPUPCALLTABLE *up = <const WSPUPCALLTABLE *>PyCapsule_GetPointer(
        upcall_table.native_capsule(), b"ws2core.WSPUPCALLTABLE")
    cdef int err
    cdef SOCKET s
    with nogil:
        s = up.lpWPUCreateSocketHandle(7, <DWORD_PTR>42, &err)

Compile it with ``include_dirs=[ws2core.get_include()]``.  Keep the capsule (or the
UpcallTable) alive while the pointer is in use.
"""

from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uintptr_t, intptr_t


cdef extern from "ws2core/ws2spi.h" nogil:
    const char *WS2CORE_WSPUPCALLTABLE_CAPSULE

    ctypedef uint32_t DWORD
    ctypedef uintptr_t DWORD_PTR
    ctypedef DWORD_PTR *PDWORD_PTR
    ctypedef int BOOL
    ctypedef int *LPINT
    ctypedef unsigned int UINT
    ctypedef uint16_t WCHAR
    ctypedef void *HANDLE
    ctypedef void *HWND
    ctypedef uintptr_t WPARAM
    ctypedef intptr_t LPARAM
    ctypedef uintptr_t SOCKET
    ctypedef void *WSAEVENT

    ctypedef struct GUID:
        uint32_t Data1
        uint16_t Data2
        uint16_t Data3
        uint8_t Data4[8]
    ctypedef GUID *LPGUID

    ctypedef struct WSATHREADID:
        HANDLE ThreadHandle
        DWORD_PTR Reserved
    ctypedef WSATHREADID *LPWSATHREADID

    ctypedef BOOL (*LPBLOCKINGCALLBACK)(DWORD_PTR dwContext) noexcept nogil
    ctypedef void (*LPWSAUSERAPC)(DWORD_PTR dwContext) noexcept nogil

    enum: WS2CORE_FD_SETSIZE
    ctypedef struct ws2core_fd_set:
        unsigned int fd_count
        SOCKET fd_array[WS2CORE_FD_SETSIZE]

    enum:
        TRUE
        FALSE
        SOCKET_ERROR
        WSA_MAXIMUM_WAIT_EVENTS
        WSA_INFINITE
        WSA_WAIT_EVENT_0
        WSA_WAIT_IO_COMPLETION
        WSA_WAIT_TIMEOUT
        WSA_WAIT_FAILED
        WSA_INVALID_HANDLE
        WSA_NOT_ENOUGH_MEMORY
        WSA_INVALID_PARAMETER
        WSAEFAULT
        WSAEINVAL
        WSAENOTSOCK
        WSAENOBUFS
        WSANOTINITIALISED
    const SOCKET INVALID_SOCKET
    const WSAEVENT WSA_INVALID_EVENT

    ctypedef struct WSPUPCALLTABLE:
        BOOL (*lpWPUCloseEvent)(WSAEVENT hEvent, LPINT lpErrno) noexcept nogil
        int (*lpWPUCloseSocketHandle)(SOCKET s, LPINT lpErrno) noexcept nogil
        WSAEVENT (*lpWPUCreateEvent)(LPINT lpErrno) noexcept nogil
        SOCKET (*lpWPUCreateSocketHandle)(DWORD dwCatalogEntryId, DWORD_PTR dwContext,
                                          LPINT lpErrno) noexcept nogil
        int (*lpWPUFDIsSet)(SOCKET s, ws2core_fd_set *fdset) noexcept nogil
        int (*lpWPUGetProviderPath)(LPGUID lpProviderId, WCHAR *lpszProviderDllPath,
                                    LPINT lpProviderDllPathLen, LPINT lpErrno) noexcept nogil
        SOCKET (*lpWPUModifyIFSHandle)(DWORD dwCatalogEntryId, SOCKET ProposedHandle,
                                       LPINT lpErrno) noexcept nogil
        BOOL (*lpWPUPostMessage)(HWND hWnd, UINT Msg, WPARAM wParam, LPARAM lParam) noexcept nogil
        int (*lpWPUQueryBlockingCallback)(DWORD dwCatalogEntryId,
                                          LPBLOCKINGCALLBACK *lplpfnCallback,
                                          PDWORD_PTR lpdwContext, LPINT lpErrno) noexcept nogil
        int (*lpWPUQuerySocketHandleContext)(SOCKET s, PDWORD_PTR lpContext,
                                             LPINT lpErrno) noexcept nogil
        int (*lpWPUQueueApc)(LPWSATHREADID lpThreadId, LPWSAUSERAPC lpfnUserApc,
                             DWORD_PTR dwContext, LPINT lpErrno) noexcept nogil
        BOOL (*lpWPUResetEvent)(WSAEVENT hEvent, LPINT lpErrno) noexcept nogil
        BOOL (*lpWPUSetEvent)(WSAEVENT hEvent, LPINT lpErrno) noexcept nogil
        int (*lpWPUOpenCurrentThread)(LPWSATHREADID lpThreadId, LPINT lpErrno) noexcept nogil
        int (*lpWPUCloseThread)(LPWSATHREADID lpThreadId, LPINT lpErrno) noexcept nogil
    ctypedef WSPUPCALLTABLE *LPWSPUPCALLTABLE

    ctypedef struct WS2COREWAITTABLE:
        DWORD (*lpWaitForMultipleEvents)(DWORD cEvents, const WSAEVENT *lphEvents, BOOL fWaitAll,
                                         DWORD dwTimeout, BOOL fAlertable,
                                         LPINT lpErrno) noexcept nogil
        DWORD (*lpSleepEx)(DWORD dwMilliseconds, BOOL bAlertable, LPINT lpErrno) noexcept nogil
    ctypedef WS2COREWAITTABLE *LPWS2COREWAITTABLE
