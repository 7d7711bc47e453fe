# cython: language_level=3
"""A provider written in Cython: it cimports ws2core.ws2spi and calls a native WSPUPCALLTABLE
as C, without the GIL, as the .pxd's docstring shows."""

from cpython.pycapsule cimport PyCapsule_GetPointer

from ws2core.ws2spi cimport (
    DWORD,
    DWORD_PTR,
    INVALID_SOCKET,
    SOCKET,
    SOCKET_ERROR,
    WS2CORE_WSPUPCALLTABLE_CAPSULE,
    WSAENOTSOCK,
    WSPUPCALLTABLE,
)


cdef const WSPUPCALLTABLE *upcalls(capsule) except NULL:
    return <const WSPUPCALLTABLE *>PyCapsule_GetPointer(capsule, WS2CORE_WSPUPCALLTABLE_CAPSULE)


def create(capsule, DWORD catalog_entry_id, DWORD_PTR context):
    """(handle, error): WPUCreateSocketHandle through the table."""
    cdef const WSPUPCALLTABLE *up = upcalls(capsule)
    cdef int error = 0
    cdef SOCKET s
    with nogil:
        s = up.lpWPUCreateSocketHandle(catalog_entry_id, context, &error)
    return s, error


def query(capsule, SOCKET s):
    """(result, context, error): WPUQuerySocketHandleContext through the table."""
    cdef const WSPUPCALLTABLE *up = upcalls(capsule)
    cdef int error = 0
    cdef DWORD_PTR context = 0
    cdef int result
    with nogil:
        result = up.lpWPUQuerySocketHandleContext(s, &context, &error)
    return result, context, error


def churn(capsule, long count, DWORD catalog_entry_id):
    """Create, look up and close ``count`` sockets without the GIL; the number of surprises."""
    cdef const WSPUPCALLTABLE *up = upcalls(capsule)
    cdef long i, surprises = 0
    cdef int error = 0
    cdef SOCKET s
    cdef DWORD_PTR context = 0
    with nogil:
        for i in range(count):
            s = up.lpWPUCreateSocketHandle(catalog_entry_id, <DWORD_PTR>(3 * i + 1), &error)
            if s == INVALID_SOCKET:
                surprises += 1
                continue
            if up.lpWPUQuerySocketHandleContext(s, &context, &error) != 0 or context != 3 * i + 1:
                surprises += 1
            if up.lpWPUCloseSocketHandle(s, &error) != 0:
                surprises += 1
            if (up.lpWPUQuerySocketHandleContext(s, &context, &error) != SOCKET_ERROR
                    or error != WSAENOTSOCK):
                surprises += 1
    return surprises
