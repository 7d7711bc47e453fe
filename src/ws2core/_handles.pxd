# cython: language_level=3
"""What C and Cython code may cimport from ws2core._handles: the slot layout and the
C-level operations of the handle table, which the native WSPUPCALLTABLE calls without
Python in the way."""

cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t


cdef enum:
    SLOT_FREE = 0
    SLOT_SOCKET = 1
    SLOT_EVENT = 2
    SLOT_THREAD = 3
    SLOT_PORT = 4


# One handle: 24 bytes.  Links are slot index + 1, so 0 means "none".  C callers of the native
# table read `native`, `kind` and `generation` without the GIL (see "Native table" in
# _handles_native.pxi): writers publish `kind` last and bump `generation` first.
ctypedef struct Slot:
    uint64_t native     # socket: the context as C sees it (an int's value, an object's id, None: 0);
                        # thread: the OS thread id (PyThread_get_thread_ident) it names;
                        # port: its CompletionPort's id (not read: no reader needs a port)
    uint32_t older      # live: the next older live slot (creation order, for iteration)
    uint32_t newer      # live: the next newer live slot; free: the next slot in the closed FIFO
    uint32_t word       # socket: catalog entry id; free: low 32 bits of the creation count
                        # at which the value may be handed out again
    uint8_t kind        # SLOT_FREE, SLOT_SOCKET, SLOT_EVENT, SLOT_THREAD or SLOT_PORT
    uint8_t signalled   # event: manual-reset state, kept after close until the slot returns
    uint16_t generation # bumped at every close: a wait tells its event from a later one


cdef class Ref:
    cdef public object value


cdef class FdSet:
    cdef unsigned char *_data   # the Windows layout, (capacity + 1) SOCKETs long; never moves
    cdef bint _x86              # 4-byte SOCKETs, no padding; else 8-byte SOCKETs after 4 of padding
    cdef Py_ssize_t _capacity
    cdef Py_ssize_t _nbytes     # also the exported buffer's shape
    cdef Py_ssize_t _itemsize   # 1: the exported buffer's stride


cdef class HandleTable:
    cdef Slot *_slots           # PyMem array of _allocated slots; the first _used have a value
    cdef uint32_t _allocated
    cdef uint32_t _used
    # Parallel to _slots: a socket's context, a port's ws2core._waits.CompletionPort, None elsewhere; it ends after the last slot that
    # ever held a context (past its end: None).  A list, not a PyObject* array, so the cycle
    # collector sees contexts that refer back to their table.
    cdef list _contexts
    cdef uint32_t _max_handles
    cdef uint32_t _first        # slot i holds the handle value _first + 4 * i
    cdef uint32_t _reuse_delay  # a closed value stays out for this many creations
    cdef bint _x86              # the ABI of the emulated process: its fd_sets, its INVALID_SOCKET
    cdef uint32_t _live_count
    cdef uint32_t _socket_count
    cdef uint32_t _thread_count
    cdef uint32_t _port_count
    cdef uint64_t _creations    # the clock of the quarantine
    cdef uint32_t _oldest       # live list, oldest end
    cdef uint32_t _newest       # live list, newest end
    cdef uint32_t _closed_head  # closed FIFO: the next value due
    cdef uint32_t _closed_tail
    # Waits in progress: event slot index -> list of _WaitSet; None while nobody waits.
    cdef dict _waiters
    # The APCs queued to the OS threads of this table: a ws2core._waits.ApcQueues, made
    # when first needed (the _apcs property); None until then.
    cdef object _apc_queues
    # Sockets associated with a completion port: socket slot index -> (CompletionPort, key);
    # None until the first association.  An entry goes when its socket closes (_forget).
    cdef dict _associations
    # Once a native table reads this table without the GIL, an outgrown slot array may still
    # be in a reader's hands: it is kept here until the table is freed instead of freed.
    cdef bint _native_readers
    cdef uint32_t _retired_count
    cdef Slot *_retired[32]
    cdef object __weakref__

    cdef Py_ssize_t _create(self, uint8_t kind, uint32_t word, object context) except -2
    cdef int _adopt(self, uint64_t value, uint32_t word) except -1
    cdef int _occupy(self, uint32_t index, uint32_t previous, uint8_t kind, uint32_t word,
                     object context) except -1
    cdef int _grow(self) except -1
    # final: called directly, not through the vtable, on the hot paths
    @cython.final
    cdef Py_ssize_t _socket_at(self, long long value) noexcept
    @cython.final
    cdef Py_ssize_t _event_at(self, long long value) noexcept
    cdef Py_ssize_t _thread_at(self, long long value) noexcept
    cdef Py_ssize_t _checked_thread(self, object h, str function) except -1
    cdef Py_ssize_t _open_thread(self, uint64_t thread) except -2
    cdef Py_ssize_t _port_at(self, long long value) noexcept
    cdef object _checked_port(self, object h, str function)
    cdef Py_ssize_t _checked_event(self, object e, str function) except -1
    cdef int _notify(self, Py_ssize_t index) except -1
    cdef int _freeze(self, Py_ssize_t index) except -1
    cdef object _release(self, Py_ssize_t index)
    cdef object _context_of(self, Py_ssize_t index)
    cdef int _forget(self, Py_ssize_t index) except -1


cdef class HotUpcalls:
    cdef readonly HandleTable table
    cdef int _native_set        # 1 + the index of its native entry-point set; 0: none yet
    cdef object __weakref__

    cdef Py_ssize_t _claim_native_set(self) except -1


cdef class _WaitSet:
    cdef HandleTable table
    cdef Py_ssize_t count
    cdef bint wait_all
    cdef uint32_t index[64]
    cdef uint16_t generation[64]
    cdef uint8_t frozen[64]     # the state an entry's event had when it was closed
    cdef object wake            # called when one of the events is set; None until registered
    cdef int _ready(self) noexcept
