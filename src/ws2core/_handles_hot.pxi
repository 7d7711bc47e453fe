# Included by _handles.pyx (see its docstring for the parts).
# --------------------------------------------------------------------------------------
# Out-parameters and the hot upcalls
#
# Ref, the writes through an out-parameter (the core's own Ref without an attribute lookup),
# and HotUpcalls: the four upcalls a provider calls most, with their Windows signatures.


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
        """__init__(self, value=None)
--

An out-parameter holding ``value`` until an upcall writes ``.value``."""
        self.value = value

    def __repr__(self):
        return f"Ref({self.value!r})"

    def __reduce__(self):
        return (type(self), (self.value,))


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
          and type(context) is int  # an int: the names, for a non-int's error, go unused
          and _socket_value(context, &value, None, None)):
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

    def native_wait_table(self):
        """The address of a WS2COREWAITTABLE (``<ws2core/ws2spi.h>``) serving this table: the
        alertable waits a C thread calls to receive its APCs (ws2core's own entry points, from
        the same set as ``native_table()`` and valid as long as it)."""
        return <uintptr_t>&wait_tables[self._claim_native_set()]

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
        cdef long long catalog = _handle_value(
            dwCatalogEntryId, "WPUCreateSocketHandle", "dwCatalogEntryId", "a DWORD")
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
        cdef long long value = _handle_value(s, "WPUQuerySocketHandleContext", "s", "a SOCKET")
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
        cdef long long value = _handle_value(s, "WPUCloseSocketHandle", "s", "a SOCKET")
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
        return _fd_isset_any(s, fdset, _abi_of(fdset, None, self.table._x86), "WPUFDIsSet", "s")
