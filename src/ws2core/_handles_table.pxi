# Included by _handles.pyx (see its docstring for the parts).
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


cdef uint32_t _checked_catalog_entry_id(long long value, object catalog_entry_id) except? 0xFFFFFFFF:
    if not 0 <= value <= DWORD_MAX:
        raise ValueError(
            f"dwCatalogEntryId must be a DWORD (0..{_DWORD_MAX}), not {catalog_entry_id}"
        )
    return <uint32_t>value


# The bounds of a table made without arguments, as table_bounds gives them (read once).
_default_bounds = table_bounds(None, None)
cdef uint32_t _DEFAULT_FIRST = _default_bounds.first
cdef uint32_t _DEFAULT_MAX = _default_bounds.max_handles
cdef uint32_t _DEFAULT_DELAY = _default_bounds.reuse_delay
del _default_bounds

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

    @property
    def _apcs(self):
        """The table's ApcQueues (ws2core._waits reads it), made when first asked for: most
        tables never queue an APC, and an ApcQueues costs half of a bare table's making."""
        queues = self._apc_queues
        if queues is None:
            made = _waits.ApcQueues()
            if self._apc_queues is None:   # no Python code runs between this and the store
                self._apc_queues = made
            queues = self._apc_queues
        return queues

    def __init__(self, *, max_handles=None, handle_range=None, abi="x64"):
        """__init__(self, *, max_handles=None, handle_range=None, abi='x64')
--

A table of at most ``max_handles`` live handles, valued within ``handle_range``, for a
        process of the ABI ``abi``.

        ``max_handles``: 1..2**24 (None: 2**22, or less with a small ``handle_range``).
        ``handle_range``: ``(first, last)``, multiples of 4 with 4 <= first <= last < 2**32
        (None: 4..2**32-4).  ``abi``: ``"x64"`` (the default) or ``"x86"``, where SOCKET is 4
        bytes.  See the class's docstring for how they bound the table; calling __init__ again
        on a table cannot change them (RuntimeError).
        """
        cdef bint x86
        cdef uint32_t first, most, delay
        if max_handles is None and handle_range is None and type(abi) is str and abi == "x64":
            # A table made with no arguments: the defaults, checked once at import.
            x86, first, most, delay = False, _DEFAULT_FIRST, _DEFAULT_MAX, _DEFAULT_DELAY
        else:
            x86 = checked_abi(abi)
            bounds = table_bounds(max_handles, handle_range)
            first, most, delay = bounds.first, bounds.max_handles, bounds.reuse_delay
        if self._first and (first, most, delay, x86) != (
                self._first, self._max_handles, self._reuse_delay, self._x86):
            # Handle values, native readers and the quarantine's invariant all rest on them.
            raise RuntimeError("HandleTable.__init__ cannot change the bounds or ABI of a table")
        self._x86 = x86
        self._first = first
        self._max_handles = most
        self._reuse_delay = delay

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
        """Index of a new live slot holding ``context``; -1 when the table is full."""
        # Past the last value of the range (only when adopted sockets were closed faster
        # than handles were created: an adoption is no creation) the oldest closed value
        # returns early.
        cdef bint fresh = not self._closed_head or (
            not _due(self._slots[self._closed_head - 1].word, self._creations)
            and self._used < <uint64_t>self._max_handles + self._reuse_delay)
        cdef uint32_t index = self._used if fresh else self._closed_head - 1
        if self._live_count >= self._max_handles:
            return -1
        self._occupy(index, 0, kind, word, context)
        self._creations += 1
        return index

    cdef int _adopt(self, uint64_t value, uint32_t word) except -1:
        """Make the value a provider proposes (WPUModifyIFSHandle) a live socket without a
        context: 0, or WSAENOBUFS when the table is full, WSAEINVAL when ``value`` is not a
        value of the table's range that is free and out of quarantine.

        A closed value is unlinked from the closed FIFO, searched from its head: the due
        values lead it, so the search stops at the first that is not.  Adopting is no
        creation for the quarantine's clock.
        """
        cdef uint64_t index = _slot_index(self._first, value)
        cdef uint32_t previous = 0
        cdef uint32_t link
        if value & TAG_BITS or index >= <uint64_t>self._max_handles + self._reuse_delay:
            return WSAEINVAL
        if self._live_count >= self._max_handles:
            return WSAENOBUFS
        if index < self._used:
            if self._slots[index].kind != SLOT_FREE or not _due(self._slots[index].word, self._creations):
                return WSAEINVAL
            link = self._closed_head
            while link and link != index + 1:
                previous = link
                link = self._slots[link - 1].newer
            if not link:
                return WSAEINVAL  # unreachable: every free slot below _used is in the FIFO
        self._occupy(<uint32_t>index, previous, SLOT_SOCKET, word, None)
        return 0

    cdef int _occupy(self, uint32_t index, uint32_t previous, uint8_t kind, uint32_t word,
                     object context) except -1:
        """Make the free slot ``index`` live, holding ``context``: a closed slot, which
        follows ``previous`` in the closed FIFO (0: it is the head), or a fresh one (``index``
        >= _used), the fresh slots below which join the FIFO's head, due at once.

        The slot is published to lock-free native readers last: its context first, then its
        kind (release), then for a fresh slot the count of slots in use (release).
        """
        cdef Slot *slot
        cdef bint fresh = index >= self._used
        cdef uint64_t native = _native_context(context)
        cdef uint32_t skipped
        # Room first, while nothing has changed (MemoryError leaves the table as it was).  The
        # context list reaches only as far as a context was ever stored: a table of sockets
        # without contexts pays nothing for it.  Appending None allocates no tracked object,
        # so no collection (and no finalizer) can run here.
        if context is not None:
            while PyList_GET_SIZE(self._contexts) <= index:
                self._contexts.append(None)
        while fresh and index >= self._allocated:
            self._grow()
        if fresh:
            if index > self._used:  # free before _used publishes them
                for skipped in range(self._used, index):
                    slot = &self._slots[skipped]
                    slot.generation = 0
                    slot.kind = SLOT_FREE
                    slot.signalled = 0
                    slot.word = <uint32_t>self._creations
                    slot.older = 0
                    slot.newer = skipped + 2 if skipped + 1 < index else self._closed_head
                if not self._closed_tail:
                    self._closed_tail = index
                self._closed_head = self._used + 1
            self._slots[index].generation = 0
        else:
            if previous:
                self._slots[previous - 1].newer = self._slots[index].newer
            else:
                self._closed_head = self._slots[index].newer
            if self._closed_tail == index + 1:
                self._closed_tail = previous
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
        elif kind == SLOT_THREAD:
            self._thread_count += 1
        elif kind == SLOT_PORT:
            self._port_count += 1
        if context is not None:
            self._contexts[index] = context  # replaces None: no finalizer can run
        return 0

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

    @cython.final
    cdef Py_ssize_t _thread_at(self, long long value) noexcept:
        """Slot index of the live thread handle ``value`` (tag bits ignored), or -1."""
        if value < 0:
            return -1
        cdef uint64_t index = _slot_index(self._first, <uint64_t>value)
        if index >= self._used or self._slots[index].kind != SLOT_THREAD:
            return -1
        return <Py_ssize_t>index

    cdef Py_ssize_t _port_at(self, long long value) noexcept:
        """Slot index of the live port handle ``value`` (tag bits ignored), or -1."""
        if value < 0:
            return -1
        cdef uint64_t index = _slot_index(self._first, <uint64_t>value)
        if index >= self._used or self._slots[index].kind != SLOT_PORT:
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
        cdef bint associated = False
        if slot.kind == SLOT_SOCKET:
            self._socket_count -= 1
            associated = self._associations is not None and index in self._associations
        elif slot.kind == SLOT_THREAD:
            self._thread_count -= 1
        elif slot.kind == SLOT_PORT:
            self._port_count -= 1
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
        if associated:
            # The association ends with its socket, so a later socket in this slot starts
            # without one.  Last, with the table consistent; and dropping the entry runs no
            # Python code: its port is either still held by its port handle or closed, and
            # a closed CompletionPort holds no packet and no waiter (an int key, a lock).
            del self._associations[index]
        return 0

    # --- sockets

    def create_socket(self, catalog_entry_id, context=None):
        """A new socket handle for the provider ``catalog_entry_id`` (a DWORD), holding ``context``.

        WinsockError(WSAENOBUFS) when the table is full; ValueError for a catalog entry id
        outside 0..2**32-1.
        """
        cdef uint32_t catalog = _checked_catalog_entry_id(_handle_value(
            catalog_entry_id, "HandleTable.create_socket", "catalog_entry_id", "a DWORD"),
            catalog_entry_id)
        cdef Py_ssize_t index = self._create(SLOT_SOCKET, catalog, context)
        if index < 0:
            raise WinsockError(_WSAENOBUFS)
        return _handle_at(self._first, index)

    def adopt_socket(self, catalog_entry_id, s, /):
        """Make ``s``, a value a provider proposes (WPUModifyIFSHandle), a socket of this table
        for the provider ``catalog_entry_id``, without a context; returns ``s``.

        ``s`` must be a multiple of 4 in ``handle_range`` that no live handle holds and that
        is out of quarantine (or was never handed out): otherwise WinsockError(WSAEINVAL), and
        WinsockError(WSAENOBUFS) when the table is full.  ValueError for a catalog entry id
        outside 0..2**32-1.  Adopting a value far above those in use grows the table to it.
        An adoption is no creation for the quarantine's clock, so where adopted sockets close
        faster than handles are created, a table whose range runs out hands its oldest closed
        value out before its quarantine ends.
        """
        cdef uint32_t catalog = _checked_catalog_entry_id(_handle_value(
            catalog_entry_id, "HandleTable.adopt_socket", "catalog_entry_id", "a DWORD"),
            catalog_entry_id)
        cdef long long value = _handle_value(s, "HandleTable.adopt_socket", "s", "a SOCKET")
        cdef int code = WSAEINVAL if value < 0 else self._adopt(<uint64_t>value, catalog)
        if code:
            raise WinsockError(code)
        return value

    @cython.binding(False)  # a method descriptor: the cheapest call CPython has
    def context(self, s, /):
        """The context of socket ``s``; WinsockError(WSAENOTSOCK) if ``s`` is not a live socket."""
        cdef Py_ssize_t index = self._socket_at(
            _handle_value(s, "HandleTable.context", "s", "a SOCKET"))
        if index < 0:
            raise WinsockError(_WSAENOTSOCK)
        return self._context_of(index)

    def catalog_entry(self, s, /):
        """The catalog entry id socket ``s`` was created with; WinsockError(WSAENOTSOCK)."""
        cdef Py_ssize_t index = self._socket_at(
            _handle_value(s, "HandleTable.catalog_entry", "s", "a SOCKET"))
        if index < 0:
            raise WinsockError(_WSAENOTSOCK)
        return self._slots[index].word

    @cython.binding(False)  # a method descriptor: the cheapest call CPython has
    def close_socket(self, s, /):
        """Close socket ``s`` and release its context; WinsockError(WSAENOTSOCK)."""
        cdef Py_ssize_t index = self._socket_at(
            _handle_value(s, "HandleTable.close_socket", "s", "a SOCKET"))
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
        cdef uint32_t catalog = _checked_catalog_entry_id(_handle_value(
            catalog_entry_id, "HandleTable.create_sockets", "catalog_entry_id", "a DWORD"),
            catalog_entry_id)
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
        cdef _Batch batch = _batch(handles, "HandleTable.contexts")
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
        cdef _Batch batch = _batch(handles, "HandleTable.close_sockets")
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

    cdef Py_ssize_t _checked_event(self, object e, str function) except -1:
        cdef Py_ssize_t index = self._event_at(_handle_value(e, function, "e", "a WSAEVENT"))
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
        # Before reading _slots: __index__ may grow it.
        cdef Py_ssize_t index = self._checked_event(e, "HandleTable.set_event")
        self._slots[index].signalled = 1
        if self._waiters:
            self._notify(index)

    def reset_event(self, e, /):
        """Make event ``e`` non-signalled; WinsockError(WSA_INVALID_HANDLE)."""
        cdef Py_ssize_t index = self._checked_event(e, "HandleTable.reset_event")
        self._slots[index].signalled = 0

    def event_is_set(self, e, /):
        """Whether event ``e`` is signalled; WinsockError(WSA_INVALID_HANDLE)."""
        cdef Py_ssize_t index = self._checked_event(e, "HandleTable.event_is_set")
        return self._slots[index].signalled != 0

    def close_event(self, e, /):
        """Close event ``e``; WinsockError(WSA_INVALID_HANDLE), for a socket handle too."""
        self._release(self._checked_event(e, "HandleTable.close_event"))

    # --- waits (the loop itself is ws2core._waits, shared by both cores)

    def wait(self, events, wait_all=False, timeout=None, alertable=False):
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

        ``alertable``: the APCs queued to the calling thread (``queue_apc``) run in this wait,
        oldest first, and it returns WSA_WAIT_IO_COMPLETION (192) after running them; an event
        already signalled wins over a pending APC.  An APC that raises: the exception
        propagates out of the wait, and the APCs after it stay queued.  Without
        ``alertable`` no APC ever runs.
        """
        return _waits.wait(self, events, wait_all, timeout, alertable)

    def sleep(self, seconds, alertable=False):
        """SleepEx: block the calling thread for ``seconds`` (None: forever); returns 0.

        ``alertable``: returns WSA_WAIT_IO_COMPLETION (192) as soon as the APCs queued to the
        calling thread have run (at once if some are pending), as ``wait`` does.
        """
        return _waits.sleep(self, seconds, alertable)

    def wait_async(self, events, wait_all=False, timeout=None):
        """``await table.wait_async(...)``: the same wait, without blocking the event loop.

        It spends no thread and no file descriptor of its own: a set from any thread wakes it
        through the running loop.  Cancelling the awaiting task removes the wait.  There is no
        alertable form (see ws2core._waits.wait_async for why).
        """
        return _waits.wait_async(self, events, wait_all, timeout)

    def _wait_set(self, handles, wait_all, str function):
        """The events of a wait, checked in the kernel's order (see ws2core._waits);
        ``function`` is the method waiting, for the messages."""
        cdef _WaitSet wait_set = _WaitSet.__new__(_WaitSet)
        cdef Py_ssize_t i, j, index
        cdef Py_ssize_t count = len(handles)
        cdef long long values[WAIT_MAXIMUM]
        cdef long long value
        # Types first, over every entry: __index__ may run Python code, so all of it runs
        # before the table is read.
        for i in range(count):
            handle = handles[i]
            if handle is None:
                value = 0
            else:
                value = _handle_value_at(handle, function, "events", "a WSAEVENT", i)
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

    # --- threads and APCs (the queues themselves are ws2core._waits.ApcQueues, shared)

    cdef Py_ssize_t _checked_thread(self, object h, str function) except -1:
        cdef Py_ssize_t index = self._thread_at(_handle_value(h, function, "h", "a thread handle"))
        if index < 0:
            raise WinsockError(_WSAEFAULT)
        return index

    cdef Py_ssize_t _open_thread(self, uint64_t thread) except -2:
        """Index of a new thread handle naming the OS thread ``thread``; -1 when full."""
        cdef Py_ssize_t index = self._create(SLOT_THREAD, 0, None)
        if index >= 0:
            # After the kind is published: lock-free readers only read a socket's `native`.
            store_relaxed_u64(&self._slots[index].native, thread)
        return index

    def open_thread(self):
        """A new thread handle naming the calling OS thread; WinsockError(WSAENOBUFS) when full.

        APCs queued through it (``queue_apc``) run on that thread, in its alertable waits.
        """
        cdef Py_ssize_t index = self._open_thread(PyThread_get_thread_ident())
        if index < 0:
            raise WinsockError(_WSAENOBUFS)
        return _handle_at(self._first, index)

    def close_thread(self, h, /):
        """Close thread handle ``h``; WinsockError(WSAEFAULT) if it is not a live thread handle.

        APCs already queued to its thread stay queued: they belong to the thread.
        """
        self._release(self._checked_thread(h, "HandleTable.close_thread"))

    def queue_apc(self, h, function, context=None, /):
        """Queue ``function(context)`` to the thread that thread handle ``h`` names.

        It runs on that thread, after the APCs queued before it, in the next alertable wait
        there (``wait(..., alertable=True)`` or ``sleep(..., alertable=True)``); a thread
        waiting alertably now is woken.  WinsockError(WSAEFAULT) if ``h`` is not a live thread
        handle; TypeError if ``function`` is not callable.
        """
        if not callable(function):
            raise TypeError(f"an APC must be callable, not {type(function).__name__}")
        cdef Py_ssize_t index = self._checked_thread(h, "HandleTable.queue_apc")
        self._apcs.queue(self._slots[index].native, function, context)

    # --- completion ports (the queues themselves are ws2core._waits.CompletionPort, shared)

    cdef object _checked_port(self, object h, str function):
        """The CompletionPort of the live port handle ``h``; WSA_INVALID_HANDLE."""
        cdef Py_ssize_t index = self._port_at(_handle_value(h, function, "port", "a port handle"))
        if index < 0:
            raise WinsockError(_WSA_INVALID_HANDLE, "not a completion port of this table")
        return self._context_of(index)

    def create_port(self):
        """A new completion port, with no packet and no socket; WinsockError(WSAENOBUFS) when
        the table is full."""
        port = _waits.CompletionPort()  # before the table changes: allocating may collect
        cdef Py_ssize_t index = self._create(SLOT_PORT, 0, port)
        if index < 0:
            raise WinsockError(_WSAENOBUFS)
        return _handle_at(self._first, index)

    def close_port(self, port, /):
        """Close port handle ``port``: its queued packets are dropped and the threads waiting
        on it fail with ERROR_ABANDONED_WAIT_0; WinsockError(WSA_INVALID_HANDLE)."""
        cdef Py_ssize_t index = self._port_at(
            _handle_value(port, "HandleTable.close_port", "port", "a port handle"))
        if index < 0:
            raise WinsockError(_WSA_INVALID_HANDLE, "not a completion port of this table")
        self._release(index).close()  # wakes the waiters: with the table consistent

    def associate_port(self, s, port, key, /):
        """Associate socket ``s`` with completion port ``port``: the completions
        ``post_socket_completion`` reports for it are queued there with ``key`` (a ULONG_PTR).

        WinsockError(WSA_INVALID_HANDLE) when ``s`` is not a live socket or ``port`` not a
        live port; WinsockError(WSA_INVALID_PARAMETER) when ``s`` is associated already (a
        handle has one port for its life).  The association ends when the socket closes.
        """
        key = _waits.checked_key(key, "HandleTable.associate_port")
        cdef long long value = _handle_value(s, "HandleTable.associate_port", "s", "a SOCKET")
        target = self._checked_port(port, "HandleTable.associate_port")
        cdef Py_ssize_t index = self._socket_at(value)
        if index < 0:
            raise WinsockError(_WSA_INVALID_HANDLE, "not a socket handle of this table")
        if self._associations is None:
            self._associations = {}
        elif index in self._associations:
            raise WinsockError(_WSA_INVALID_PARAMETER,
                               "the socket is associated with a completion port already")
        self._associations[index] = (target, key)

    def post_completion(self, port, transferred, key, overlapped, /):
        """PostQueuedCompletionStatus: queue the packet (``transferred`` bytes, ``key``,
        ``overlapped``, no error) to ``port``; WinsockError(WSA_INVALID_HANDLE)."""
        self._checked_port(port, "HandleTable.post_completion").post(
            transferred, key, overlapped, 0, "HandleTable.post_completion")

    def post_socket_completion(self, s, overlapped, error, transferred, /):
        """Queue the completion of an overlapped operation on socket ``s`` to the port it is
        associated with, with its key: True, or False when it has no port (or its port was
        closed).  WinsockError(WSAENOTSOCK) when ``s`` is not a live socket."""
        cdef Py_ssize_t index = self._socket_at(
            _handle_value(s, "HandleTable.post_socket_completion", "s", "a SOCKET"))
        if index < 0:
            raise WinsockError(_WSAENOTSOCK)
        association = None if self._associations is None else self._associations.get(index)
        if association is None:
            return False
        target, key = association
        return target.post(transferred, key, overlapped, error, "HandleTable.post_socket_completion")

    def get_completions(self, port, limit=1, timeout=None, alertable=False):
        """GetQueuedCompletionStatus(Ex): up to ``limit`` packets of ``port`` as
        ``(transferred, key, overlapped, error)``, oldest first, as soon as there is one.

        ``timeout`` seconds (None: no limit; 0: poll) without a packet: []; ``alertable``:
        the calling thread's APCs run if it has some before a packet comes, and the call
        returns WSA_WAIT_IO_COMPLETION (192).  Threads waiting on one port are served last
        come, first served.  WinsockError(WSA_INVALID_HANDLE) when ``port`` is not a live
        port, WinsockError(ERROR_ABANDONED_WAIT_0) when it is closed during the wait.  The
        GIL is released while the thread blocks.
        """
        return _waits.get_completions(
            self, self._checked_port(port, "HandleTable.get_completions"), limit, timeout,
            alertable)

    # --- the table as a whole

    def kind(self, h, /):
        """``"socket"``, ``"event"``, ``"thread"``, ``"port"``, or None when ``h`` is not a
        live handle of this table."""
        cdef long long value = _handle_value(h, "HandleTable.kind", "h", "a SOCKET or WSAEVENT")
        if self._socket_at(value) >= 0:
            return "socket"
        if self._event_at(value) >= 0:
            return "event"
        if self._thread_at(value) >= 0:
            return "thread"
        if self._port_at(value) >= 0:
            return "port"
        return None

    def __len__(self):
        return self._live_count

    def __contains__(self, h):
        cdef long long value = _handle_value(h, "HandleTable", None, "a SOCKET or WSAEVENT")
        return (self._socket_at(value) >= 0 or self._event_at(value) >= 0
                or self._thread_at(value) >= 0 or self._port_at(value) >= 0)

    def __iter__(self):
        """The live handles, sockets, events, threads and ports, oldest first (a snapshot)."""
        cdef list handles = []
        cdef uint32_t link = self._oldest
        while link:
            handles.append(_handle_at(self._first, link - 1))
            link = self._slots[link - 1].newer
        return iter(handles)

    def close(self):
        """Close every live handle, releasing every context; the table stays usable.

        The closed values are quarantined like any other.  APCs queued and not yet run are
        dropped, never run (their threads' handles are gone with the rest); ports are closed
        as ``close_port`` closes them.  Contexts and APCs are released after the table is
        consistent, so their finalizers may create or close handles.
        """
        cdef list released = []
        cdef list ports = []
        cdef uint32_t link = self._oldest
        cdef uint32_t following
        cdef bint port
        while link:
            following = self._slots[link - 1].newer
            port = self._slots[link - 1].kind == SLOT_PORT
            context = self._release(link - 1)
            if port:
                ports.append(context)
            elif context is not None:
                released.append(context)
            link = following
        released = None  # finalizers run now, with the table consistent
        for context in ports:
            context.close()
        if self._apc_queues is not None:
            self._apc_queues.drop()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb, /):
        self.close()

    def __repr__(self):
        cdef uint32_t sockets = self._socket_count
        cdef uint32_t threads = self._thread_count
        cdef uint32_t ports = self._port_count
        cdef uint32_t events = self._live_count - sockets - threads - ports
        return (
            f"<HandleTable {sockets} socket{'' if sockets == 1 else 's'}, "
            f"{events} event{'' if events == 1 else 's'}, "
            f"{_kinds_note(threads, ports)}max {self._max_handles}"
            f"{_bounds_note(self.handle_range, self._reuse_delay, self._x86)}>"
        )

    def __reduce__(self):
        raise TypeError("a HandleTable cannot be pickled: its handles belong to this process")
