# cython: language_level=3, embedsignature=True, embedsignature.format=clinic
"""The Cython core of ws2core: the handle table, FdSet and FD_ISSET, events.

Its pure-Python twin, ws2core/_handles_py.py, has the same names, behaviour, errors and
handle values; read the two side by side.  Invariant for every method here: no Python code
runs (no __index__, no __del__, no attribute hook) while the table is inconsistent.  Python
objects are converted and out-parameters checked before the table changes, and a released
context is dropped only after the bookkeeping is done.

This file holds what every part shares (imports, C statics, the C helpers' declarations);
the parts follow one concern a file, in the order the twin's sections have:

    _handles_conversions.pxi  a Python int as a handle or a SOCKET value
    _handles_batch.pxi        many handles converted at once; a SOCKET hash set
    _handles_fdset.pxi        fd_set in both ABIs: FdSet and the FD_* functions
    _handles_table.pxi        HandleTable: slots, quarantine, sockets, events, waits, threads, ports
    _handles_hot.pxi          Ref, the out-parameter writes and the four hot upcalls
    _handles_native.pxi       the native WSPUPCALLTABLE for C providers

Its C lives in csrc/*.h, included below and by the parts.
"""

cimport cython
from cpython cimport array
from cpython.buffer cimport (
    PyBUF_FULL_RO,
    PyBUF_WRITE,
    PyBuffer_IsContiguous,
    PyBuffer_Release,
    PyObject_CheckBuffer,
    PyObject_GetBuffer,
)
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_New
from cpython.memoryview cimport PyMemoryView_FromMemory
from cpython.long cimport (
    PyLong_AsLongLongAndOverflow,
    PyLong_AsUnsignedLongLong,
    PyLong_AsUnsignedLongLongMask,
    PyLong_Check,
    PyLong_CheckExact,
)
from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.number cimport PyIndex_Check, PyNumber_Index
from cpython.exc cimport PyErr_SetObject, PyErr_WriteUnraisable
from cpython.object cimport Py_SIZE, PyObject
from cpython.type cimport PyType_IsSubtype
from cpython.pythread cimport PyThread_get_thread_ident
from cpython.pycapsule cimport PyCapsule_GetContext, PyCapsule_New, PyCapsule_SetContext
from cpython.ref cimport Py_DECREF, Py_INCREF
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t, uintptr_t
from libc.string cimport memcpy, memmove, memset

from ws2core.ws2spi cimport (
    BOOL, DWORD, DWORD_PTR, FALSE, HANDLE, INVALID_SOCKET, LPWSATHREADID, LPWSAUSERAPC, SOCKET,
    SOCKET_ERROR, TRUE, WS2COREWAITTABLE, WSA_INFINITE, WSA_INVALID_EVENT, WSA_INVALID_HANDLE,
    WSA_INVALID_PARAMETER, WSA_NOT_ENOUGH_MEMORY, WSA_WAIT_EVENT_0, WSA_WAIT_FAILED,
    WSA_WAIT_IO_COMPLETION, WSA_WAIT_TIMEOUT, WSAEFAULT, WSAEINVAL, WSAENOBUFS, WSAENOTSOCK,
    WSANOTINITIALISED, WSAEVENT, WSPUPCALLTABLE, LPGUID, WCHAR, HWND, UINT, WPARAM, LPARAM,
    LPBLOCKINGCALLBACK,
)

from ws2core import _waits
from ws2core import constants as _constants
from ws2core._shared import (  # the bounds' constants are decided there, for both cores
    ABIS as _ABIS,
    DEFAULT_MAX_HANDLES,
    bounds_note as _bounds_note,
    kinds_note as _kinds_note,
    MAX_MAX_HANDLES,
    REUSE_DELAY,
    WinsockError,
    checked_abi,
    fd_set_bytes_error,
    not_an_int,
    register_fd_set,
    require_out_parameter,
    store_context,
    table_bounds,
    _CTYPES_INTEGER_CODES,
)

# C statics, not module attributes: the core's public names are its API alone, and a static
# is read without a dictionary lookup.
cdef object _FD_SETSIZE = _constants.FD_SETSIZE
cdef object _DWORD_MAX = 0xFFFFFFFF  # for messages: the enum DWORD_MAX formats as a C int (-1)
cdef object _INVALID_SOCKET = _constants.INVALID_SOCKET
cdef object _INVALID_SOCKET_X86 = _constants.INVALID_SOCKET_X86
cdef object _SOCKET_ERROR = _constants.SOCKET_ERROR
cdef object _WSA_INVALID_HANDLE = _constants.WSA_INVALID_HANDLE
cdef object _WSA_NOT_ENOUGH_MEMORY = _constants.WSA_NOT_ENOUGH_MEMORY
cdef object _WSAENOBUFS = _constants.WSAENOBUFS
cdef object _WSAENOTSOCK = _constants.WSAENOTSOCK
cdef object _WSAEFAULT = _constants.WSAEFAULT
cdef object _WSA_INVALID_PARAMETER = _constants.WSA_INVALID_PARAMETER

# The C helpers every part may use: the C itself is in csrc/, where it can be read and compiled
# alone.
cdef extern from "ws2core_byteorder.h":
    uint64_t load_le64 "ws2core_load_le64"(const unsigned char *p) noexcept nogil
    void store_le64 "ws2core_store_le64"(unsigned char *p, uint64_t v) noexcept nogil
    uint32_t load_le32 "ws2core_load_le32"(const unsigned char *p) noexcept nogil
    void store_le32 "ws2core_store_le32"(unsigned char *p, uint32_t v) noexcept nogil

cdef extern from "ws2core_pyobjects.h":
    bint compact_value "ws2core_compact_value"(object o, long long *out) noexcept
    int exact_socket_value "ws2core_exact_socket_value"(PyObject *o, uint64_t *out) noexcept
    PyObject *context_at "ws2core_context_at"(list contexts, Py_ssize_t j) noexcept
    void list_copy_item "ws2core_list_copy_item"(list dst, Py_ssize_t i, list src, Py_ssize_t j) noexcept
    int list_move_item "ws2core_list_move_item"(list src, Py_ssize_t j, list dst, Py_ssize_t i) noexcept
    void list_set_bool "ws2core_list_set_bool"(list dst, Py_ssize_t i, bint value) noexcept

# Writers (the table, GIL held) and the native table's lock-free readers meet through these.
cdef extern from "ws2core_atomics.h":
    uint8_t load_acquire_u8 "ws2core_load_acquire"(const uint8_t *p) noexcept nogil
    uint16_t load_acquire_u16 "ws2core_load_acquire"(const uint16_t *p) noexcept nogil
    uint16_t load_relaxed_u16 "ws2core_load_relaxed"(const uint16_t *p) noexcept nogil
    uint32_t load_acquire_u32 "ws2core_load_acquire"(const uint32_t *p) noexcept nogil
    uint64_t load_relaxed_u64 "ws2core_load_relaxed"(const uint64_t *p) noexcept nogil
    uint32_t *load_acquire_u32_ptr "ws2core_load_acquire"(uint32_t **p) noexcept nogil
    Slot *load_acquire_slots "ws2core_load_acquire"(Slot **p) noexcept nogil
    int load_acquire_int "ws2core_load_acquire"(const int *p) noexcept nogil
    void store_release_u8 "ws2core_store_release"(uint8_t *p, uint8_t v) noexcept nogil
    void store_relaxed_u16 "ws2core_store_relaxed"(uint16_t *p, uint16_t v) noexcept nogil
    void store_release_u32 "ws2core_store_release"(uint32_t *p, uint32_t v) noexcept nogil
    void store_relaxed_u64 "ws2core_store_relaxed"(uint64_t *p, uint64_t v) noexcept nogil
    void store_release_u32_ptr "ws2core_store_release"(uint32_t **p, uint32_t *v) noexcept nogil
    void store_release_slots "ws2core_store_release"(Slot **p, Slot *v) noexcept nogil
    void store_release_int "ws2core_store_release"(int *p, int v) noexcept nogil
    void fence_acquire "ws2core_fence_acquire"() noexcept nogil
    void fence_release "ws2core_fence_release"() noexcept nogil


__all__ = [
    "DEFAULT_MAX_HANDLES",
    "FD_CLR",
    "FD_ISSET",
    "FD_SET",
    "FD_ZERO",
    "MAX_MAX_HANDLES",
    "REUSE_DELAY",
    "FdSet",
    "HandleTable",
    "HotUpcalls",
    "Ref",
]

cdef enum:
    DWORD_MAX = 0xFFFFFFFF
    TAG_BITS = 3            # the low handle bits the kernel ignores (OBJ_HANDLE_TAGBITS)
    WAIT_MAXIMUM = 64       # WSA_MAXIMUM_WAIT_EVENTS (MAXIMUM_WAIT_OBJECTS)


include "_handles_conversions.pxi"
include "_handles_batch.pxi"
include "_handles_fdset.pxi"
include "_handles_table.pxi"
include "_handles_hot.pxi"
include "_handles_native.pxi"
