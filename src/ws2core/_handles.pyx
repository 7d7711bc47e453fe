# cython: language_level=3, embedsignature=True, embedsignature.format=clinic
"""The Cython core of ws2core: the handle table, FdSet and FD_ISSET, events.

Its pure-Python twin, ws2core/_handles_py.py, has the same names, behaviour, errors and
handle values; read the two side by side.  Invariant for every method here: no Python code
runs (no __index__, no __del__, no attribute hook) while the table is inconsistent.  Python
objects are converted and out-parameters checked before the table changes, and a released
context is dropped only after the bookkeeping is done.
"""

cimport cython
from cpython cimport array
from cpython.buffer cimport (
    PyBUF_FULL_RO,
    PyBuffer_IsContiguous,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_New
from cpython.long cimport (
    PyLong_AsLongLongAndOverflow,
    PyLong_AsUnsignedLongLong,
    PyLong_Check,
    PyLong_CheckExact,
)
from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.number cimport PyNumber_Index
from cpython.exc cimport PyErr_SetObject, PyErr_WriteUnraisable
from cpython.object cimport Py_SIZE, PyObject
from cpython.type cimport PyType_IsSubtype
from cpython.pycapsule cimport PyCapsule_GetContext, PyCapsule_New, PyCapsule_SetContext
from cpython.ref cimport Py_DECREF, Py_INCREF
from libc.stdint cimport int32_t, uint8_t, uint32_t, uint64_t, uintptr_t
from libc.string cimport memcpy, memmove, memset

from ws2core.ws2spi cimport (
    BOOL, DWORD, DWORD_PTR, FALSE, INVALID_SOCKET, SOCKET, SOCKET_ERROR, TRUE, WSA_INVALID_EVENT,
    WSA_INVALID_HANDLE, WSA_NOT_ENOUGH_MEMORY, WSAEFAULT, WSAENOBUFS, WSAENOTSOCK,
    WSANOTINITIALISED, WSAEVENT, WSPUPCALLTABLE,
)

from ws2core import _waits
from ws2core import constants as _constants
from ws2core._shared import (  # the bounds' constants are decided there, for both cores
    ABIS as _ABIS,
    DEFAULT_MAX_HANDLES,
    bounds_note as _bounds_note,
    MAX_MAX_HANDLES,
    REUSE_DELAY,
    WinsockError,
    checked_abi,
    require_out_parameter,
    store_context,
    table_bounds,
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
cdef object _WSA_INVALID_PARAMETER = _constants.WSA_INVALID_PARAMETER

cdef extern from *:
    """
    /* fd_set fields are little-endian and may sit at any alignment in a foreign buffer
       (guest memory, a bytearray slice): memcpy compiles to one load on x86-64 and is
       defined behaviour everywhere. */
    static inline uint64_t ws2core_load_le64(const unsigned char *p) {
        uint64_t v; memcpy(&v, p, 8);
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
    #endif
        return v;
    }
    static inline void ws2core_store_le64(unsigned char *p, uint64_t v) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
    #endif
        memcpy(p, &v, 8);
    }
    static inline uint32_t ws2core_load_le32(const unsigned char *p) {
        uint32_t v; memcpy(&v, p, 4);
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap32(v);
    #endif
        return v;
    }
    /* A handle is a one-digit ("compact") int: read it without a call into libpython.
       1 with *out set when o is compact, else 0 (the caller takes the general path). */
    static inline int ws2core_compact_value(PyObject *o, long long *out) {
    #if PY_VERSION_HEX >= 0x030C0000
        if (PyUnstable_Long_IsCompact((PyLongObject *)o)) {
            *out = (long long)PyUnstable_Long_CompactValue((PyLongObject *)o);
            return 1;
        }
        return 0;
    #else
        Py_ssize_t size = Py_SIZE(o);
        if (size == 0) { *out = 0; return 1; }
        if (size == 1) { *out = (long long)((PyLongObject *)o)->ob_digit[0]; return 1; }
        if (size == -1) { *out = -(long long)((PyLongObject *)o)->ob_digit[0]; return 1; }
        return 0;
    #endif
    }
    /* dst[i] = src[j] for a new list dst whose item i is still NULL: one reference taken,
       none given back (a batch of None contexts costs one count update per handle). */
    static inline void ws2core_list_copy_item(PyObject *dst, Py_ssize_t i, PyObject *src,
                                              Py_ssize_t j) {
        PyObject *item = j < PyList_GET_SIZE(src) ? PyList_GET_ITEM(src, j) : Py_None;
        Py_INCREF(item);
        PyList_SET_ITEM(dst, i, item);
    }
    /* A table's context list reaches only as far as a context was ever stored (borrowed). */
    static inline PyObject *ws2core_context_at(PyObject *contexts, Py_ssize_t j) {
        return j < PyList_GET_SIZE(contexts) ? PyList_GET_ITEM(contexts, j) : Py_None;
    }
    /* 1: o is an exact, compact int a SOCKET can hold, in *out; 0: an exact, compact int no
       SOCKET can hold (negative); -1: anything else (the caller takes the general path). */
    static inline int ws2core_exact_socket_value(PyObject *o, uint64_t *out) {
        long long v;
        if (!PyLong_CheckExact(o) || !ws2core_compact_value(o, &v)) return -1;
        if (v < 0) return 0;
        *out = (uint64_t)v;
        return 1;
    }
    /* Move src[j] into dst[i] (still NULL), leaving None in src: 1, or 0 when src[j] is
       None (nothing moves).  No count changes hands but None's. */
    static inline int ws2core_list_move_item(PyObject *src, Py_ssize_t j, PyObject *dst,
                                             Py_ssize_t i) {
        PyObject *item;
        if (j >= PyList_GET_SIZE(src)) return 0;
        item = PyList_GET_ITEM(src, j);
        if (item == Py_None) return 0;
        Py_INCREF(Py_None);
        PyList_SET_ITEM(src, j, Py_None);
        PyList_SET_ITEM(dst, i, item);
        return 1;
    }
    static inline void ws2core_list_set_bool(PyObject *dst, Py_ssize_t i, int value) {
        PyObject *item = value ? Py_True : Py_False;
        Py_INCREF(item);
        PyList_SET_ITEM(dst, i, item);
    }
    static inline void ws2core_store_le32(unsigned char *p, uint32_t v) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap32(v);
    #endif
        memcpy(p, &v, 4);
    }
    """
    uint64_t load_le64 "ws2core_load_le64"(const unsigned char *p) noexcept nogil
    void store_le64 "ws2core_store_le64"(unsigned char *p, uint64_t v) noexcept nogil
    uint32_t load_le32 "ws2core_load_le32"(const unsigned char *p) noexcept nogil
    void store_le32 "ws2core_store_le32"(unsigned char *p, uint32_t v) noexcept nogil
    bint compact_value "ws2core_compact_value"(object o, long long *out) noexcept
    void list_copy_item "ws2core_list_copy_item"(list dst, Py_ssize_t i, list src, Py_ssize_t j) noexcept
    void list_set_bool "ws2core_list_set_bool"(list dst, Py_ssize_t i, bint value) noexcept
    int list_move_item "ws2core_list_move_item"(list src, Py_ssize_t j, list dst, Py_ssize_t i) noexcept
    PyObject *context_at "ws2core_context_at"(list contexts, Py_ssize_t j) noexcept
    int exact_socket_value "ws2core_exact_socket_value"(PyObject *o, uint64_t *out) noexcept


cdef extern from *:
    """
    /* Native table support: C callers read slots without the GIL (see "Native table").
       gcc and clang builtins; the core is built for Linux and macOS hosts only. */
    #define ws2core_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
    #define ws2core_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
    #define ws2core_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
    #define ws2core_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
    #define ws2core_fence_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)
    #define ws2core_fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)

    static inline int ws2core_python_finalizing(void) {
    #if PY_VERSION_HEX >= 0x030D0000
        return Py_IsFinalizing();
    #else
        return _Py_IsFinalizing();
    #endif
    }

    /* The upcalls that touch the table, as the module implements them: each takes the index
       of the entry-point set it was called through.  Filled in at import. */
    typedef struct {
        SOCKET (*create_socket)(unsigned, DWORD, DWORD_PTR, LPINT);
        int (*query_context)(unsigned, SOCKET, PDWORD_PTR, LPINT);
        int (*close_socket)(unsigned, SOCKET, LPINT);
        WSAEVENT (*create_event)(unsigned, LPINT);
        BOOL (*set_event)(unsigned, WSAEVENT, LPINT);
        BOOL (*reset_event)(unsigned, WSAEVENT, LPINT);
        BOOL (*close_event)(unsigned, WSAEVENT, LPINT);
    } ws2core_native_ops;
    static ws2core_native_ops ws2core_ops;

    /* The upcalls that need no table are shared by every set.  WPUFDIsSet trusts fd_count,
       as Windows does: a C caller's fd_set may be larger than FD_SETSIZE. */
    static int WSPAPI ws2core_fd_isset(SOCKET s, ws2core_fd_set *fdset) {
        unsigned int i;
        if (fdset == NULL) return 0;
        for (i = 0; i < fdset->fd_count; i++)
            if (fdset->fd_array[i] == s) return 1;
        return 0;
    }
    /* The seven upcalls ws2core does not implement fail as ws2core.UpcallTable's do. */
    static int WSPAPI ws2core_get_provider_path(LPGUID id, WCHAR *path, LPINT length, LPINT err) {
        (void)id; (void)path; (void)length;
        if (err) *err = WSAEINVAL;
        return SOCKET_ERROR;
    }
    static SOCKET WSPAPI ws2core_modify_ifs_handle(DWORD catalog, SOCKET proposed, LPINT err) {
        (void)catalog; (void)proposed;
        if (err) *err = WSAEINVAL;
        return INVALID_SOCKET;
    }
    static BOOL WSPAPI ws2core_post_message(HWND window, UINT message, WPARAM w, LPARAM l) {
        (void)window; (void)message; (void)w; (void)l;
        return FALSE;
    }
    static int WSPAPI ws2core_query_blocking_callback(DWORD catalog, LPBLOCKINGCALLBACK *callback,
                                                      PDWORD_PTR context, LPINT err) {
        (void)catalog; (void)callback; (void)context;
        if (err) *err = WSAEINVAL;
        return SOCKET_ERROR;
    }
    static int WSPAPI ws2core_queue_apc(LPWSATHREADID thread, LPWSAUSERAPC apc, DWORD_PTR context,
                                        LPINT err) {
        (void)thread; (void)apc; (void)context;
        if (err) *err = WSAEFAULT;
        return SOCKET_ERROR;
    }
    static int WSPAPI ws2core_open_current_thread(LPWSATHREADID thread, LPINT err) {
        (void)thread;
        if (err) *err = WSANOTINITIALISED;
        return SOCKET_ERROR;
    }
    static int WSPAPI ws2core_close_thread(LPWSATHREADID thread, LPINT err) {
        (void)thread;
        if (err) *err = WSANOTINITIALISED;
        return SOCKET_ERROR;
    }

    /* The C signatures carry no table pointer, so each native table has its own entry points:
       64 sets, set a*8+b named by the digits a and b. */
    #define WS2CORE_ENTRY_POINTS(a, b) \
    static BOOL WSPAPI ws2core_close_event_##a##b(WSAEVENT e, LPINT err) \
        { return ws2core_ops.close_event(a * 8 + b, e, err); } \
    static int WSPAPI ws2core_close_socket_##a##b(SOCKET s, LPINT err) \
        { return ws2core_ops.close_socket(a * 8 + b, s, err); } \
    static WSAEVENT WSPAPI ws2core_create_event_##a##b(LPINT err) \
        { return ws2core_ops.create_event(a * 8 + b, err); } \
    static SOCKET WSPAPI ws2core_create_socket_##a##b(DWORD id, DWORD_PTR context, LPINT err) \
        { return ws2core_ops.create_socket(a * 8 + b, id, context, err); } \
    static int WSPAPI ws2core_query_context_##a##b(SOCKET s, PDWORD_PTR context, LPINT err) \
        { return ws2core_ops.query_context(a * 8 + b, s, context, err); } \
    static BOOL WSPAPI ws2core_reset_event_##a##b(WSAEVENT e, LPINT err) \
        { return ws2core_ops.reset_event(a * 8 + b, e, err); } \
    static BOOL WSPAPI ws2core_set_event_##a##b(WSAEVENT e, LPINT err) \
        { return ws2core_ops.set_event(a * 8 + b, e, err); }
    #define WS2CORE_ENTRY_POINT_ROW(a) \
        WS2CORE_ENTRY_POINTS(a, 0) WS2CORE_ENTRY_POINTS(a, 1) WS2CORE_ENTRY_POINTS(a, 2) \
        WS2CORE_ENTRY_POINTS(a, 3) WS2CORE_ENTRY_POINTS(a, 4) WS2CORE_ENTRY_POINTS(a, 5) \
        WS2CORE_ENTRY_POINTS(a, 6) WS2CORE_ENTRY_POINTS(a, 7)
    WS2CORE_ENTRY_POINT_ROW(0) WS2CORE_ENTRY_POINT_ROW(1) WS2CORE_ENTRY_POINT_ROW(2)
    WS2CORE_ENTRY_POINT_ROW(3) WS2CORE_ENTRY_POINT_ROW(4) WS2CORE_ENTRY_POINT_ROW(5)
    WS2CORE_ENTRY_POINT_ROW(6) WS2CORE_ENTRY_POINT_ROW(7)

    #define WS2CORE_UPCALLS(a, b) { \
        ws2core_close_event_##a##b, ws2core_close_socket_##a##b, ws2core_create_event_##a##b, \
        ws2core_create_socket_##a##b, ws2core_fd_isset, ws2core_get_provider_path, \
        ws2core_modify_ifs_handle, ws2core_post_message, ws2core_query_blocking_callback, \
        ws2core_query_context_##a##b, ws2core_queue_apc, ws2core_reset_event_##a##b, \
        ws2core_set_event_##a##b, ws2core_open_current_thread, ws2core_close_thread }
    #define WS2CORE_UPCALL_ROW(a) \
        WS2CORE_UPCALLS(a, 0), WS2CORE_UPCALLS(a, 1), WS2CORE_UPCALLS(a, 2), WS2CORE_UPCALLS(a, 3), \
        WS2CORE_UPCALLS(a, 4), WS2CORE_UPCALLS(a, 5), WS2CORE_UPCALLS(a, 6), WS2CORE_UPCALLS(a, 7)
    /* What each set's table holds; a claimed set's table is copied from here, so a provider
       that scribbles on its table does not leave the damage to the next owner. */
    static const WSPUPCALLTABLE ws2core_upcall_templates[64] = {
        WS2CORE_UPCALL_ROW(0), WS2CORE_UPCALL_ROW(1), WS2CORE_UPCALL_ROW(2), WS2CORE_UPCALL_ROW(3),
        WS2CORE_UPCALL_ROW(4), WS2CORE_UPCALL_ROW(5), WS2CORE_UPCALL_ROW(6), WS2CORE_UPCALL_ROW(7)
    };
    static WSPUPCALLTABLE ws2core_upcall_tables[64];
    """
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
    bint python_finalizing "ws2core_python_finalizing"() noexcept nogil

    ctypedef struct native_ops "ws2core_native_ops":
        SOCKET (*create_socket)(unsigned, DWORD, DWORD_PTR, int *) noexcept nogil
        int (*query_context)(unsigned, SOCKET, DWORD_PTR *, int *) noexcept nogil
        int (*close_socket)(unsigned, SOCKET, int *) noexcept nogil
        WSAEVENT (*create_event)(unsigned, int *) noexcept nogil
        BOOL (*set_event)(unsigned, WSAEVENT, int *) noexcept nogil
        BOOL (*reset_event)(unsigned, WSAEVENT, int *) noexcept nogil
        BOOL (*close_event)(unsigned, WSAEVENT, int *) noexcept nogil
    native_ops native_ops_table "ws2core_ops"
    const WSPUPCALLTABLE upcall_templates "ws2core_upcall_templates"[64]
    WSPUPCALLTABLE upcall_tables "ws2core_upcall_tables"[64]


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


cdef inline long long _handle_value(object h) except -2:
    """``h`` as a C value (TypeError for a non-int); -1 for any int no handle can be."""
    cdef int overflow = 0
    cdef long long value
    if PyLong_CheckExact(h) and compact_value(h, &value):
        return value if value >= 0 else -1
    if not PyLong_Check(h):
        h = PyNumber_Index(h)
    value = PyLong_AsLongLongAndOverflow(h, &overflow)
    if overflow or value < 0:
        return -1
    return value


cdef int _socket_value(object fd, uint64_t *value) except -1:
    """1 with ``*value`` set if ``fd`` is an int a SOCKET can hold, 0 for any other int,
    TypeError for a non-int."""
    cdef int overflow = 0
    cdef long long small
    if PyLong_CheckExact(fd) and compact_value(fd, &small):
        if small < 0:
            return 0
        value[0] = <uint64_t>small
        return 1
    if not PyLong_Check(fd):
        fd = PyNumber_Index(fd)
    small = PyLong_AsLongLongAndOverflow(fd, &overflow)
    if overflow == 0:
        if small < 0:
            return 0
        value[0] = <uint64_t>small
        return 1
    if overflow < 0:
        return 0
    try:  # 2**63 and above: a SOCKET holds up to 2**64 - 1
        value[0] = PyLong_AsUnsignedLongLong(fd)
    except OverflowError:
        return 0
    return 1


cdef array.array _HANDLE_ARRAY = array.array("Q")  # the template of create_sockets' result


@cython.final
@cython.auto_pickle(False)
cdef class _Batch:
    """Many handles given to a batch operation, converted once, before the table is read.

    ``raw[i]`` is the value as a SOCKET (0..2**64-1) where ``is_socket[i]``; an
    ``array('Q')`` (or 8-byte ``'L'``) is copied without making an int per handle.
    """

    cdef uint64_t *raw
    cdef uint8_t *is_socket  # 1: raw[i] holds it; 0: an int no SOCKET can hold (negative,
                             # 2**64 and above); NOT_AN_INT: only when _batch was told to wait
    cdef Py_ssize_t count
    cdef list items     # the given objects, or None for an array (made again on demand)

    def __dealloc__(self):
        _batch_release(self)

    cdef inline long long value(self, Py_ssize_t i) noexcept:
        """Entry ``i`` as the table's lookups take it: -1 for anything no handle can be."""
        if self.is_socket[i] == 1 and (self.raw[i] >> 63) == 0:  # a C shift: no Python int
            return <long long>self.raw[i]
        return -1

    cdef object item(self, Py_ssize_t i):
        return self.items[i] if self.items is not None else self.raw[i]


cdef enum:
    NOT_AN_INT = 2


cdef _Batch _batch(object handles, bint type_errors_later=False):
    """Convert ``handles`` (any iterable of ints) for a batch: TypeError for a non-int, or with
    ``type_errors_later`` a NOT_AN_INT mark, for a caller that must fail at that item in turn."""
    cdef _Batch batch = _Batch.__new__(_Batch)
    cdef array.array given
    cdef Py_ssize_t i
    cdef uint64_t value = 0
    if (type(handles) is array.array
            and ((<array.array>handles).ob_descr.typecode == c'Q'
                 or (<array.array>handles).ob_descr.typecode == c'L')
            and (<array.array>handles).ob_descr.itemsize == 8):
        given = <array.array>handles
        batch.count = Py_SIZE(given)
        _batch_memory(batch)
        if batch.count:  # an empty array has no buffer at all: memcpy from NULL is undefined
            memcpy(batch.raw, given.data.as_voidptr, <size_t>(batch.count * 8))
            memset(batch.is_socket, 1, <size_t>batch.count)
        return batch
    cdef int known
    if type(handles) is list:  # a list of plain ints needs neither a copy nor Python code
        batch.count = len(<list>handles)
        _batch_memory(batch)
        for i in range(batch.count):
            known = exact_socket_value(PyList_GET_ITEM(<list>handles, i), &value)
            if known < 0:
                break
            batch.is_socket[i] = known
            batch.raw[i] = value
        else:
            batch.items = <list>handles
            return batch
        _batch_release(batch)  # an item that needs __index__: the general path, from a copy
    batch.items = list(handles)  # iteration runs Python code: all of it before the table is read
    batch.count = len(batch.items)
    _batch_memory(batch)
    for i in range(batch.count):
        try:
            batch.is_socket[i] = _socket_value(batch.items[i], &value)  # __index__ too, all first
        except TypeError:
            if not type_errors_later:
                raise
            batch.is_socket[i] = NOT_AN_INT
        batch.raw[i] = value
    return batch


cdef str _not_a_socket(_Batch batch, Py_ssize_t i):
    """The detail of a batch's WSAENOTSOCK: which entry, and its value."""
    item = batch.item(i)
    shown = f"{item:#x}" if isinstance(item, int) else repr(item)
    return f"handles[{i}] = {shown} is not a live socket of this table"


cdef void _batch_release(_Batch batch) noexcept:
    PyMem_Free(batch.raw)
    PyMem_Free(batch.is_socket)
    batch.raw = NULL
    batch.is_socket = NULL


cdef int _batch_memory(_Batch batch) except -1:
    batch.raw = <uint64_t *>PyMem_Malloc(<size_t>(batch.count * 8) + 8)
    batch.is_socket = <uint8_t *>PyMem_Malloc(<size_t>batch.count + 1)
    if batch.raw is NULL or batch.is_socket is NULL:
        raise MemoryError(f"no memory for a batch of {batch.count} handles")
    return 0


@cython.auto_pickle(False)
cdef class Ref:
    """Ref(value=None)
--

A minimal out-parameter holder: upcalls write ``.value``.

    ``ws2core.Ref()`` stands for a C out-parameter (``int *lpErrno``, ``DWORD_PTR
    *lpContext``): the upcall stores its result in ``.value``.  The cores write their own Ref
    without an attribute lookup; any object with a writable ``.value`` works as well.
    """

    def __init__(self, value=None):
        self.value = value

    def __repr__(self):
        return f"Ref({self.value!r})"

    def __reduce__(self):
        return (type(self), (self.value,))


# --------------------------------------------------------------------------------------
# fd_set
#
# Two layouts, chosen per set: x64 (u_int fd_count, 4 bytes of padding, 8-byte SOCKETs) and
# x86 (u_int fd_count, 4-byte SOCKETs, no padding).  In both the header is one entry wide, so
# entry i starts at width * (i + 1).


cdef inline Py_ssize_t _width(bint x86) noexcept nogil:
    """The size of a SOCKET, and of the header before the first one."""
    return 4 if x86 else 8


cdef inline bint _fits(uint64_t value, bint x86) noexcept nogil:
    """Whether a SOCKET of the layout holds ``value`` (any 64-bit value fits x64)."""
    return not x86 or value <= DWORD_MAX


cdef str _not_a_socket_value(object fd, bint x86):
    return f"{fd} is not a SOCKET value (0..2**{32 if x86 else 64}-1)"


import sys as _sys
cdef dict _SYS_MODULES = _sys.modules
cdef object _twin_fd_set = None  # the twin's FdSet class, once the twin is imported


cdef object _other_core_layout(object fdset):
    """Whether ``fdset``, an FdSet of the twin, is x86; None for any other object.

    So that an FdSet is read in its own layout whichever core reads it (a provider holding
    ``ws2core.FdSet`` may serve a table of the twin).  A twin never imported has made no
    FdSet: until then this costs a dictionary lookup.
    """
    global _twin_fd_set
    if _twin_fd_set is None:
        twin = _SYS_MODULES.get("ws2core._handles_py")
        if twin is None:
            return None
        _twin_fd_set = twin.FdSet
    # The C subtype test: isinstance would ask ctypes' metaclass, several times slower.
    if PyType_IsSubtype(type(fdset), <type>_twin_fd_set):
        return fdset.abi == "x86"
    return None


cdef int _abi_of(object fdset, object abi, bint default_x86=False) except -1:
    """1 for the x86 layout, 0 for x64: an FdSet's own (of either core), else ``abi`` (None:
    ``default_x86``); ValueError when ``abi`` contradicts an FdSet."""
    cdef bint x86
    own = (<FdSet>fdset)._x86 if isinstance(fdset, FdSet) else _other_core_layout(fdset)
    if abi is None:
        return default_x86 if own is None else own
    x86 = checked_abi(abi)
    if own is not None and own != x86:
        raise ValueError(f"abi={abi!r} for an FdSet of the other ABI, {_ABIS[own]!r}")
    return x86


cdef int _acquire(object fdset, Py_buffer *view, bint writable) except -1:
    """Acquire a foreign fd_set's buffer, checked; the caller releases it."""
    try:
        PyObject_GetBuffer(fdset, view, PyBUF_FULL_RO)
    except TypeError:
        raise TypeError(
            f"fdset must be a ws2core.FdSet or a buffer with the Windows fd_set layout, "
            f"not {type(fdset).__name__}"
        ) from None
    if not PyBuffer_IsContiguous(view, b'C'):
        PyBuffer_Release(view)
        raise TypeError("fdset must be a C-contiguous buffer")
    if writable and view.readonly:
        PyBuffer_Release(view)
        raise TypeError("fdset is a read-only buffer; FD_SET, FD_CLR and FD_ZERO write to it")
    return 0


cdef int _check_header(Py_ssize_t nbytes, bint x86) except -1:
    if nbytes < _width(x86):
        raise ValueError(
            f"an {_ABIS[x86]} fd_set buffer needs at least {_width(x86)} bytes, this one has {nbytes}")
    return 0


cdef Py_ssize_t _checked_count(const unsigned char *data, Py_ssize_t nbytes, bint x86) except -1:
    """fd_count of the fd_set at ``data``; ValueError when the buffer is too short or
    fd_count exceeds it.  Nothing past ``nbytes`` is ever read."""
    _check_header(nbytes, x86)
    cdef Py_ssize_t count = load_le32(data)
    cdef Py_ssize_t capacity = nbytes // _width(x86) - 1
    if count > capacity:
        raise ValueError(
            f"fd_count {count} exceeds the {capacity} SOCKETs this {nbytes}-byte "
            f"{_ABIS[x86]} fd_set holds"
        )
    return count


cdef inline uint64_t _entry(const unsigned char *data, Py_ssize_t i, bint x86) noexcept nogil:
    if x86:
        return load_le32(data + 4 * (i + 1))
    return load_le64(data + 8 * (i + 1))


cdef inline void _store_entry(unsigned char *data, Py_ssize_t i, uint64_t value, bint x86) noexcept nogil:
    if x86:
        store_le32(data + 4 * (i + 1), <uint32_t>value)
    else:
        store_le64(data + 8 * (i + 1), value)


cdef inline Py_ssize_t _find(uint64_t value, const unsigned char *data, Py_ssize_t count,
                             bint x86) noexcept nogil:
    """Position of the first entry equal to ``value`` among ``count``, or -1.  ``value`` fits
    the layout (callers check)."""
    cdef Py_ssize_t i
    if x86:
        for i in range(count):
            if load_le32(data + 4 * (i + 1)) == value:
                return i
    else:
        for i in range(count):
            if load_le64(data + 8 * (i + 1)) == value:
                return i
    return -1


cdef int _fd_isset(uint64_t value, bint valid, const unsigned char *data, Py_ssize_t nbytes,
                   bint x86) except -1:
    cdef Py_ssize_t count = _checked_count(data, nbytes, x86)
    return 1 if valid and _fits(value, x86) and _find(value, data, count, x86) >= 0 else 0


cdef int _fd_set(uint64_t value, unsigned char *data, Py_ssize_t nbytes, bint x86) except -1:
    """Append ``value`` (which fits the layout) unless present or full (winsock2.h FD_SET);
    1 when it is a member."""
    cdef Py_ssize_t count = _checked_count(data, nbytes, x86)
    if _find(value, data, count, x86) >= 0:
        return 1
    if count >= nbytes // _width(x86) - 1:
        return 0
    _store_entry(data, count, value, x86)
    store_le32(data, <uint32_t>(count + 1))
    return 1


cdef int _fd_clr(uint64_t value, bint valid, unsigned char *data, Py_ssize_t nbytes,
                 bint x86) except -1:
    """Remove the first occurrence, keeping the order (winsock2.h FD_CLR).

    The old last slot keeps a stale copy of the former last entry, as the macro leaves it.
    """
    cdef Py_ssize_t count = _checked_count(data, nbytes, x86)
    if not (valid and _fits(value, x86)):
        return 0
    cdef Py_ssize_t position = _find(value, data, count, x86)
    if position < 0:
        return 0
    cdef Py_ssize_t width = _width(x86)
    cdef unsigned char *entry = data + width * (position + 1)
    memmove(entry, entry + width, <size_t>(width * (count - position - 1)))
    store_le32(data, <uint32_t>(count - 1))
    return 0


@cython.auto_pickle(False)
cdef class FdSet:
    """FdSet(handles=(), capacity=64, *, abi='x64')
--

A Windows fd_set.  x64 (the default): ``u_int fd_count``, 4 bytes of padding,
    ``SOCKET fd_array[capacity]`` of 8-byte SOCKETs; ``abi="x86"``: ``u_int fd_count`` then
    4-byte SOCKETs, no padding.

    The object exports exactly those bytes through the buffer protocol (520 for the default
    FD_SETSIZE of 64 in x64, 260 in x86), so ctypes, emulated guest memory and the FD_*
    functions all see the Windows layout.  Its memory never moves (the capacity is fixed), so
    views exported to C stay valid.  The Pythonic methods refuse to lose a handle (``add`` on a
    full set raises ValueError, as does a value the ABI's SOCKET cannot hold); the module's
    FD_* functions keep the macros' silence.  Two FdSets are equal when their first fd_count
    entries are, in order.
    """

    __hash__ = None  # mutable, like set

    def __cinit__(self, handles=(), capacity=_FD_SETSIZE, *, abi="x64"):
        cdef bint x86 = checked_abi(abi)
        cdef long long wanted = _handle_value(capacity)
        if not 1 <= wanted <= DWORD_MAX:
            raise ValueError(f"capacity must be 1..{_DWORD_MAX}, not {capacity}")
        cdef Py_ssize_t nbytes = _width(x86) * (wanted + 1)
        self._data = <unsigned char *>PyMem_Calloc(1, <size_t>nbytes)
        if self._data is NULL:
            raise MemoryError(f"no memory for an fd_set of {wanted} SOCKETs")
        self._x86 = x86
        self._capacity = wanted
        self._nbytes = nbytes
        self._itemsize = 1

    def __init__(self, handles=(), capacity=_FD_SETSIZE, *, abi="x64"):
        if load_le32(self._data) != 0:  # __init__ called again on a used set: one by one
            for fd in handles:
                self.add(fd)
            return
        _fill(self, _batch(handles, type_errors_later=True))

    def __dealloc__(self):
        PyMem_Free(self._data)

    def __getbuffer__(self, Py_buffer *view, int flags):
        view.buf = self._data
        view.obj = self
        view.len = self._nbytes
        view.readonly = 0
        view.itemsize = 1
        view.format = b"B"
        view.ndim = 1
        view.shape = &self._nbytes
        view.strides = &self._itemsize
        view.suboffsets = NULL
        view.internal = NULL

    @classmethod
    def from_buffer(cls, buffer, /, *, abi=None):
        """A new FdSet holding a copy of a foreign fd_set (capacity: the buffer's, at least 1),
        in the same layout: an FdSet's own, else ``abi`` (None: ``"x64"``)."""
        cdef bint x86 = _abi_of(buffer, abi)
        cdef Py_buffer view
        cdef FdSet fds
        cdef Py_ssize_t count
        _acquire(buffer, &view, False)
        try:
            count = _checked_count(<const unsigned char *>view.buf, view.len, x86)
            fds = cls(capacity=max(1, view.len // _width(x86) - 1), abi=_ABIS[x86])
            memcpy(fds._data, view.buf, <size_t>(_width(x86) * (count + 1)))
        finally:
            PyBuffer_Release(&view)
        return fds

    @property
    def capacity(self):
        """How many SOCKETs the set can hold."""
        return self._capacity

    @property
    def abi(self):
        """The layout: ``"x64"`` or ``"x86"``."""
        return _ABIS[self._x86]

    def add(self, fd, /):
        """Add ``fd`` unless present; ValueError if the set is full or its SOCKET cannot hold ``fd``."""
        cdef uint64_t value = 0
        if not (_socket_value(fd, &value) and _fits(value, self._x86)):
            raise ValueError(_not_a_socket_value(fd, self._x86))
        if not _fd_set(value, self._data, self._nbytes, self._x86):
            raise ValueError(f"the fd_set is full ({self._capacity} SOCKETs); {fd} was not added")

    def discard(self, fd, /):
        """Remove ``fd`` if present (FD_CLR)."""
        cdef uint64_t value = 0
        cdef int valid = _socket_value(fd, &value)
        _fd_clr(value, valid, self._data, self._nbytes, self._x86)

    def clear(self):
        """Empty the set (FD_ZERO: fd_count = 0)."""
        store_le32(self._data, 0)

    def __contains__(self, fd):
        cdef uint64_t value = 0
        cdef int valid = _socket_value(fd, &value)
        return _fd_isset(value, valid, self._data, self._nbytes, self._x86) == 1

    def contains_each(self, handles, /):
        """For each of ``handles``, whether it is in the set (as ``in``): FD_ISSET for many."""
        cdef _Batch batch = _batch(handles)
        cdef bint x86 = self._x86
        cdef Py_ssize_t count = _checked_count(self._data, self._nbytes, x86)
        cdef list found = PyList_New(batch.count)  # NULL items, each set once below
        cdef Py_ssize_t i
        cdef bint member
        cdef SocketHash members
        # Many questions about a set that is not tiny: index its entries once.
        cdef bint hashed = count >= HASHED_FROM and batch.count >= HASHED_FROM
        members.keys = NULL
        members.taken = NULL
        try:
            if hashed:
                _hash_init(&members, count)
                for i in range(count):
                    _hash_add(&members, _entry(self._data, i, x86))
            for i in range(batch.count):
                if not (batch.is_socket[i] and _fits(batch.raw[i], x86)):
                    member = False
                elif hashed:
                    member = _hash_contains(&members, batch.raw[i])
                else:
                    member = _find(batch.raw[i], self._data, count, x86) >= 0
                list_set_bool(found, i, member)
        finally:
            _hash_free(&members)
        return found

    def __len__(self):
        return _checked_count(self._data, self._nbytes, self._x86)

    def __iter__(self):
        cdef Py_ssize_t count = _checked_count(self._data, self._nbytes, self._x86)
        return iter([_entry(self._data, i, self._x86) for i in range(count)])

    def __eq__(self, other):
        if not isinstance(other, FdSet):
            return NotImplemented
        cdef FdSet that = <FdSet>other
        cdef Py_ssize_t count = _checked_count(self._data, self._nbytes, self._x86)
        if _checked_count(that._data, that._nbytes, that._x86) != count:
            return False
        cdef Py_ssize_t i
        for i in range(count):
            if _entry(self._data, i, self._x86) != _entry(that._data, i, that._x86):
                return False
        return True

    def __bytes__(self):
        cdef Py_ssize_t count = _checked_count(self._data, self._nbytes, self._x86)
        return (<char *>self._data)[:_width(self._x86) * (count + 1)]

    def __reduce__(self):
        if self._x86:
            return (_fd_set_of_abi, (list(self), self._capacity, "x86"))
        return (type(self), (list(self), self._capacity))

    def __repr__(self):
        abi = ", abi='x86'" if self._x86 else ""
        return f"FdSet({list(self)!r}, capacity={self._capacity}{abi})"


def _fd_set_of_abi(handles, capacity, abi):
    """Unpickles an FdSet of a non-default ABI (a pickle passes no keywords)."""
    return FdSet(handles, capacity, abi=abi)


cdef enum:
    HASHED_FROM = 8     # a batch against at least this many entries hashes instead of scanning


# A set of SOCKET values for the batch operations: open addressing, linear probing, a table at
# least twice the entries so that a probe is short.  Built per call, freed before returning.
cdef struct SocketHash:
    uint64_t *keys
    uint8_t *taken
    uint64_t mask


cdef int _hash_init(SocketHash *hash, Py_ssize_t entries) except -1:
    cdef uint64_t size = 16
    while size < <uint64_t>entries * 2:
        size <<= 1
    hash.mask = size - 1
    hash.keys = <uint64_t *>PyMem_Malloc(<size_t>(size * 8))
    hash.taken = <uint8_t *>PyMem_Calloc(<size_t>size, 1)
    if hash.keys is NULL or hash.taken is NULL:
        _hash_free(hash)
        raise MemoryError(f"no memory to index {entries} SOCKETs")
    return 0


cdef void _hash_free(SocketHash *hash) noexcept:
    PyMem_Free(hash.keys)
    PyMem_Free(hash.taken)
    hash.keys = NULL
    hash.taken = NULL


cdef inline uint64_t _slot_of(const SocketHash *hash, uint64_t value) noexcept nogil:
    # Fibonacci hashing: handle values are multiples of 4, so mix before masking.
    cdef uint64_t i = (value * <uint64_t>0x9E3779B97F4A7C15) >> 32
    i &= hash.mask
    while hash.taken[i] and hash.keys[i] != value:
        i = (i + 1) & hash.mask
    return i


cdef inline bint _hash_add(SocketHash *hash, uint64_t value) noexcept nogil:
    """1 when ``value`` is new (now added), 0 when it was there."""
    cdef uint64_t i = _slot_of(hash, value)
    if hash.taken[i]:
        return 0
    hash.taken[i] = 1
    hash.keys[i] = value
    return 1


cdef inline bint _hash_contains(const SocketHash *hash, uint64_t value) noexcept nogil:
    return hash.taken[_slot_of(hash, value)]


cdef int _fill(FdSet fds, _Batch batch) except -1:
    """FdSet(handles): what ``add`` does for each handle in turn (the same errors at the same
    handle), without its quadratic duplicate scan on big batches."""
    cdef Py_ssize_t i, count = 0
    cdef uint64_t value = 0
    cdef SocketHash seen
    cdef bint hashed = batch.count >= HASHED_FROM
    cdef bint x86 = fds._x86
    seen.keys = NULL
    seen.taken = NULL
    try:
        if hashed:
            _hash_init(&seen, batch.count)
        for i in range(batch.count):
            if batch.is_socket[i] == NOT_AN_INT:
                _socket_value(batch.item(i), &value)  # raises the TypeError add would have
            if not (batch.is_socket[i] and _fits(batch.raw[i], x86)):
                raise ValueError(_not_a_socket_value(batch.item(i), x86))
            if hashed:
                if not _hash_add(&seen, batch.raw[i]):
                    continue
            elif _find(batch.raw[i], fds._data, count, x86) >= 0:
                continue
            if count == fds._capacity:
                raise ValueError(
                    f"the fd_set is full ({fds._capacity} SOCKETs); {batch.item(i)} was not added")
            _store_entry(fds._data, count, batch.raw[i], x86)
            count += 1
    finally:
        store_le32(fds._data, <uint32_t>count)  # what was added before an error stays, as with add
        _hash_free(&seen)
    return 0


def FD_SET(fd, set, /, *, abi=None):
    """winsock2.h FD_SET: append ``fd`` unless present; silently nothing when the set is full.

    ``set`` is an FdSet (its own layout) or a writable buffer in the layout ``abi`` (None:
    ``"x64"``).  ValueError for a value the layout's SOCKET cannot hold (the macro would store
    a different number).
    """
    cdef uint64_t value = 0
    cdef int valid = _socket_value(fd, &value)
    cdef bint x86 = _abi_of(set, abi)
    cdef Py_buffer view
    if isinstance(set, FdSet):
        if not (valid and _fits(value, x86)):
            raise ValueError(_not_a_socket_value(fd, x86))
        _fd_set(value, (<FdSet>set)._data, (<FdSet>set)._nbytes, x86)
        return
    _acquire(set, &view, True)
    try:
        if not (valid and _fits(value, x86)):
            raise ValueError(_not_a_socket_value(fd, x86))
        _fd_set(value, <unsigned char *>view.buf, view.len, x86)
    finally:
        PyBuffer_Release(&view)


def FD_CLR(fd, set, /, *, abi=None):
    """winsock2.h FD_CLR: remove the first occurrence of ``fd``, keeping the order.

    ``set``: an FdSet, or a writable buffer in the layout ``abi`` (None: ``"x64"``).
    """
    cdef uint64_t value = 0
    cdef int valid = _socket_value(fd, &value)
    cdef bint x86 = _abi_of(set, abi)
    cdef Py_buffer view
    if isinstance(set, FdSet):
        _fd_clr(value, valid, (<FdSet>set)._data, (<FdSet>set)._nbytes, x86)
        return
    _acquire(set, &view, True)
    try:
        _fd_clr(value, valid, <unsigned char *>view.buf, view.len, x86)
    finally:
        PyBuffer_Release(&view)


def FD_ZERO(set, /, *, abi=None):
    """winsock2.h FD_ZERO: fd_count = 0; the array is left as it was.

    ``set``: an FdSet, or a writable buffer in the layout ``abi`` (None: ``"x64"``).
    """
    cdef bint x86 = _abi_of(set, abi)
    cdef Py_buffer view
    if isinstance(set, FdSet):
        store_le32((<FdSet>set)._data, 0)
        return
    _acquire(set, &view, True)
    try:
        _check_header(view.len, x86)
        store_le32(<unsigned char *>view.buf, 0)
    finally:
        PyBuffer_Release(&view)


cdef int _fd_isset_any(object fd, object set, bint x86) except -1:
    """FD_ISSET over an FdSet or a foreign buffer in the layout ``x86`` (_abi_of's answer):
    the body of FD_ISSET and WPUFDIsSet."""
    cdef uint64_t value = 0
    cdef int valid = _socket_value(fd, &value)
    cdef Py_buffer view
    if isinstance(set, FdSet):
        return _fd_isset(value, valid, (<FdSet>set)._data, (<FdSet>set)._nbytes, x86)
    _acquire(set, &view, False)
    try:
        return _fd_isset(value, valid, <const unsigned char *>view.buf, view.len, x86)
    finally:
        PyBuffer_Release(&view)


def FD_ISSET(fd, set, /, *, abi=None):
    """winsock2.h FD_ISSET (__WSAFDIsSet): 1 if ``fd`` is among the first fd_count entries, else 0.

    ``set``: an FdSet (its own layout), or a buffer in the layout ``abi`` (None: ``"x64"``).
    """
    if abi is None and isinstance(set, FdSet):  # the common call: the layout is the set's
        return _fd_isset_any(fd, set, (<FdSet>set)._x86)
    return _fd_isset_any(fd, set, _abi_of(set, abi))


# --------------------------------------------------------------------------------------
# The handle table


cdef uint64_t _native_context(object context) noexcept:
    """The context as C sees it through the native table: an int in -2**63..2**64-1 as its
    64-bit pattern, None as 0, any other object as its address (id()), which stays valid
    while the table holds it.  Runs no Python code."""
    cdef long long value
    cdef int overflow = 0
    if context is None:
        return 0
    if PyLong_CheckExact(context) and compact_value(context, &value):
        return <uint64_t>value
    if PyLong_Check(context):  # an int subclass is read as the int it is, without __index__
        value = PyLong_AsLongLongAndOverflow(context, &overflow)
        if overflow == 0:
            return <uint64_t>value
        if overflow > 0:
            try:
                return PyLong_AsUnsignedLongLong(context)
            except OverflowError:
                pass
    return <uint64_t><uintptr_t><PyObject *>context


cdef inline uint64_t _handle_at(uint32_t first, Py_ssize_t index) noexcept nogil:
    """The handle value of slot ``index`` in a table whose first value is ``first``."""
    return first + (<uint64_t>index << 2)


cdef inline uint64_t _slot_index(uint32_t first, uint64_t value) noexcept nogil:
    """The slot a handle value names, its two tag bits ignored; a value below ``first`` gives
    2**64-1, which no table's count of used slots reaches."""
    if value < first:
        return <uint64_t>-1
    return (value - first) >> 2


cdef inline bint _due(uint32_t stamp, uint64_t creations) noexcept:
    # Stamps are within 2**25 of the clock (the FIFO holds fewer slots than that, and its
    # head is taken as soon as it is due), so 32-bit wrap-around arithmetic orders them.
    return <int32_t>(stamp - <uint32_t>creations) <= 0


cdef uint32_t _checked_catalog_entry_id(long long value, object catalog_entry_id) except? 0xFFFFFFFF:
    if not 0 <= value <= DWORD_MAX:
        raise ValueError(
            f"dwCatalogEntryId must be a DWORD (0..{_DWORD_MAX}), not {catalog_entry_id}"
        )
    return <uint32_t>value


@cython.auto_pickle(False)
cdef class HandleTable:
    """HandleTable(*, max_handles=None, handle_range=None, abi='x64')
--

One Ws2_32 handle namespace: socket and event handles, their contexts and states.

    Sockets and events share one value space, as kernel handles do in a Windows process.
    Values are nonzero multiples of 4 below 2**32, never INVALID_SOCKET or WSA_INVALID_EVENT,
    taken from ``handle_range`` = (first, last) when one is given (default: 4 up to
    2**32 - 4), so that an emulator's own kernel objects can keep out of the table's way.
    Event handles ignore their two low tag bits (``e | 3`` names ``e``); socket handles
    compare by their full value.

    Reuse: Windows hands a closed value out again at once; ws2core does not.  Closed values
    wait in a FIFO, each stamped with the creation count at which it may return, so a value
    closed at any point is not handed out again by the next ``reuse_delay`` creations in this
    table, sockets and events together: a provider that uses a socket after closing it gets
    WSAENOTSOCK instead of silently reaching another socket.  ``reuse_delay`` is REUSE_DELAY
    (65,536) unless the range is too small: a table never uses more than max_handles +
    reuse_delay values, so a range of n values gives min(65,536, n - max_handles).  Fresh
    values are taken in order (first, first + 4, ...) while no closed value is due.

    At most ``max_handles`` handles are live at once (default 2**22, at most 2**24 and at most
    the range's values; with a small range and no max_handles, the range is split so that
    the quarantine keeps at least half of it, up to 65,536); beyond that creation fails with
    WSAENOBUFS (sockets) or WSA_NOT_ENOUGH_MEMORY (events).  Memory grows with the handles in
    use, not with ``max_handles``.

    ``abi`` is the emulated process's: ``"x64"`` (the default) or ``"x86"``, where SOCKET is
    4 bytes.  It decides the fd_set layout WPUFDIsSet reads from a bare buffer and the
    INVALID_SOCKET WPUCreateSocketHandle fails with (INVALID_SOCKET_X86 = 2**32 - 1).

    Contexts are held (a strong reference) until their socket is closed, and released only
    once the table is consistent again, so a context's ``__del__`` may use the table.  Every
    operation is safe from many threads.
    """

    def __cinit__(self):
        self._contexts = []

    def __init__(self, *, max_handles=None, handle_range=None, abi="x64"):
        cdef bint x86 = checked_abi(abi)
        bounds = table_bounds(max_handles, handle_range)
        if self._first and (bounds.first, bounds.max_handles, bounds.reuse_delay, x86) != (
                self._first, self._max_handles, self._reuse_delay, self._x86):
            # Handle values, native readers and the quarantine's invariant all rest on them.
            raise RuntimeError("HandleTable.__init__ cannot change the bounds or ABI of a table")
        self._x86 = x86
        self._first = bounds.first
        self._max_handles = bounds.max_handles
        self._reuse_delay = bounds.reuse_delay

    def __dealloc__(self):
        cdef uint32_t i
        for i in range(self._retired_count):
            PyMem_Free(self._retired[i])
        PyMem_Free(self._slots)

    @property
    def max_handles(self):
        """The cap on live handles, sockets and events together."""
        return self._max_handles

    @property
    def handle_range(self):
        """``(first, last)``: the handle values this table hands out lie in first..last."""
        return (self._first, self._first + 4 * (<uint64_t>self._max_handles + self._reuse_delay - 1))

    @property
    def reuse_delay(self):
        """The quarantine this table gives: a closed value is not handed out again by the next
        ``reuse_delay`` creations (REUSE_DELAY, unless the handle range is too small for it)."""
        return self._reuse_delay

    @property
    def abi(self):
        """The emulated process's ABI, ``"x64"`` or ``"x86"``: the fd_set layout WPUFDIsSet
        reads, and the INVALID_SOCKET WPUCreateSocketHandle fails with."""
        return _ABIS[self._x86]

    # --- allocation

    cdef Py_ssize_t _create(self, uint8_t kind, uint32_t word, object context) except -2:
        """Index of a new live slot holding ``context``; -1 when the table is full.

        The slot is published to lock-free native readers last: its context first, then its
        kind (release), then for a fresh slot the count of slots in use (release).
        """
        cdef uint32_t index
        cdef Slot *slot
        cdef bint fresh = not (
            self._closed_head and _due(self._slots[self._closed_head - 1].word, self._creations))
        cdef uint64_t native = _native_context(context)
        if self._live_count >= self._max_handles:
            return -1
        index = self._used if fresh else self._closed_head - 1
        # Room first, while nothing has changed (MemoryError leaves the table as it was).  The
        # context list reaches only as far as a context was ever stored: a table of sockets
        # without contexts pays nothing for it.  Appending None allocates no tracked object,
        # so no collection (and no finalizer) can run here.
        if context is not None:
            while PyList_GET_SIZE(self._contexts) <= index:
                self._contexts.append(None)
        if fresh and self._used == self._allocated:
            self._grow()
        if fresh:
            self._slots[index].generation = 0
        else:
            self._closed_head = self._slots[index].newer
            if not self._closed_head:
                self._closed_tail = 0
        slot = &self._slots[index]
        store_relaxed_u64(&slot.native, native)
        slot.word = word
        slot.signalled = 0
        slot.older = self._newest
        slot.newer = 0
        store_release_u8(&slot.kind, kind)
        if fresh:
            store_release_u32(&self._used, index + 1)
        if self._newest:
            self._slots[self._newest - 1].newer = index + 1
        else:
            self._oldest = index + 1
        self._newest = index + 1
        self._live_count += 1
        if kind == SLOT_SOCKET:
            self._socket_count += 1
        self._creations += 1
        if context is not None:
            self._contexts[index] = context  # replaces None: no finalizer can run
        return index

    cdef inline object _context_of(self, Py_ssize_t index):
        """The context of the live socket at ``index`` (None past the list's end)."""
        return <object>context_at(self._contexts, index)

    cdef int _grow(self) except -1:
        # The FIFO and the live list never hold more than max_handles + reuse_delay slots
        # (a slot is either live reuse_delay creations ago or handed out since), so the array
        # stops growing there, which keeps every value inside the table's handle range.
        cdef uint64_t limit = <uint64_t>self._max_handles + self._reuse_delay
        cdef uint64_t wanted = 16 if self._allocated == 0 else <uint64_t>self._allocated * 2
        if wanted > limit:
            wanted = limit
        if wanted <= self._allocated:
            raise RuntimeError("ws2core: handle table slot limit reached (a bug: please report)")
        cdef Slot *grown
        if not self._native_readers:
            grown = <Slot *>PyMem_Realloc(self._slots, <size_t>(wanted * sizeof(Slot)))
            if grown is NULL:
                raise MemoryError("no memory to grow the handle table")
            self._slots = grown
            self._allocated = <uint32_t>wanted
            return 0
        # A native reader may hold the old array: copy, publish the new one, keep the old one.
        if self._retired_count == 32:
            raise RuntimeError("ws2core: too many outgrown slot arrays (a bug: please report)")
        grown = <Slot *>PyMem_Malloc(<size_t>(wanted * sizeof(Slot)))
        if grown is NULL:
            raise MemoryError("no memory to grow the handle table")
        if self._used:
            memcpy(grown, self._slots, self._used * sizeof(Slot))
        if self._slots is not NULL:
            self._retired[self._retired_count] = self._slots
            self._retired_count += 1
        store_release_slots(&self._slots, grown)
        self._allocated = <uint32_t>wanted
        return 0

    @cython.final
    cdef Py_ssize_t _socket_at(self, long long value) noexcept:
        """Slot index of the live socket ``value``, or -1."""
        if value < 0 or value & TAG_BITS:
            return -1
        cdef uint64_t index = _slot_index(self._first, <uint64_t>value)
        if index >= self._used or self._slots[index].kind != SLOT_SOCKET:
            return -1
        return <Py_ssize_t>index

    @cython.final
    cdef Py_ssize_t _event_at(self, long long value) noexcept:
        """Slot index of the live event ``value`` (tag bits ignored), or -1."""
        if value < 0:
            return -1
        cdef uint64_t index = _slot_index(self._first, <uint64_t>value)
        if index >= self._used or self._slots[index].kind != SLOT_EVENT:
            return -1
        return <Py_ssize_t>index

    cdef object _release(self, Py_ssize_t index):
        """Forget a live slot; returns its context, which the caller drops last."""
        context = self._context_of(index)
        if context is not None:
            self._contexts[index] = None  # the local above keeps it alive: no finalizer yet
        self._forget(index)
        return context

    cdef int _forget(self, Py_ssize_t index) except -1:
        """The bookkeeping of a close: the slot leaves the live list for the closed FIFO.

        Its context is the caller's business (see _release); nothing here runs Python code.
        """
        cdef Slot *slot = &self._slots[index]
        if slot.older:
            self._slots[slot.older - 1].newer = slot.newer
        else:
            self._oldest = slot.newer
        if slot.newer:
            self._slots[slot.newer - 1].older = slot.older
        else:
            self._newest = slot.older
        if slot.kind == SLOT_SOCKET:
            self._socket_count -= 1
        elif self._waiters:
            self._freeze(index)
        self._live_count -= 1
        # The generation changes before anything else a native reader looks at (its check).
        store_relaxed_u16(&slot.generation, <uint16_t>(slot.generation + 1))
        fence_release()
        store_release_u8(&slot.kind, SLOT_FREE)
        slot.word = <uint32_t>(self._creations + self._reuse_delay)
        slot.older = 0
        slot.newer = 0
        if self._closed_tail:
            self._slots[self._closed_tail - 1].newer = <uint32_t>index + 1
        else:
            self._closed_head = <uint32_t>index + 1
        self._closed_tail = <uint32_t>index + 1
        return 0

    # --- sockets

    def create_socket(self, catalog_entry_id, context=None):
        """A new socket handle for the provider ``catalog_entry_id`` (a DWORD), holding ``context``.

        WinsockError(WSAENOBUFS) when the table is full; ValueError for a catalog entry id
        outside 0..2**32-1.
        """
        cdef uint32_t catalog = _checked_catalog_entry_id(
            _handle_value(catalog_entry_id), catalog_entry_id)
        cdef Py_ssize_t index = self._create(SLOT_SOCKET, catalog, context)
        if index < 0:
            raise WinsockError(_WSAENOBUFS)
        return _handle_at(self._first, index)

    @cython.binding(False)  # a method descriptor: the cheapest call CPython has
    def context(self, s, /):
        """The context of socket ``s``; WinsockError(WSAENOTSOCK) if ``s`` is not a live socket."""
        cdef Py_ssize_t index = self._socket_at(_handle_value(s))
        if index < 0:
            raise WinsockError(_WSAENOTSOCK)
        return self._context_of(index)

    def catalog_entry(self, s, /):
        """The catalog entry id socket ``s`` was created with; WinsockError(WSAENOTSOCK)."""
        cdef Py_ssize_t index = self._socket_at(_handle_value(s))
        if index < 0:
            raise WinsockError(_WSAENOTSOCK)
        return self._slots[index].word

    @cython.binding(False)  # a method descriptor: the cheapest call CPython has
    def close_socket(self, s, /):
        """Close socket ``s`` and release its context; WinsockError(WSAENOTSOCK)."""
        cdef Py_ssize_t index = self._socket_at(_handle_value(s))
        if index < 0:
            raise WinsockError(_WSAENOTSOCK)
        # The returned context is dropped after _release has finished the bookkeeping, so its
        # __del__ (which may use this table) sees a consistent table.
        self._release(index)

    # --- sockets by the batch

    def create_sockets(self, catalog_entry_id, contexts, /):
        """Create one socket for each item of ``contexts``, all for the provider ``catalog_entry_id``.

        Returns the new handles in order, as an ``array('Q')``.  ``contexts`` is any iterable (a
        None item: no context).  All or nothing: WinsockError(WSAENOBUFS), and no socket
        created, when the table cannot hold them all; ValueError for a catalog entry id outside
        0..2**32-1.  Each socket is the one ``create_socket`` would have made next.
        """
        cdef uint32_t catalog = _checked_catalog_entry_id(
            _handle_value(catalog_entry_id), catalog_entry_id)
        cdef list items = list(contexts)  # iteration runs Python code: before the table changes
        cdef Py_ssize_t count = len(items)
        cdef Py_ssize_t i = 0, index
        if count > <Py_ssize_t>(self._max_handles - self._live_count):
            raise WinsockError(_WSAENOBUFS)
        cdef array.array handles = array.clone(_HANDLE_ARRAY, count, False)
        cdef uint64_t *out = <uint64_t *>handles.data.as_voidptr
        try:
            while i < count:
                index = self._create(SLOT_SOCKET, catalog, items[i])  # never -1: room checked
                out[i] = _handle_at(self._first, index)
                i += 1
        except BaseException:  # no memory to grow: undo, so that it stays all or nothing
            while i:
                i -= 1
                self._release(self._socket_at(<long long>out[i]))
            raise
        return handles

    def contexts(self, handles, /):
        """The contexts of many sockets, in order; ``handles`` is any iterable of ints (an
        ``array('Q')`` is read without making an int per handle).

        WinsockError(WSAENOTSOCK) naming the first that is not a live socket.
        """
        cdef _Batch batch = _batch(handles)
        cdef list found = PyList_New(batch.count)  # NULL items, each set once below
        cdef list contexts = self._contexts
        cdef Py_ssize_t i, index
        for i in range(batch.count):
            index = self._socket_at(batch.value(i))
            if index < 0:  # the rest stay NULL: the list's deallocation skips them
                raise WinsockError(_WSAENOTSOCK, _not_a_socket(batch, i))
            list_copy_item(found, i, contexts, index)
        return found

    def close_sockets(self, handles, /):
        """Close many sockets: those that are live sockets are closed, the others are returned.

        Returns the handles that were not live sockets (a closed one, an event, an unknown value,
        a second mention of one closed here), in order; an empty list when all were closed.  The
        contexts are released after the table is consistent again, so their finalizers may use it.
        """
        cdef _Batch batch = _batch(handles)
        cdef list failed = []
        # The contexts taken out of the table, kept alive until every close is done; NULL
        # items past `kept`, which the list's deallocation skips.
        cdef list released = PyList_New(batch.count)
        cdef list contexts = self._contexts
        cdef Py_ssize_t i, index, kept = 0
        for i in range(batch.count):
            index = self._socket_at(batch.value(i))
            if index < 0:
                failed.append(batch.item(i))
                continue
            kept += list_move_item(contexts, index, released, kept)
            self._forget(index)
        return failed  # `released` goes now: finalizers run with the table consistent

    # --- events

    cdef Py_ssize_t _checked_event(self, object e) except -1:
        cdef Py_ssize_t index = self._event_at(_handle_value(e))
        if index < 0:
            raise WinsockError(_WSA_INVALID_HANDLE)
        return index

    cdef int _notify(self, Py_ssize_t index) except -1:
        """Wake the waits on the event at ``index``; its new state is already in place."""
        wait_sets = self._waiters.get(index)
        if wait_sets:
            for wait_set in tuple(wait_sets):  # a wake may end a wait: iterate a snapshot
                (<_WaitSet>wait_set).wake()
        return 0

    cdef int _freeze(self, Py_ssize_t index) except -1:
        """Record the state of the event at ``index``, being closed, in the waits on it."""
        cdef _WaitSet wait_set
        cdef Py_ssize_t i
        for entry in self._waiters.get(index, ()):
            wait_set = <_WaitSet>entry
            for i in range(wait_set.count):
                if (wait_set.index[i] == index
                        and wait_set.generation[i] == self._slots[index].generation):
                    wait_set.frozen[i] = self._slots[index].signalled
        return 0

    def create_event(self):
        """A new manual-reset, non-signalled event; WinsockError(WSA_NOT_ENOUGH_MEMORY) when full."""
        cdef Py_ssize_t index = self._create(SLOT_EVENT, 0, None)
        if index < 0:
            raise WinsockError(_WSA_NOT_ENOUGH_MEMORY)
        return _handle_at(self._first, index)

    def set_event(self, e, /):
        """Signal event ``e`` (no change if it is signalled); WinsockError(WSA_INVALID_HANDLE)."""
        cdef Py_ssize_t index = self._checked_event(e)  # before reading _slots: __index__ may grow it
        self._slots[index].signalled = 1
        if self._waiters:
            self._notify(index)

    def reset_event(self, e, /):
        """Make event ``e`` non-signalled; WinsockError(WSA_INVALID_HANDLE)."""
        cdef Py_ssize_t index = self._checked_event(e)
        self._slots[index].signalled = 0

    def event_is_set(self, e, /):
        """Whether event ``e`` is signalled; WinsockError(WSA_INVALID_HANDLE)."""
        cdef Py_ssize_t index = self._checked_event(e)
        return self._slots[index].signalled != 0

    def close_event(self, e, /):
        """Close event ``e``; WinsockError(WSA_INVALID_HANDLE), for a socket handle too."""
        self._release(self._checked_event(e))

    # --- waits (the loop itself is ws2core._waits, shared by both cores)

    def wait(self, events, wait_all=False, timeout=None):
        """Wait until one of ``events`` is signalled (or all of them, with ``wait_all``).

        Returns the index of the lowest signalled event (wait-all: 0), or None when
        ``timeout`` seconds pass first (None: no limit; 0: poll).  1..64 events; the checks and
        their WinsockError codes follow WSAWaitForMultipleEvents: the count
        (WSA_INVALID_PARAMETER), then each handle in order (not a live event:
        WSA_INVALID_HANDLE), then for wait-all an event named twice (WSA_INVALID_PARAMETER).
        The GIL is released while the thread blocks; a set from any thread wakes it.
        Manual-reset events stay signalled after the wait.  An event closed during the wait
        keeps, for this wait, the state it had when closed: nothing can set it any more, so a
        wait that still needs it ends when its timeout does.
        """
        return _waits.wait(self, events, wait_all, timeout)

    def wait_async(self, events, wait_all=False, timeout=None):
        """``await table.wait_async(...)``: the same wait, without blocking the event loop.

        It spends no thread and no file descriptor of its own: a set from any thread wakes it
        through the running loop.  Cancelling the awaiting task removes the wait.
        """
        return _waits.wait_async(self, events, wait_all, timeout)

    def _wait_set(self, handles, wait_all):
        """The events of a wait, checked in the kernel's order (see ws2core._waits)."""
        cdef _WaitSet wait_set = _WaitSet.__new__(_WaitSet)
        cdef Py_ssize_t i, j, index
        cdef Py_ssize_t count = len(handles)
        cdef long long values[WAIT_MAXIMUM]
        cdef long long value
        # Types first, over every entry: __index__ may run Python code, so all of it runs
        # before the table is read.
        for i in range(count):
            handle = handles[i]
            value = 0 if handle is None else _handle_value(handle)
            if i < WAIT_MAXIMUM:
                values[i] = value
        if not 1 <= count <= WAIT_MAXIMUM:
            raise WinsockError(
                _WSA_INVALID_PARAMETER, f"a wait takes 1..{WAIT_MAXIMUM} events, not {count}")
        wait_set.table = self
        wait_set.wait_all = wait_all
        for i in range(count):
            index = self._event_at(values[i])
            if index < 0:
                raise WinsockError(_WSA_INVALID_HANDLE)
            wait_set.index[i] = <uint32_t>index
            wait_set.generation[i] = self._slots[index].generation
            wait_set.frozen[i] = 0
            wait_set.count = i + 1
        if wait_set.wait_all:
            for i in range(wait_set.count):
                for j in range(i):
                    if wait_set.index[i] == wait_set.index[j]:
                        raise WinsockError(_WSA_INVALID_PARAMETER, "wait-all names an event twice")
        return wait_set

    def _wait_register(self, _WaitSet wait_set, wake):
        """From now on a set of any of the wait's events calls ``wake()``."""
        cdef Py_ssize_t i
        wait_set.wake = wake
        if self._waiters is None:
            self._waiters = {}
        for i in range(wait_set.count):
            self._waiters.setdefault(wait_set.index[i], []).append(wait_set)

    def _wait_unregister(self, _WaitSet wait_set):
        cdef Py_ssize_t i
        for i in range(wait_set.count):
            wait_sets = self._waiters.get(wait_set.index[i])
            if wait_sets is not None:
                wait_sets.remove(wait_set)
                if not wait_sets:
                    del self._waiters[wait_set.index[i]]

    # --- the table as a whole

    def kind(self, h, /):
        """``"socket"``, ``"event"``, or None when ``h`` is not a live handle of this table."""
        cdef long long value = _handle_value(h)
        if self._socket_at(value) >= 0:
            return "socket"
        if self._event_at(value) >= 0:
            return "event"
        return None

    def __len__(self):
        return self._live_count

    def __contains__(self, h):
        cdef long long value = _handle_value(h)
        return self._socket_at(value) >= 0 or self._event_at(value) >= 0

    def __iter__(self):
        """The live handles, sockets and events, oldest first (a snapshot)."""
        cdef list handles = []
        cdef uint32_t link = self._oldest
        while link:
            handles.append(_handle_at(self._first, link - 1))
            link = self._slots[link - 1].newer
        return iter(handles)

    def close(self):
        """Close every live handle, releasing every context; the table stays usable.

        The closed values are quarantined like any other.  Contexts are released after the
        table is consistent, so their finalizers may create or close handles.
        """
        cdef list released = []
        cdef uint32_t link = self._oldest
        cdef uint32_t following
        while link:
            following = self._slots[link - 1].newer
            context = self._release(link - 1)
            if context is not None:
                released.append(context)
            link = following
        # `released` goes at return: finalizers run with the table consistent

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb, /):
        self.close()

    def __repr__(self):
        cdef uint32_t sockets = self._socket_count
        cdef uint32_t events = self._live_count - sockets
        return (
            f"<HandleTable {sockets} socket{'' if sockets == 1 else 's'}, "
            f"{events} event{'' if events == 1 else 's'}, max {self._max_handles}"
            f"{_bounds_note(self.handle_range, self._reuse_delay, self._x86)}>"
        )

    def __reduce__(self):
        raise TypeError("a HandleTable cannot be pickled: its handles belong to this process")


import ctypes as _ctypes

# The ctypes types a DWORD_PTR context is usually read into on a 64-bit host, which hold every
# value 0..2**64-1 unchanged.
cdef object _SIMPLE_CDATA = _ctypes._SimpleCData
cdef object _C_UINT64 = _ctypes.c_uint64
cdef object _C_ULONGLONG = _ctypes.c_ulonglong


cdef inline int _check_out(object out, str name) except -1:
    """require_out_parameter, with its call saved when ``out`` plainly qualifies."""
    if type(out) is not Ref and not hasattr(out, "value"):
        require_out_parameter(out, name)  # raises, with the message
    return 0


cdef inline int _store_context(object out, object context) except -1:
    """store_context, with its call saved where its checks cannot object: the core's Ref, any
    object that is not ctypes, and an int 0..2**64-1 into a 64-bit unsigned ctypes type."""
    cdef uint64_t value = 0
    cdef type kind = type(out)
    if kind is Ref:
        (<Ref>out).value = context
    elif not isinstance(out, _SIMPLE_CDATA):
        out.value = context
    elif ((kind is _C_UINT64 or kind is _C_ULONGLONG)
          and type(context) is int and _socket_value(context, &value)):
        out.value = context
    else:
        store_context(out, context)
    return 0


cdef inline int _write_out(object out, object value) except -1:
    """Store ``value`` in an out-parameter: the core's own Ref without an attribute lookup."""
    if type(out) is Ref:
        (<Ref>out).value = value
    else:
        out.value = value
    return 0


@cython.final
@cython.auto_pickle(False)
cdef class _WaitSet:
    """The events of one wait, by slot and generation, so a close cannot redirect it."""

    cdef int _ready(self) noexcept:
        cdef Slot *slot
        cdef Py_ssize_t i
        cdef bint signalled
        cdef int found = 0 if self.wait_all else -1
        for i in range(self.count):
            slot = &self.table._slots[self.index[i]]
            if slot.generation == self.generation[i]:
                signalled = slot.signalled                  # live
            elif slot.kind == SLOT_FREE and <uint16_t>(slot.generation - 1) == self.generation[i]:
                signalled = slot.signalled                  # closed, its state kept
            else:
                signalled = self.frozen[i]                  # closed, slot in use again
            if self.wait_all:
                if not signalled:
                    return -1
            elif signalled:
                return <int>i
        return found

    def ready(self):
        """The index the wait returns now (wait-any: lowest signalled; wait-all: 0), or -1."""
        return self._ready()


@cython.auto_pickle(False)
@cython.no_gc_clear  # its native set points into `table`: both go together, in __dealloc__
cdef class HotUpcalls:
    """HotUpcalls(table)
--

The four hot upcalls over one HandleTable, with their Windows signatures.

    ``ws2core.UpcallTable`` derives from this class, so a provider's call such as
    ``up.WPUQuerySocketHandleContext(s, ctx, err)`` reaches the core's code directly, with no
    facade frame in between.  ``table`` is the HandleTable served.
    """

    def __cinit__(self, table):
        if not isinstance(table, HandleTable):
            raise TypeError(
                f"table must be a HandleTable of {__name__}, not {type(table).__module__}."
                f"{type(table).__qualname__}"
            )
        self.table = <HandleTable>table

    def __dealloc__(self):
        if self._native_set:
            _release_native_set(self._native_set - 1)
            self._native_set = 0

    cdef Py_ssize_t _claim_native_set(self) except -1:
        """The index of this object's native entry-point set, taken from the pool if need be."""
        cdef Py_ssize_t n
        cdef NativeSet *native
        if self._native_set:
            return self._native_set - 1
        for n in range(NATIVE_SETS):
            native = &_native_sets[n]
            if native.owner is NULL:
                memcpy(&upcall_tables[n], &upcall_templates[n], sizeof(WSPUPCALLTABLE))
                self.table._native_readers = True  # before any reader can see the table
                native.owner = <PyObject *>self
                native.table = <PyObject *>self.table
                native.slots = &self.table._slots
                native.first = self.table._first
                store_release_u32_ptr(&native.used, &self.table._used)  # published last
                self._native_set = <int>n + 1
                return n
        raise RuntimeError(
            f"all {NATIVE_SETS} native upcall tables are in use: each UpcallTable that asked for "
            f"one holds a set of C entry points until it is collected"
        )

    def native_table(self):
        """The address of a WSPUPCALLTABLE (``<ws2core/ws2spi.h>``) serving this table, as an int.

        For providers written in C, through ctypes or cffi.  Its fifteen function pointers
        are this object's own entry points (each object that asks takes one of 64 sets; more
        is a RuntimeError), valid while this object lives.  They may be called from any thread,
        without the GIL: a context lookup reads the table lock-free, the other upcalls take
        the GIL.  See the README's "Providers written in C" for what C sees of a context.
        """
        return <uintptr_t>&upcall_tables[self._claim_native_set()]

    def native_capsule(self):
        """The same WSPUPCALLTABLE pointer in a PyCapsule named ``"ws2core.WSPUPCALLTABLE"``.

        For C extensions (``PyCapsule_GetPointer``); the capsule keeps this object, and so the
        entry points, alive.
        """
        cdef Py_ssize_t n = self._claim_native_set()
        capsule = PyCapsule_New(&upcall_tables[n], _CAPSULE_NAME, _release_capsule)
        PyCapsule_SetContext(capsule, <void *>self)
        Py_INCREF(self)
        return capsule

    @cython.binding(False)  # a method descriptor: the cheapest call CPython has
    def WPUCreateSocketHandle(self, dwCatalogEntryId, dwContext, lpErrno, /):
        """WPUCreateSocketHandle: a new socket handle holding ``dwContext``.

        Returns the handle, or INVALID_SOCKET with WSAENOBUFS in ``lpErrno`` when the table
        is full.  ``lpErrno`` is written only on failure.
        """
        cdef HandleTable table = self.table
        cdef long long catalog = _handle_value(dwCatalogEntryId)
        _check_out(lpErrno, "lpErrno")
        cdef Py_ssize_t index = table._create(
            SLOT_SOCKET, _checked_catalog_entry_id(catalog, dwCatalogEntryId), dwContext)
        if index < 0:
            _write_out(lpErrno, _WSAENOBUFS)
            return _INVALID_SOCKET_X86 if table._x86 else _INVALID_SOCKET
        return _handle_at(table._first, index)

    @cython.binding(False)  # a method descriptor: the cheapest call CPython has
    def WPUQuerySocketHandleContext(self, s, lpContext, lpErrno, /):
        """WPUQuerySocketHandleContext: store the context of socket ``s`` in ``lpContext``.

        Returns 0, or SOCKET_ERROR with WSAENOTSOCK in ``lpErrno``.  ``lpContext`` is written
        only on success, ``lpErrno`` only on failure.  A ctypes ``lpContext`` that cannot hold
        the context exactly is a TypeError, raised before anything is written.
        """
        cdef HandleTable table = self.table
        cdef long long value = _handle_value(s)
        _check_out(lpContext, "lpContext")
        _check_out(lpErrno, "lpErrno")
        cdef Py_ssize_t index = table._socket_at(value)
        if index < 0:
            _write_out(lpErrno, _WSAENOTSOCK)
            return _SOCKET_ERROR
        _store_context(lpContext, table._context_of(index))
        return 0

    @cython.binding(False)  # a method descriptor: the cheapest call CPython has
    def WPUCloseSocketHandle(self, s, lpErrno, /):
        """WPUCloseSocketHandle: close socket ``s``, dropping the table's reference to its context.

        Returns 0, or SOCKET_ERROR with WSAENOTSOCK in ``lpErrno``.  Freeing what the context
        stands for stays the provider's job, as on Windows.
        """
        cdef HandleTable table = self.table
        cdef long long value = _handle_value(s)
        _check_out(lpErrno, "lpErrno")
        cdef Py_ssize_t index = table._socket_at(value)
        if index < 0:
            _write_out(lpErrno, _WSAENOTSOCK)
            return _SOCKET_ERROR
        table._release(index)  # the context is dropped after the bookkeeping, as in close_socket
        return 0

    @cython.binding(False)  # a method descriptor: the cheapest call CPython has
    def WPUFDIsSet(self, s, fdset, /):
        """WPUFDIsSet: 1 if socket ``s`` is among the first fd_count entries of ``fdset``, else 0.

        ``fdset`` is a ws2core.FdSet (read in its own layout) or any C-contiguous buffer with
        the Windows fd_set layout of the table's ABI; an fd_count beyond the buffer is a
        ValueError (nothing past it is read).
        """
        return _fd_isset_any(s, fdset, _abi_of(fdset, None, self.table._x86))


# --------------------------------------------------------------------------------------
# Native table
#
# C providers call the WSPUPCALLTABLE entry points from any thread, usually without the GIL
# (ctypes releases it around a foreign call).  The context lookup, the hot upcall, reads the
# slots lock-free: every writer holds the GIL, so writers are serialised; a writer publishes a
# slot's kind last (release) and bumps its generation first, and the reader checks that the
# generation did not move while it read kind and context (a per-slot sequence lock).  An
# outgrown slot array is kept until the table is freed, since a reader may still hold it.
# The other upcalls change the table or wake Python waiters, so they take the GIL.  Once the
# interpreter shuts down, every entry point that touches a table fails with WSANOTINITIALISED.

cdef enum:
    NATIVE_SETS = 64

cdef const char *_CAPSULE_NAME = b"ws2core.WSPUPCALLTABLE"


cdef struct NativeSet:
    PyObject *owner         # the HotUpcalls it serves (borrowed: it releases the set when freed)
    PyObject *table         # owner.table (borrowed from the owner)
    Slot **slots            # &table._slots
    uint32_t *used          # &table._used; NULL while the set is free, published last
    uint32_t first          # table._first, which never changes once the table is in use


cdef NativeSet _native_sets[NATIVE_SETS]
cdef int _native_shut_down = 0


cdef void _release_native_set(Py_ssize_t n) noexcept:
    cdef NativeSet *native = &_native_sets[n]
    # Calls that start from now on fail with WSANOTINITIALISED.  `slots` is left as it is: a
    # lookup already past its check of `used` still reads it (a call racing the UpcallTable's
    # end is outside the documented lifetime, but it must not read NULL).
    store_release_u32_ptr(&native.used, NULL)
    native.table = NULL
    native.owner = NULL


cdef void _release_capsule(object capsule) noexcept:
    cdef PyObject *owner = <PyObject *>PyCapsule_GetContext(capsule)
    if owner is not NULL:
        Py_DECREF(<object>owner)


def _shut_down_native_tables():
    """At exit: from now on native upcalls fail instead of touching Python or freed tables."""
    global _native_shut_down
    store_release_int(&_native_shut_down, 1)


import atexit as _atexit
_atexit.register(_shut_down_native_tables)
del _atexit


cdef inline bint _native_down() noexcept nogil:
    return load_acquire_int(&_native_shut_down) != 0 or python_finalizing()


cdef inline void _set_error(int *lpErrno, int code) noexcept nogil:
    if lpErrno is not NULL:
        lpErrno[0] = code


cdef HandleTable _native_table(unsigned n):
    """The table set ``n`` serves, or None once the set was released (GIL held)."""
    if _native_sets[n].table is NULL:
        return None
    return <HandleTable>_native_sets[n].table


cdef int _native_query_context(unsigned n, SOCKET s, DWORD_PTR *lpContext, int *lpErrno) noexcept nogil:
    cdef uint32_t *used
    cdef Slot *slot
    cdef uint64_t index, context
    cdef uint16_t generation
    cdef uint8_t kind
    if load_acquire_int(&_native_shut_down):
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    used = load_acquire_u32_ptr(&_native_sets[n].used)
    if used is NULL:
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    if s & TAG_BITS:
        _set_error(lpErrno, WSAENOTSOCK)
        return SOCKET_ERROR
    index = _slot_index(_native_sets[n].first, s)
    # The count before the array: a count seen is never larger than the array read after it.
    if index >= load_acquire_u32(used):
        _set_error(lpErrno, WSAENOTSOCK)
        return SOCKET_ERROR
    slot = &load_acquire_slots(_native_sets[n].slots)[index]
    while True:
        generation = load_acquire_u16(&slot.generation)
        kind = load_acquire_u8(&slot.kind)
        context = load_relaxed_u64(&slot.native)
        fence_acquire()
        if load_relaxed_u16(&slot.generation) == generation:
            break
    if kind != SLOT_SOCKET:
        _set_error(lpErrno, WSAENOTSOCK)
        return SOCKET_ERROR
    if lpContext is NULL:
        _set_error(lpErrno, WSAEFAULT)
        return SOCKET_ERROR
    lpContext[0] = <DWORD_PTR>context
    return 0


cdef SOCKET _native_create_socket(unsigned n, DWORD catalog, DWORD_PTR context, int *lpErrno) noexcept nogil:
    cdef Py_ssize_t index
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return INVALID_SOCKET
    with gil:
        index = _create_with_gil(n, SLOT_SOCKET, catalog, context, WSAENOBUFS, lpErrno)
    return INVALID_SOCKET if index < 0 else <SOCKET>_handle_at(_native_sets[n].first, index)


cdef Py_ssize_t _create_with_gil(unsigned n, uint8_t kind, DWORD catalog, DWORD_PTR context,
                                 int full, int *lpErrno) noexcept:
    """The slot of a handle made for a native caller, or -1 with the code in lpErrno (``full``
    when there is no room; a socket's context is the int ``context``, an event has none)."""
    cdef HandleTable table = _native_table(n)
    cdef Py_ssize_t index
    if table is None:
        _set_error(lpErrno, WSANOTINITIALISED)
        return -1
    try:
        index = table._create(kind, catalog, <object>context if kind == SLOT_SOCKET else None)
    except Exception:  # MemoryError: no room for a new handle
        index = -1
    if index < 0:
        _set_error(lpErrno, full)
    return index


cdef int _native_close_socket(unsigned n, SOCKET s, int *lpErrno) noexcept nogil:
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    with gil:
        return _close_socket_with_gil(n, s, lpErrno)


cdef int _close_socket_with_gil(unsigned n, SOCKET s, int *lpErrno) noexcept:
    cdef HandleTable table = _native_table(n)
    cdef Py_ssize_t index
    if table is None:
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    index = table._socket_at(<long long>s)  # 2**63 and above read as negative: not a socket
    if index < 0:
        _set_error(lpErrno, WSAENOTSOCK)
        return SOCKET_ERROR
    context = table._release(index)
    del context  # dropped with the table consistent: its __del__ may use the table
    return 0


cdef WSAEVENT _native_create_event(unsigned n, int *lpErrno) noexcept nogil:
    cdef Py_ssize_t index
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return WSA_INVALID_EVENT
    with gil:
        index = _create_with_gil(n, SLOT_EVENT, 0, 0, WSA_NOT_ENOUGH_MEMORY, lpErrno)
    return WSA_INVALID_EVENT if index < 0 else <WSAEVENT><uintptr_t>_handle_at(_native_sets[n].first, index)


cdef enum EventOperation:
    EVENT_SET
    EVENT_RESET
    EVENT_CLOSE


cdef BOOL _native_set_event(unsigned n, WSAEVENT e, int *lpErrno) noexcept nogil:
    return _native_event_call(n, e, lpErrno, EVENT_SET)


cdef BOOL _native_reset_event(unsigned n, WSAEVENT e, int *lpErrno) noexcept nogil:
    return _native_event_call(n, e, lpErrno, EVENT_RESET)


cdef BOOL _native_close_event(unsigned n, WSAEVENT e, int *lpErrno) noexcept nogil:
    return _native_event_call(n, e, lpErrno, EVENT_CLOSE)


cdef BOOL _native_event_call(unsigned n, WSAEVENT e, int *lpErrno, EventOperation operation) noexcept nogil:
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return FALSE
    with gil:
        return _event_call_with_gil(n, <uintptr_t>e, lpErrno, operation)


cdef BOOL _event_call_with_gil(unsigned n, uintptr_t e, int *lpErrno, EventOperation operation) noexcept:
    cdef HandleTable table = _native_table(n)
    cdef Py_ssize_t index
    if table is None:
        _set_error(lpErrno, WSANOTINITIALISED)
        return FALSE
    index = table._event_at(<long long>e)
    if index < 0:
        _set_error(lpErrno, WSA_INVALID_HANDLE)
        return FALSE
    if operation == EVENT_SET:
        table._slots[index].signalled = 1
        if table._waiters:
            try:
                table._notify(index)
            except BaseException as failure:  # a waiter's wake-up failed; the event is set
                _report_unraisable(failure, table)
    elif operation == EVENT_RESET:
        table._slots[index].signalled = 0
    else:
        try:
            context = table._release(index)
            del context
        except BaseException as failure:
            _report_unraisable(failure, table)
    return TRUE


cdef void _report_unraisable(object failure, object where) noexcept:
    """Print an error that no native caller can receive, as CPython prints a failed __del__."""
    PyErr_SetObject(type(failure), failure)
    PyErr_WriteUnraisable(where)


native_ops_table.create_socket = _native_create_socket
native_ops_table.query_context = _native_query_context
native_ops_table.close_socket = _native_close_socket
native_ops_table.create_event = _native_create_event
native_ops_table.set_event = _native_set_event
native_ops_table.reset_event = _native_reset_event
native_ops_table.close_event = _native_close_event
