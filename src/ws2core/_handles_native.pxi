# Included by _handles.pyx (see its docstring for the parts).
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

cdef extern from "ws2core_native.h":
    bint python_finalizing "ws2core_python_finalizing"() noexcept nogil

    ctypedef struct native_ops "ws2core_native_ops":
        SOCKET (*create_socket)(unsigned, DWORD, DWORD_PTR, int *) noexcept nogil
        int (*query_context)(unsigned, SOCKET, DWORD_PTR *, int *) noexcept nogil
        int (*close_socket)(unsigned, SOCKET, int *) noexcept nogil
        WSAEVENT (*create_event)(unsigned, int *) noexcept nogil
        BOOL (*set_event)(unsigned, WSAEVENT, int *) noexcept nogil
        BOOL (*reset_event)(unsigned, WSAEVENT, int *) noexcept nogil
        BOOL (*close_event)(unsigned, WSAEVENT, int *) noexcept nogil
        int (*open_thread)(unsigned, LPWSATHREADID, int *) noexcept nogil
        int (*close_thread)(unsigned, LPWSATHREADID, int *) noexcept nogil
        int (*queue_apc)(unsigned, LPWSATHREADID, LPWSAUSERAPC, DWORD_PTR, int *) noexcept nogil
        DWORD (*wait)(unsigned, DWORD, const WSAEVENT *, BOOL, DWORD, BOOL, int *) noexcept nogil
        DWORD (*sleep)(unsigned, DWORD, BOOL, int *) noexcept nogil
        int (*get_provider_path)(unsigned, LPGUID, WCHAR *, int *, int *) noexcept nogil
        SOCKET (*modify_ifs_handle)(unsigned, DWORD, SOCKET, int *) noexcept nogil
        BOOL (*post_message)(unsigned, HWND, UINT, WPARAM, LPARAM) noexcept nogil
        int (*query_blocking_callback)(unsigned, DWORD, LPBLOCKINGCALLBACK *, DWORD_PTR *, int *) noexcept nogil
        BOOL (*blocking_callback)(unsigned, DWORD_PTR) noexcept nogil
    native_ops native_ops_table "ws2core_ops"
    const WSPUPCALLTABLE upcall_templates "ws2core_upcall_templates"[64]
    WSPUPCALLTABLE upcall_tables "ws2core_upcall_tables"[64]
    const WS2COREWAITTABLE wait_tables "ws2core_wait_tables"[64]
    const LPBLOCKINGCALLBACK blocking_callbacks "ws2core_blocking_callbacks"[64]

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


cdef SOCKET _native_modify_ifs_handle(unsigned n, DWORD catalog, SOCKET proposed,
                                     int *lpErrno) noexcept nogil:
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return INVALID_SOCKET
    with gil:
        return _modify_ifs_handle_with_gil(n, catalog, proposed, lpErrno)


cdef SOCKET _modify_ifs_handle_with_gil(unsigned n, DWORD catalog, SOCKET proposed,
                                        int *lpErrno) noexcept:
    """WPUModifyIFSHandle for a native caller: every refusal is the page's WSAEINVAL, as the
    Python upcall reports it."""
    cdef HandleTable table = _native_table(n)
    cdef int code
    if table is None:
        _set_error(lpErrno, WSANOTINITIALISED)
        return INVALID_SOCKET
    try:
        code = table._adopt(<uint64_t>proposed, catalog)
    except Exception:  # MemoryError: no room to grow the table to the value
        code = WSAEINVAL
    if code:
        _set_error(lpErrno, WSAEINVAL)
        return INVALID_SOCKET
    return proposed


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


# --- threads and APCs from C: WPUOpenCurrentThread, WPUCloseThread, WPUQueueApc


cdef int _native_open_thread(unsigned n, LPWSATHREADID thread, int *lpErrno) noexcept nogil:
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    if thread is NULL:
        _set_error(lpErrno, WSAEFAULT)
        return SOCKET_ERROR
    with gil:
        return _open_thread_with_gil(n, thread, lpErrno)


cdef int _open_thread_with_gil(unsigned n, LPWSATHREADID thread, int *lpErrno) noexcept:
    cdef HandleTable table = _native_table(n)
    cdef Py_ssize_t index
    if table is None:
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    try:
        index = table._open_thread(PyThread_get_thread_ident())
    except Exception:  # MemoryError: no room for a new handle
        index = -1
    if index < 0:
        _set_error(lpErrno, WSAENOBUFS)
        return SOCKET_ERROR
    thread.ThreadHandle = <HANDLE><uintptr_t>_handle_at(table._first, index)
    thread.Reserved = 0
    return 0


cdef int _native_close_thread(unsigned n, LPWSATHREADID thread, int *lpErrno) noexcept nogil:
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    if thread is NULL:
        _set_error(lpErrno, WSAEFAULT)
        return SOCKET_ERROR
    with gil:
        return _close_thread_with_gil(n, <uintptr_t>thread.ThreadHandle, lpErrno)


cdef int _close_thread_with_gil(unsigned n, uintptr_t handle, int *lpErrno) noexcept:
    cdef HandleTable table = _native_table(n)
    cdef Py_ssize_t index
    if table is None:
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    index = table._thread_at(<long long>handle)
    if index < 0:
        _set_error(lpErrno, WSAEFAULT)
        return SOCKET_ERROR
    table._release(index)  # a thread handle holds no context: nothing runs
    return 0


@cython.final
@cython.auto_pickle(False)
cdef class _NativeApc:
    """An APC queued by a C provider: its function pointer, called without the GIL."""

    cdef LPWSAUSERAPC function

    def __call__(self, context):
        cdef DWORD_PTR value = <DWORD_PTR>context
        with nogil:
            self.function(value)

    def __repr__(self):
        return f"<native APC at {<uintptr_t>self.function:#x}>"


cdef int _native_queue_apc(unsigned n, LPWSATHREADID thread, LPWSAUSERAPC function,
                           DWORD_PTR context, int *lpErrno) noexcept nogil:
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    if thread is NULL or function is NULL:  # nothing valid to queue to, or nothing to call
        _set_error(lpErrno, WSAEFAULT)
        return SOCKET_ERROR
    with gil:
        return _queue_apc_with_gil(n, <uintptr_t>thread.ThreadHandle, function, context, lpErrno)


cdef int _queue_apc_with_gil(unsigned n, uintptr_t handle, LPWSAUSERAPC function,
                             DWORD_PTR context, int *lpErrno) noexcept:
    cdef HandleTable table = _native_table(n)
    cdef Py_ssize_t index
    cdef _NativeApc apc
    if table is None:
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    index = table._thread_at(<long long>handle)
    if index < 0:
        _set_error(lpErrno, WSAEFAULT)
        return SOCKET_ERROR
    try:
        apc = _NativeApc.__new__(_NativeApc)
        apc.function = function
        table._apcs.queue(table._slots[index].native, apc, context)
    except Exception:  # MemoryError: the APC could not be queued
        _set_error(lpErrno, WSAENOBUFS)
        return SOCKET_ERROR
    return 0


# --- alertable waits for C threads (WS2COREWAITTABLE, ws2core's own entry points)


cdef DWORD _native_wait(unsigned n, DWORD count, const WSAEVENT *events, BOOL wait_all,
                        DWORD timeout, BOOL alertable, int *lpErrno) noexcept nogil:
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return WSA_WAIT_FAILED
    if not 1 <= count <= WAIT_MAXIMUM or events is NULL:
        _set_error(lpErrno, WSA_INVALID_PARAMETER)
        return WSA_WAIT_FAILED
    with gil:
        return _wait_with_gil(n, count, events, wait_all, timeout, alertable, lpErrno)


cdef DWORD _native_sleep(unsigned n, DWORD milliseconds, BOOL alertable, int *lpErrno) noexcept nogil:
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return WSA_WAIT_FAILED
    with gil:
        return _wait_with_gil(n, 0, NULL, FALSE, milliseconds, alertable, lpErrno)


cdef DWORD _wait_with_gil(unsigned n, DWORD count, const WSAEVENT *events, BOOL wait_all,
                          DWORD timeout, BOOL alertable, int *lpErrno) noexcept:
    """A C thread's wait (``events`` NULL: a sleep), through ws2core._waits like every wait."""
    cdef HandleTable table = _native_table(n)
    cdef DWORD i
    if table is None:
        _set_error(lpErrno, WSANOTINITIALISED)
        return WSA_WAIT_FAILED
    seconds = None if timeout == WSA_INFINITE else timeout / 1000
    try:
        if events is NULL:
            return _waits.sleep(table, seconds, alertable, _report_apc_error)
        handles = [<uintptr_t>events[i] for i in range(count)]
        index = _waits.wait(table, handles, wait_all, seconds, alertable, _report_apc_error)
    except WinsockError as error:
        _set_error(lpErrno, error.winerror)
        return WSA_WAIT_FAILED
    except BaseException as failure:  # MemoryError, say: no C caller can receive it
        _report_unraisable(failure, table)
        _set_error(lpErrno, WSA_NOT_ENOUGH_MEMORY if isinstance(failure, MemoryError) else WSAEINVAL)
        return WSA_WAIT_FAILED
    if index is None:
        return WSA_WAIT_TIMEOUT
    return <DWORD>index  # an event's index (WSA_WAIT_EVENT_0 is 0) or WSA_WAIT_IO_COMPLETION


# --- the catalog: WPUGetProviderPath, answered by the owner's Python upcall (upcalls.py holds
# its logic once for every caller); the C arguments are lent to it for the call.


cdef int _native_get_provider_path(unsigned n, LPGUID provider_id, WCHAR *path, int *length,
                                   int *lpErrno) noexcept nogil:
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    with gil:
        return _get_provider_path_with_gil(n, provider_id, path, length, lpErrno)


cdef int _get_provider_path_with_gil(unsigned n, LPGUID provider_id, WCHAR *path, int *length,
                                     int *lpErrno) noexcept:
    cdef PyObject *owner = _native_sets[n].owner
    cdef object view = None
    if owner is NULL:
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    upcall = getattr(<object>owner, "WPUGetProviderPath", None)
    if upcall is None:  # a bare HotUpcalls has no catalog
        _set_error(lpErrno, WSAEINVAL)
        return SOCKET_ERROR
    try:
        import uuid  # here, not at import: only a provider asking for a path needs it

        guid = None if provider_id is NULL else uuid.UUID(
            bytes_le=PyBytes_FromStringAndSize(<char *>provider_id, 16))
        size = None if length is NULL else Ref(length[0])
        # A buffer of no WCHARs cannot hold the path: the upcall then fails as for NULL.
        if path is not NULL and length is not NULL and length[0] > 0:
            view = PyMemoryView_FromMemory(<char *>path, 2 * <Py_ssize_t>length[0], PyBUF_WRITE)
        error = Ref(0)
        try:
            result = upcall(guid, view, size, error)
        finally:
            if view is not None:
                view.release()  # the C buffer is the caller's once the upcall returns
        if size is not None:
            length[0] = size.value
        if result != 0:
            _set_error(lpErrno, error.value)
            return SOCKET_ERROR
        return 0
    except BaseException as failure:  # MemoryError, say: no C caller can receive it
        _report_unraisable(failure, <object>owner)
        _set_error(lpErrno, WSA_NOT_ENOUGH_MEMORY if isinstance(failure, MemoryError) else WSAEINVAL)
        return SOCKET_ERROR


# --- window messages: WPUPostMessage, answered by the owner's Python upcall (upcalls.py keeps
# the windows); it has no lpErrno, so a failure is FALSE.


cdef BOOL _native_post_message(unsigned n, HWND window, UINT message, WPARAM wparam,
                               LPARAM lparam) noexcept nogil:
    if _native_down():
        return FALSE
    with gil:
        return _post_message_with_gil(n, window, message, wparam, lparam)


cdef BOOL _post_message_with_gil(unsigned n, HWND window, UINT message, WPARAM wparam,
                                 LPARAM lparam) noexcept:
    cdef PyObject *owner = _native_sets[n].owner
    if owner is NULL:
        return FALSE
    upcall = getattr(<object>owner, "WPUPostMessage", None)
    if upcall is None:  # a bare HotUpcalls has no windows
        return FALSE
    try:
        return TRUE if upcall(<uintptr_t>window, message, wparam, lparam) else FALSE
    except BaseException as failure:  # MemoryError, say: no C caller can receive it
        _report_unraisable(failure, <object>owner)
        return FALSE


# --- Winsock 1.1's blocking callback: WPUQueryBlockingCallback answered by the owner's Python
# upcall, which hands out the set's own C callback for the owner's blocking_callback.


cdef int _native_query_blocking_callback(unsigned n, DWORD catalog, LPBLOCKINGCALLBACK *callback,
                                         DWORD_PTR *context, int *lpErrno) noexcept nogil:
    if _native_down():
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    with gil:
        return _query_blocking_callback_with_gil(n, catalog, callback, context, lpErrno)


cdef int _query_blocking_callback_with_gil(unsigned n, DWORD catalog, LPBLOCKINGCALLBACK *callback,
                                           DWORD_PTR *context, int *lpErrno) noexcept:
    cdef PyObject *owner = _native_sets[n].owner
    if owner is NULL:
        _set_error(lpErrno, WSANOTINITIALISED)
        return SOCKET_ERROR
    upcall = getattr(<object>owner, "WPUQueryBlockingCallback", None)
    if upcall is None:  # a bare HotUpcalls: a Winsock 2 process, no callback
        if callback is NULL or context is NULL:
            _set_error(lpErrno, WSAEFAULT)
            return SOCKET_ERROR
        callback[0] = NULL
        context[0] = 0
        _set_error(lpErrno, 0)
        return 0
    try:
        found = None if callback is NULL else Ref(None)
        value = None if context is NULL else Ref(0)
        error = Ref(0)
        result = upcall(catalog, found, value, error)
        _set_error(lpErrno, error.value)
        if result != 0:
            return SOCKET_ERROR
        callback[0] = NULL if found.value is None else blocking_callbacks[n]
        context[0] = <DWORD_PTR>value.value
        return 0
    except BaseException as failure:  # MemoryError, say: no C caller can receive it
        _report_unraisable(failure, <object>owner)
        _set_error(lpErrno, WSA_NOT_ENOUGH_MEMORY if isinstance(failure, MemoryError) else WSAEINVAL)
        return SOCKET_ERROR


cdef BOOL _native_blocking_callback(unsigned n, DWORD_PTR context) noexcept nogil:
    if _native_down():
        return FALSE  # end the blocking call: there is nobody left to wait for
    with gil:
        return _blocking_callback_with_gil(n, context)


cdef BOOL _blocking_callback_with_gil(unsigned n, DWORD_PTR context) noexcept:
    cdef PyObject *owner = _native_sets[n].owner
    if owner is NULL:
        return FALSE
    try:
        return TRUE if (<object>owner).blocking_callback(context) else FALSE
    except BaseException as failure:  # a hook that raised: printed, and the call goes on
        _report_unraisable(failure, <object>owner)
        return TRUE


def _report_apc_error(failure):
    """A Python APC that raised in a C thread's wait: printed, as a failed __del__ is."""
    _report_unraisable(failure, "a Python APC run in a C thread's alertable wait")


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
native_ops_table.open_thread = _native_open_thread
native_ops_table.close_thread = _native_close_thread
native_ops_table.queue_apc = _native_queue_apc
native_ops_table.wait = _native_wait
native_ops_table.sleep = _native_sleep
native_ops_table.get_provider_path = _native_get_provider_path
native_ops_table.modify_ifs_handle = _native_modify_ifs_handle
native_ops_table.post_message = _native_post_message
native_ops_table.query_blocking_callback = _native_query_blocking_callback
native_ops_table.blocking_callback = _native_blocking_callback
