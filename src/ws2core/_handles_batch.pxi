# Included by _handles.pyx (see its docstring for the parts).
# --------------------------------------------------------------------------------------
# Batches
#
# Many handles given at once (contains_each, FdSet(handles), contexts, close_sockets):
# converted once, all of them before the table is read, and a set of SOCKET values for the
# operations that would otherwise scan an fd_set once per handle.


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


cdef _Batch _batch(object handles, str function, bint type_errors_later=False):
    """Convert ``handles`` (any iterable of ints) for a batch, the argument ``handles`` of
    ``function``: TypeError for a non-int, or with ``type_errors_later`` a NOT_AN_INT mark, for
    a caller that must fail at that item in turn (with _raise_not_an_int)."""
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
        item = batch.items[i]
        if not (PyLong_Check(item) or PyIndex_Check(item)):  # no int at all
            if not type_errors_later:
                raise not_an_int(item, function, "handles", "a SOCKET", i)
            batch.is_socket[i] = NOT_AN_INT
            batch.raw[i] = 0
            continue
        try:  # __index__ too, all of them first
            batch.is_socket[i] = _socket_value(item, &value, function, "handles")
        except TypeError:  # its own __index__ failed
            if not type_errors_later:
                raise
            batch.is_socket[i] = NOT_AN_INT
        batch.raw[i] = value
    return batch


cdef int _raise_not_an_int(_Batch batch, Py_ssize_t i, str function) except -1:
    """Raise the TypeError of entry ``i``, marked NOT_AN_INT: named by its position when it has
    no __index__, else the error its own __index__ raises (asked again, in turn)."""
    cdef uint64_t value = 0
    item = batch.item(i)
    if not PyIndex_Check(item):
        raise not_an_int(item, function, "handles", "a SOCKET", i)
    _socket_value(item, &value, function, "handles")
    return 0


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
