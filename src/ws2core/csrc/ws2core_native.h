/* ws2core_native.h: the C side of the native WSPUPCALLTABLE, the 64 sets of entry points a C
 * provider calls.  Internal to the Cython core (_handles_native.pxi fills in the operations
 * at import); providers include <ws2core/ws2spi.h> instead.
 */
#ifndef WS2CORE_NATIVE_H
#define WS2CORE_NATIVE_H

#include <Python.h>
#include <stdint.h>
#include <ws2core/ws2spi.h>

/* Once the interpreter shuts down, the entry points that touch a table fail instead. */
static inline int ws2core_python_finalizing(void) {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

/* The upcalls that touch the table, as the module implements them: each takes the index
   of the entry-point set it was called through.  Filled in at import. */
typedef struct {
    SOCKET (*create_socket)(unsigned, DWORD, DWORD_PTR, LPINT);
    int (*query_context)(unsigned, SOCKET, PDWORD_PTR, LPINT);
    int (*close_socket)(unsigned, SOCKET, LPINT);
    WSAEVENT (*create_event)(unsigned, LPINT);
    BOOL (*set_event)(unsigned, WSAEVENT, LPINT);
    BOOL (*reset_event)(unsigned, WSAEVENT, LPINT);
    BOOL (*close_event)(unsigned, WSAEVENT, LPINT);
    int (*open_thread)(unsigned, LPWSATHREADID, LPINT);
    int (*close_thread)(unsigned, LPWSATHREADID, LPINT);
    int (*queue_apc)(unsigned, LPWSATHREADID, LPWSAUSERAPC, DWORD_PTR, LPINT);
    DWORD (*wait)(unsigned, DWORD, const WSAEVENT *, BOOL, DWORD, BOOL, LPINT);
    DWORD (*sleep)(unsigned, DWORD, BOOL, LPINT);
    int (*get_provider_path)(unsigned, LPGUID, WCHAR *, LPINT, LPINT);
    SOCKET (*modify_ifs_handle)(unsigned, DWORD, SOCKET, LPINT);
    BOOL (*post_message)(unsigned, HWND, UINT, WPARAM, LPARAM);
    int (*query_blocking_callback)(unsigned, DWORD, LPBLOCKINGCALLBACK *, PDWORD_PTR, LPINT);
    BOOL (*blocking_callback)(unsigned, DWORD_PTR);
} ws2core_native_ops;
static ws2core_native_ops ws2core_ops;

/* The upcalls that need no table are shared by every set.  WPUFDIsSet trusts fd_count,
   as Windows does: a C caller's fd_set may be larger than FD_SETSIZE. */
static int WSPAPI ws2core_fd_isset(SOCKET s, ws2core_fd_set *fdset) {
    unsigned int i;
    if (fdset == NULL) return 0;
    for (i = 0; i < fdset->fd_count; i++)
        if (fdset->fd_array[i] == s) return 1;
    return 0;
}

/* The C signatures carry no table pointer, so each native table has its own entry points:
   64 sets, set a*8+b named by the digits a and b. */
#define WS2CORE_ENTRY_POINTS(a, b) \
static BOOL WSPAPI ws2core_close_event_##a##b(WSAEVENT e, LPINT err) \
    { return ws2core_ops.close_event(a * 8 + b, e, err); } \
static int WSPAPI ws2core_close_socket_##a##b(SOCKET s, LPINT err) \
    { return ws2core_ops.close_socket(a * 8 + b, s, err); } \
static WSAEVENT WSPAPI ws2core_create_event_##a##b(LPINT err) \
    { return ws2core_ops.create_event(a * 8 + b, err); } \
static SOCKET WSPAPI ws2core_create_socket_##a##b(DWORD id, DWORD_PTR context, LPINT err) \
    { return ws2core_ops.create_socket(a * 8 + b, id, context, err); } \
static int WSPAPI ws2core_query_context_##a##b(SOCKET s, PDWORD_PTR context, LPINT err) \
    { return ws2core_ops.query_context(a * 8 + b, s, context, err); } \
static BOOL WSPAPI ws2core_reset_event_##a##b(WSAEVENT e, LPINT err) \
    { return ws2core_ops.reset_event(a * 8 + b, e, err); } \
static BOOL WSPAPI ws2core_set_event_##a##b(WSAEVENT e, LPINT err) \
    { return ws2core_ops.set_event(a * 8 + b, e, err); } \
static int WSPAPI ws2core_open_thread_##a##b(LPWSATHREADID thread, LPINT err) \
    { return ws2core_ops.open_thread(a * 8 + b, thread, err); } \
static int WSPAPI ws2core_close_thread_##a##b(LPWSATHREADID thread, LPINT err) \
    { return ws2core_ops.close_thread(a * 8 + b, thread, err); } \
static int WSPAPI ws2core_queue_apc_##a##b(LPWSATHREADID thread, LPWSAUSERAPC apc, \
                                         DWORD_PTR context, LPINT err) \
    { return ws2core_ops.queue_apc(a * 8 + b, thread, apc, context, err); } \
static DWORD WSPAPI ws2core_wait_##a##b(DWORD count, const WSAEVENT *events, BOOL all, \
                                      DWORD timeout, BOOL alertable, LPINT err) \
    { return ws2core_ops.wait(a * 8 + b, count, events, all, timeout, alertable, err); } \
static DWORD WSPAPI ws2core_sleep_##a##b(DWORD milliseconds, BOOL alertable, LPINT err) \
    { return ws2core_ops.sleep(a * 8 + b, milliseconds, alertable, err); } \
static int WSPAPI ws2core_get_provider_path_##a##b(LPGUID id, WCHAR *path, LPINT length, \
                                                 LPINT err) \
    { return ws2core_ops.get_provider_path(a * 8 + b, id, path, length, err); } \
static SOCKET WSPAPI ws2core_modify_ifs_handle_##a##b(DWORD catalog, SOCKET proposed, LPINT err) \
    { return ws2core_ops.modify_ifs_handle(a * 8 + b, catalog, proposed, err); } \
static BOOL WSPAPI ws2core_post_message_##a##b(HWND window, UINT message, WPARAM w, LPARAM l) \
    { return ws2core_ops.post_message(a * 8 + b, window, message, w, l); } \
static BOOL CALLBACK ws2core_blocking_callback_##a##b(DWORD_PTR context) \
    { return ws2core_ops.blocking_callback(a * 8 + b, context); } \
static int WSPAPI ws2core_query_blocking_callback_##a##b(DWORD catalog, \
                                                       LPBLOCKINGCALLBACK *callback, \
                                                       PDWORD_PTR context, LPINT err) \
    { return ws2core_ops.query_blocking_callback(a * 8 + b, catalog, callback, context, err); }
#define WS2CORE_ENTRY_POINT_ROW(a) \
    WS2CORE_ENTRY_POINTS(a, 0) WS2CORE_ENTRY_POINTS(a, 1) WS2CORE_ENTRY_POINTS(a, 2) \
    WS2CORE_ENTRY_POINTS(a, 3) WS2CORE_ENTRY_POINTS(a, 4) WS2CORE_ENTRY_POINTS(a, 5) \
    WS2CORE_ENTRY_POINTS(a, 6) WS2CORE_ENTRY_POINTS(a, 7)
WS2CORE_ENTRY_POINT_ROW(0) WS2CORE_ENTRY_POINT_ROW(1) WS2CORE_ENTRY_POINT_ROW(2)
WS2CORE_ENTRY_POINT_ROW(3) WS2CORE_ENTRY_POINT_ROW(4) WS2CORE_ENTRY_POINT_ROW(5)
WS2CORE_ENTRY_POINT_ROW(6) WS2CORE_ENTRY_POINT_ROW(7)

#define WS2CORE_UPCALLS(a, b) { \
    ws2core_close_event_##a##b, ws2core_close_socket_##a##b, ws2core_create_event_##a##b, \
    ws2core_create_socket_##a##b, ws2core_fd_isset, ws2core_get_provider_path_##a##b, \
    ws2core_modify_ifs_handle_##a##b, ws2core_post_message_##a##b, \
    ws2core_query_blocking_callback_##a##b, \
    ws2core_query_context_##a##b, ws2core_queue_apc_##a##b, ws2core_reset_event_##a##b, \
    ws2core_set_event_##a##b, ws2core_open_thread_##a##b, ws2core_close_thread_##a##b }
#define WS2CORE_UPCALL_ROW(a) \
    WS2CORE_UPCALLS(a, 0), WS2CORE_UPCALLS(a, 1), WS2CORE_UPCALLS(a, 2), WS2CORE_UPCALLS(a, 3), \
    WS2CORE_UPCALLS(a, 4), WS2CORE_UPCALLS(a, 5), WS2CORE_UPCALLS(a, 6), WS2CORE_UPCALLS(a, 7)
/* What each set's table holds; a claimed set's table is copied from here, so a provider
   that scribbles on its table does not leave the damage to the next owner. */
static const WSPUPCALLTABLE ws2core_upcall_templates[64] = {
    WS2CORE_UPCALL_ROW(0), WS2CORE_UPCALL_ROW(1), WS2CORE_UPCALL_ROW(2), WS2CORE_UPCALL_ROW(3),
    WS2CORE_UPCALL_ROW(4), WS2CORE_UPCALL_ROW(5), WS2CORE_UPCALL_ROW(6), WS2CORE_UPCALL_ROW(7)
};
static WSPUPCALLTABLE ws2core_upcall_tables[64];

/* The alertable waits of each set (ws2core's own entry points, see WS2COREWAITTABLE). */
#define WS2CORE_WAITS(a, b) { ws2core_wait_##a##b, ws2core_sleep_##a##b }
#define WS2CORE_WAIT_ROW(a) \
    WS2CORE_WAITS(a, 0), WS2CORE_WAITS(a, 1), WS2CORE_WAITS(a, 2), WS2CORE_WAITS(a, 3), \
    WS2CORE_WAITS(a, 4), WS2CORE_WAITS(a, 5), WS2CORE_WAITS(a, 6), WS2CORE_WAITS(a, 7)
static const WS2COREWAITTABLE ws2core_wait_tables[64] = {
    WS2CORE_WAIT_ROW(0), WS2CORE_WAIT_ROW(1), WS2CORE_WAIT_ROW(2), WS2CORE_WAIT_ROW(3),
    WS2CORE_WAIT_ROW(4), WS2CORE_WAIT_ROW(5), WS2CORE_WAIT_ROW(6), WS2CORE_WAIT_ROW(7)
};

/* Each set's blocking callback, which its WPUQueryBlockingCallback hands out. */
#define WS2CORE_BLOCKING_ROW(a) \
    ws2core_blocking_callback_##a##0, ws2core_blocking_callback_##a##1, \
    ws2core_blocking_callback_##a##2, ws2core_blocking_callback_##a##3, \
    ws2core_blocking_callback_##a##4, ws2core_blocking_callback_##a##5, \
    ws2core_blocking_callback_##a##6, ws2core_blocking_callback_##a##7
static const LPBLOCKINGCALLBACK ws2core_blocking_callbacks[64] = {
    WS2CORE_BLOCKING_ROW(0), WS2CORE_BLOCKING_ROW(1), WS2CORE_BLOCKING_ROW(2),
    WS2CORE_BLOCKING_ROW(3), WS2CORE_BLOCKING_ROW(4), WS2CORE_BLOCKING_ROW(5),
    WS2CORE_BLOCKING_ROW(6), WS2CORE_BLOCKING_ROW(7)
};

#endif /* WS2CORE_NATIVE_H */
