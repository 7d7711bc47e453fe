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

cdef object _SIMPLE_CDATA = _ctypes._SimpleCData


cdef dict _ctypes_integer_sizes():
    """ctypes' own integer types (exactly these classes, no subclass), each with its size in
    bytes, negative for a signed type: the out-parameters a C programmer reaches for (c_int
    for lpErrno; c_size_t, c_uint64, c_void_p for lpContext), whose fit the core checks in C.
    The signedness is read from the type codes _shared knows, so that the fast path and
    store_context agree on which types hold integers."""
    sizes = {}
    for name in dir(_ctypes):
        kind = getattr(_ctypes, name)
        code = getattr(kind, "_type_", None)
        if (name.startswith("c_") and isinstance(kind, type) and isinstance(code, str)
                and code in _CTYPES_INTEGER_CODES):
            size = _ctypes.sizeof(kind)
            sizes[kind] = -size if _CTYPES_INTEGER_CODES[code] else size
    return sizes


cdef dict _CTYPES_INTEGER_SIZES = _ctypes_integer_sizes()
cdef object _C_INT = _ctypes.c_int  # lpErrno as the README's first example writes it
# lpContext as a C programmer writes a DWORD_PTR: compared before the dict is asked
cdef object _C_SIZE_T = _ctypes.c_size_t
cdef object _C_VOID_P = _ctypes.c_void_p
cdef Py_ssize_t _C_SIZE_T_SIZE = _CTYPES_INTEGER_SIZES[_C_SIZE_T]
cdef Py_ssize_t _C_VOID_P_SIZE = _CTYPES_INTEGER_SIZES[_C_VOID_P]


cdef inline Py_ssize_t _ctypes_integer_size(object kind) noexcept:
    """The size of the ctypes integer type ``kind`` as _CTYPES_INTEGER_SIZES gives it, 0 for
    any other type."""
    if kind is _C_SIZE_T:
        return _C_SIZE_T_SIZE
    if kind is _C_VOID_P:
        return _C_VOID_P_SIZE
    cdef PyObject *size = PyDict_GetItem(_CTYPES_INTEGER_SIZES, kind)
    return 0 if size is NULL else <Py_ssize_t><object>size


cdef inline int _check_out(object out, str name) except -1:
    """require_out_parameter, with its call saved when ``out`` plainly qualifies: the core's
    Ref, or a ctypes integer (whose ``.value`` hasattr would read for nothing)."""
    cdef type kind = type(out)
    if (kind is not Ref and kind is not _C_INT and _ctypes_integer_size(kind) == 0
            and not hasattr(out, "value")):
        require_out_parameter(out, name)  # raises, with the message
    return 0


cdef bint _fits_ctypes_integer(object context, Py_ssize_t size) except -1:
    """Whether the int ``context`` reads back unchanged from a ctypes integer of ``size``
    bytes (negative: signed): store_context's check, in C, for the types it knows."""
    cdef int overflow = 0
    cdef long long small = PyLong_AsLongLongAndOverflow(context, &overflow)
    cdef bint signed = size < 0
    cdef int bits = 8 * <int>(-size if signed else size)
    if overflow > 0:  # 2**63 and above: an unsigned 64-bit type holds up to 2**64 - 1
        if signed or bits != 64:
            return False
        try:
            PyLong_AsUnsignedLongLong(context)
        except OverflowError:
            return False
        return True
    if overflow < 0:
        return False
    return _fits_small(small, size)


cdef inline bint _fits_small(long long small, Py_ssize_t size) noexcept:
    """_fits_ctypes_integer for an int already read as a long long."""
    cdef bint signed = size < 0
    cdef int bits = 8 * <int>(-size if signed else size)
    if signed:
        return bits == 64 or -(1LL << (bits - 1)) <= small < (1LL << (bits - 1))
    return small >= 0 and (bits == 64 or small < (1LL << bits))


# Every ctypes instance is a CPython CDataObject: the object's head, then b_ptr, the address
# of its value's bytes (what ctypes.addressof returns).  Writing there, as ctypes' own setter
# does after its conversion, saves the attribute lookup and the conversion, which cost as much
# as the rest of a query.  The layout is ctypes' private one, so it is proven at import for
# every integer type, and where it does not hold .value is set the public way.
cdef inline char *_ctypes_address(object instance) noexcept:
    return (<char **>(<char *><PyObject *>instance + sizeof(PyObject)))[0]


cdef inline void _poke_ctypes_integer(object out, object context, Py_ssize_t size) noexcept:
    """Write the int ``context``, known to fit (_fits_ctypes_integer), into ``out``'s bytes."""
    # the two's complement bits, which is what a signed type holds too
    _poke_bits(out, PyLong_AsUnsignedLongLongMask(context), size)


cdef inline void _poke_bits(object out, unsigned long long bits, Py_ssize_t size) noexcept:
    cdef char *address = _ctypes_address(out)
    cdef Py_ssize_t width = -size if size < 0 else size
    if width == 8:
        (<uint64_t *>address)[0] = <uint64_t>bits
    elif width == 4:
        (<uint32_t *>address)[0] = <uint32_t>bits
    elif width == 2:
        (<uint16_t *>address)[0] = <uint16_t>bits
    else:
        (<uint8_t *>address)[0] = <uint8_t>bits


cdef bint _ctypes_layout_known():
    """Whether every ctypes integer type's instances hold b_ptr where _ctypes_address reads
    it, and a value poked there reads back through ctypes unchanged."""
    for kind, size in _CTYPES_INTEGER_SIZES.items():
        if (<type>kind).__basicsize__ < <Py_ssize_t>(sizeof(PyObject) + sizeof(char *)):
            return False
        width = -size if size < 0 else size
        # the highest value the type holds less a little: every byte of it non-zero
        probe = (1 << (8 * width - (1 if size < 0 else 0))) - 3
        for _ in range(2):  # two instances: neither's address is a coincidence
            instance = kind()
            if <uintptr_t>_ctypes_address(instance) != <uintptr_t>_ctypes.addressof(instance):
                return False
            _poke_ctypes_integer(instance, probe, size)
            if instance.value != probe:
                return False
    return True


cdef bint _CTYPES_LAYOUT_KNOWN = _ctypes_layout_known()


cdef inline int _store_ctypes_integer(object out, object context, Py_ssize_t size) except -1:
    """store_context for ``out`` of a ctypes integer type of ``size`` (_ctypes_integer_size),
    with its call saved for an int the type holds exactly."""
    cdef long long small
    # a one-digit int, the usual context, read inline (no C-API call to convert it)
    if (_CTYPES_LAYOUT_KNOWN and PyLong_CheckExact(context) and compact_value(context, &small)
            and _fits_small(small, size)):
        _poke_bits(out, <unsigned long long>small, size)
        return 0
    if type(context) is int and _fits_ctypes_integer(context, size):
        if _CTYPES_LAYOUT_KNOWN:
            _poke_ctypes_integer(out, context, size)
        else:
            out.value = context
    else:
        store_context(out, context)  # a None c_void_p context, or the TypeError
    return 0


cdef inline int _store_context(object out, object context) except -1:
    """store_context, with its call saved where its checks cannot object: the core's Ref, any
    object that is not ctypes, and an int that a ctypes integer type holds exactly."""
    cdef type kind = type(out)
    cdef Py_ssize_t size
    if kind is Ref:
        (<Ref>out).value = context
        return 0
    size = _ctypes_integer_size(kind)
    if size != 0:
        _store_ctypes_integer(out, context, size)
    elif not PyType_IsSubtype(kind, <type>_SIMPLE_CDATA):
        # (isinstance would ask the ctypes metaclass's __instancecheck__: ~100 ns a call)
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
        # lpContext's kind is decided once, for its check and its store
        cdef bint context_is_ref = type(lpContext) is Ref
        cdef Py_ssize_t context_size = 0 if context_is_ref else _ctypes_integer_size(type(lpContext))
        if not context_is_ref and context_size == 0:
            _check_out(lpContext, "lpContext")
        _check_out(lpErrno, "lpErrno")
        cdef Py_ssize_t index = table._socket_at(value)
        if index < 0:
            _write_out(lpErrno, _WSAENOTSOCK)
            return _SOCKET_ERROR
        if context_is_ref:
            (<Ref>lpContext).value = table._context_of(index)
        elif context_size != 0:
            _store_ctypes_integer(lpContext, table._context_of(index), context_size)
        else:
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
