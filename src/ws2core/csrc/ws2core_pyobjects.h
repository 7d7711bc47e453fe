/* ws2core_pyobjects.h: Python ints and lists read and filled without calls into libpython, for
 * the hot paths of the Cython core (handle conversion, batches, the context list).  Internal
 * to the Cython core; not shipped for providers.
 *
 * Every function here runs no Python code and cannot fail: the callers' invariant (no Python
 * code while the table is inconsistent) holds across them.
 */
#ifndef WS2CORE_PYOBJECTS_H
#define WS2CORE_PYOBJECTS_H

#include <Python.h>
#include <stdint.h>

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

/* 1: o is an exact, compact int a SOCKET can hold, in *out; 0: an exact, compact int no
   SOCKET can hold (negative); -1: anything else (the caller takes the general path). */
static inline int ws2core_exact_socket_value(PyObject *o, uint64_t *out) {
    long long v;
    if (!PyLong_CheckExact(o) || !ws2core_compact_value(o, &v)) return -1;
    if (v < 0) return 0;
    *out = (uint64_t)v;
    return 1;
}

/* A table's context list reaches only as far as a context was ever stored (borrowed). */
static inline PyObject *ws2core_context_at(PyObject *contexts, Py_ssize_t j) {
    return j < PyList_GET_SIZE(contexts) ? PyList_GET_ITEM(contexts, j) : Py_None;
}

/* dst[i] = src[j] for a new list dst whose item i is still NULL: one reference taken,
   none given back (a batch of None contexts costs one count update per handle). */
static inline void ws2core_list_copy_item(PyObject *dst, Py_ssize_t i, PyObject *src,
                                          Py_ssize_t j) {
    PyObject *item = ws2core_context_at(src, j);
    Py_INCREF(item);
    PyList_SET_ITEM(dst, i, item);
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

/* dst[i] = True or False, for a new list dst whose item i is still NULL. */
static inline void ws2core_list_set_bool(PyObject *dst, Py_ssize_t i, int value) {
    PyObject *item = value ? Py_True : Py_False;
    Py_INCREF(item);
    PyList_SET_ITEM(dst, i, item);
}

#endif /* WS2CORE_PYOBJECTS_H */
