# Included by _handles.pyx (see its docstring for the parts).
# --------------------------------------------------------------------------------------
# Conversions
#
# A Python int as a handle value or as a SOCKET value, read without a call into libpython for
# the one-digit ints handles are; anything with __index__ is taken as an int, and anything else
# is a TypeError that names the call and the argument.


cdef object _as_index(object value, str function, str argument, str kind, Py_ssize_t item):
    """PyNumber_Index, failing with a TypeError that names ``argument`` of ``function`` (its
    ``item``-th entry when item >= 0; ws2core._shared.not_an_int words it) when ``value`` has
    no __index__ at all.  Only conversions that have already missed the int fast path come
    here."""
    if not PyIndex_Check(value):
        raise not_an_int(value, function, argument, kind, item if item >= 0 else None)
    return PyNumber_Index(value)


cdef inline long long _handle_value(object h, str function, str argument, str kind) except -2:
    """``h`` as a C value; -1 for any int no handle can be.  A non-int is a TypeError naming
    ``argument`` of ``function`` and the ``kind`` of int it wants (see _as_index)."""
    return _handle_value_at(h, function, argument, kind, -1)


cdef inline long long _handle_value_at(object h, str function, str argument, str kind,
                                       Py_ssize_t item) except -2:
    """_handle_value for entry ``item`` of the sequence ``argument``.  Only the one-digit int
    is read here; the rest is out of line, so that the names cost the inlined path nothing."""
    cdef long long value
    if PyLong_CheckExact(h) and compact_value(h, &value):
        return value if value >= 0 else -1
    return _any_handle_value(h, function, argument, kind, item)


cdef long long _any_handle_value(object h, str function, str argument, str kind,
                                 Py_ssize_t item) except -2:
    cdef int overflow = 0
    cdef long long value
    if not PyLong_Check(h):
        h = _as_index(h, function, argument, kind, item)
    value = PyLong_AsLongLongAndOverflow(h, &overflow)
    if overflow or value < 0:
        return -1
    return value


cdef int _socket_value(object fd, uint64_t *value, str function, str argument) except -1:
    """1 with ``*value`` set if ``fd`` is an int a SOCKET can hold, 0 for any other int; a
    non-int is a TypeError naming ``argument`` of ``function`` (see _as_index)."""
    cdef int overflow = 0
    cdef long long small
    if PyLong_CheckExact(fd) and compact_value(fd, &small):
        if small < 0:
            return 0
        value[0] = <uint64_t>small
        return 1
    if not PyLong_Check(fd):
        fd = _as_index(fd, function, argument, "a SOCKET", -1)
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
