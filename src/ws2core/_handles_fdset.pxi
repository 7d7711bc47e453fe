# Included by _handles.pyx (see its docstring for the parts).
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


cdef object _other_core_layout(object fdset):
    """Whether ``fdset``, an FdSet of another core (the twin), is x86; None for any other object.

    So that an FdSet is read in its own layout whichever core reads it (a provider holding
    ``ws2core.FdSet`` may serve a table of the twin).  The other cores' FdSet classes are
    those registered in ws2core._shared (none until the twin is imported: a core never
    imported has made no FdSet).
    """
    cdef type kind = type(fdset)
    for other in _OTHER_FD_SETS:
        # The C subtype test: isinstance would ask ctypes' metaclass, several times slower.
        if PyType_IsSubtype(kind, <type>other):
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
        cdef long long wanted = _handle_value(capacity, "FdSet", "capacity", None)
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
        """__init__(self, handles=(), capacity=64, *, abi='x64')
--

An fd_set holding ``handles``, with room for ``capacity`` SOCKETs, in the layout ``abi``.

        ``handles``: SOCKET values (any iterable of ints; an ``array('Q')`` is read without
        making an int per handle), added in order as ``add`` adds them: a handle given twice is
        added once, and a value the layout's SOCKET cannot hold, or more handles than
        ``capacity``, is a ValueError.  The bytes of an fd_set are not handles (bytes, a
        bytearray, a memoryview are a TypeError): ``FdSet.from_buffer(buf)`` copies them.
        ``capacity``: 1..2**32-1 SOCKETs (default FD_SETSIZE, 64), fixed for the set's life.
        ``abi``: ``"x64"`` (the default: 8-byte SOCKETs after 4 bytes of padding) or ``"x86"``
        (4-byte SOCKETs, no padding).
        """
        # Tested in C first, so that a list, or an array('Q') of handles (the fast batch),
        # pays no Python call.
        if PyObject_CheckBuffer(handles) and not (
                type(handles) is array.array and (<array.array>handles).ob_descr.itemsize > 1):
            _refuse_fd_set_bytes(handles)
        if load_le32(self._data) != 0:  # __init__ called again on a used set: one by one
            for fd in handles:
                self.add(fd)
            return
        _fill(self, _batch(handles, "FdSet", type_errors_later=True))

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
        if not (_socket_value(fd, &value, "FdSet.add", "fd") and _fits(value, self._x86)):
            raise ValueError(_not_a_socket_value(fd, self._x86))
        if not _fd_set(value, self._data, self._nbytes, self._x86):
            raise ValueError(f"the fd_set is full ({self._capacity} SOCKETs); {fd} was not added")

    def discard(self, fd, /):
        """Remove ``fd`` if present (FD_CLR)."""
        cdef uint64_t value = 0
        cdef int valid = _socket_value(fd, &value, "FdSet.discard", "fd")
        _fd_clr(value, valid, self._data, self._nbytes, self._x86)

    def clear(self):
        """Empty the set (FD_ZERO: fd_count = 0)."""
        store_le32(self._data, 0)

    def __contains__(self, fd):
        cdef uint64_t value = 0
        cdef int valid = _socket_value(fd, &value, "FdSet", None)
        return _fd_isset(value, valid, self._data, self._nbytes, self._x86) == 1

    def contains_each(self, handles, /):
        """For each of ``handles``, whether it is in the set (as ``in``): FD_ISSET for many."""
        cdef _Batch batch = _batch(handles, "FdSet.contains_each")
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


# The other cores' FdSet classes, a list ws2core._shared keeps up to date as they register.
cdef list _OTHER_FD_SETS = register_fd_set(FdSet)


cdef int _refuse_fd_set_bytes(object handles) except -1:
    """TypeError for the bytes of an fd_set given as FdSet's handles, which would otherwise be
    read as one SOCKET per byte (ws2core._shared.fd_set_bytes_error says which buffers)."""
    error = fd_set_bytes_error(handles)
    if error is not None:
        raise error
    return 0



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
                _raise_not_an_int(batch, i, "FdSet")  # the TypeError add would have raised
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
    cdef int valid = _socket_value(fd, &value, "FD_SET", "fd")
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
    cdef int valid = _socket_value(fd, &value, "FD_CLR", "fd")
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


cdef int _fd_isset_any(object fd, object set, bint x86, str function, str argument) except -1:
    """FD_ISSET over an FdSet or a foreign buffer in the layout ``x86`` (_abi_of's answer):
    the body of FD_ISSET and WPUFDIsSet, named ``function`` with ``fd`` as ``argument``."""
    cdef uint64_t value = 0
    cdef int valid = _socket_value(fd, &value, function, argument)
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
        return _fd_isset_any(fd, set, (<FdSet>set)._x86, "FD_ISSET", "fd")
    return _fd_isset_any(fd, set, _abi_of(set, abi), "FD_ISSET", "fd")
