# Included by _handles.pyx (see its docstring for the parts).
# --------------------------------------------------------------------------------------
# Conversions
#
# A Python int as a handle value or as a SOCKET value, read without a call into libpython for
# the one-digit ints handles are; anything with __index__ is taken as an int.


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
