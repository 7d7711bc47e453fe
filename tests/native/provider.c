/* tests/native/provider.c: a small Winsock "provider" in C, compiled at test time against the
 * header ws2core ships (<ws2core/ws2spi.h>), that drives ws2core's native WSPUPCALLTABLE.
 *
 * Plain C99 with POSIX threads; no Python.h.  The functions below are called from Python through
 * ctypes (tests/test_native.py, the benchmarks), which drops the GIL around each call, so every
 * upcall made here runs as it would in a real provider: on a thread that does not hold the GIL,
 * sometimes on a thread Python never created.
 *
 *   provider_check_all      every entry point, return value and error code, one report
 *   provider_check_apcs     thread handles, APCs and the alertable waits (WS2COREWAITTABLE),
 *                           on pthreads Python never saw
 *   provider_open_thread_and_sleep / provider_join_sleeper
 *                           a pthread that opens its thread id and sleeps alertably (Python
 *                           queues APCs to it)
 *   provider_layout         sizeof/offsetof facts, to check a ctypes mirror against the header
 *   provider_*              one-line wrappers, so Python can mix C-made and Python-made handles
 *   provider_layer_*        a layered provider's handles: made, mapped back, released
 *   provider_set_event_after / provider_join_setter
 *                           a pthread that sleeps, then sets an event (Python waits on it)
 *   provider_hammer         many pthreads creating, querying and closing at once
 *   provider_bench          ns per lookup, create+close, FD_ISSET miss, GIL round trip
 */
#define _GNU_SOURCE 1 /* RTLD_DEFAULT, nanosleep, clock_gettime */

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ws2core/ws2spi.h> /* after the host's headers: it defines fd_set as a macro */

#define EXPORT __attribute__((visibility("default")))

/* ----- reporting ------------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t size;
    size_t used;
    int failures;
    int shown;
} report_t;

static void report_init(report_t *r, char *buf, size_t size)
{
    r->buf = buf;
    r->size = buf ? size : 0;
    r->used = 0;
    r->failures = 0;
    r->shown = 0;
    if (r->size)
        r->buf[0] = '\0';
}

/* Append one line describing a failed check; only the first few are written. */
static void report_fail(report_t *r, int line, const char *fmt, ...)
{
    va_list ap;
    int n;
    r->failures++;
    if (r->shown >= 24 || r->used + 1 >= r->size)
        return;
    r->shown++;
    n = snprintf(r->buf + r->used, r->size - r->used, "provider.c:%d: ", line);
    if (n < 0 || (size_t)n >= r->size - r->used) {
        r->used = r->size - 1;
        return;
    }
    r->used += (size_t)n;
    va_start(ap, fmt);
    n = vsnprintf(r->buf + r->used, r->size - r->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= r->size - r->used) {
        r->used = r->size - 1;
        return;
    }
    r->used += (size_t)n;
    if (r->used + 1 < r->size) {
        r->buf[r->used++] = '\n';
        r->buf[r->used] = '\0';
    }
}

#define CHECK(r, cond, ...)                          \
    do {                                             \
        if (!(cond))                                 \
            report_fail((r), __LINE__, __VA_ARGS__); \
    } while (0)

#define ULL(x) ((unsigned long long)(x))
#define SENTINEL_ERR 0x5A5A
#define SENTINEL_CTX ((DWORD_PTR)0xDEADBEEFu)

/* ----- provider_check_all --------------------------------------------------------------- */

/* A query that must fail with WSAENOTSOCK, leaving *lpContext alone. */
static void expect_not_socket(report_t *r, const WSPUPCALLTABLE *up, SOCKET s, const char *what)
{
    DWORD_PTR ctx = SENTINEL_CTX;
    int err = SENTINEL_ERR;
    int rc = up->lpWPUQuerySocketHandleContext(s, &ctx, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAENOTSOCK,
          "query %s (0x%llx): rc %d err %d, want SOCKET_ERROR/WSAENOTSOCK", what, ULL(s), rc, err);
    CHECK(r, ctx == SENTINEL_CTX, "query %s wrote lpContext on failure (0x%llx)", what, ULL(ctx));
    rc = up->lpWPUQuerySocketHandleContext(s, &ctx, NULL);
    CHECK(r, rc == SOCKET_ERROR, "query %s with NULL lpErrno: rc %d", what, rc);
}

/* An event upcall that must fail with WSA_INVALID_HANDLE. */
static void expect_bad_event(report_t *r, LPWPUSETEVENT fn, const char *name, WSAEVENT e,
                             const char *what)
{
    int err = SENTINEL_ERR;
    BOOL ok = fn(e, &err);
    CHECK(r, ok == FALSE && err == WSA_INVALID_HANDLE,
          "%s(%s %p): %d err %d, want FALSE/WSA_INVALID_HANDLE", name, what, e, ok, err);
    ok = fn(e, NULL);
    CHECK(r, ok == FALSE, "%s(%s) with NULL lpErrno: %d", name, what, ok);
}

static void check_table_fields(report_t *r, const WSPUPCALLTABLE *up)
{
    /* Every field, by name, in the header's order. */
#define FIELD(name) CHECK(r, up->name != NULL, #name " is NULL")
    FIELD(lpWPUCloseEvent);
    FIELD(lpWPUCloseSocketHandle);
    FIELD(lpWPUCreateEvent);
    FIELD(lpWPUCreateSocketHandle);
    FIELD(lpWPUFDIsSet);
    FIELD(lpWPUGetProviderPath);
    FIELD(lpWPUModifyIFSHandle);
    FIELD(lpWPUPostMessage);
    FIELD(lpWPUQueryBlockingCallback);
    FIELD(lpWPUQuerySocketHandleContext);
    FIELD(lpWPUQueueApc);
    FIELD(lpWPUResetEvent);
    FIELD(lpWPUSetEvent);
    FIELD(lpWPUOpenCurrentThread);
    FIELD(lpWPUCloseThread);
#undef FIELD
}

static void check_sockets(report_t *r, const WSPUPCALLTABLE *up)
{
    static const DWORD_PTR contexts[] = {0x1234u, 0u, (DWORD_PTR)~(DWORD_PTR)0, 1u,
                                         (DWORD_PTR)1 << (sizeof(DWORD_PTR) * 8 - 1)};
    enum { N = sizeof contexts / sizeof contexts[0] };
    SOCKET s[N];
    size_t i, j;
    int err, rc;
    DWORD_PTR ctx;

    for (i = 0; i < N; i++) {
        err = SENTINEL_ERR;
        s[i] = up->lpWPUCreateSocketHandle((DWORD)(100 + i), contexts[i], &err);
        CHECK(r, s[i] != INVALID_SOCKET, "create #%zu: INVALID_SOCKET, err %d", i, err);
        CHECK(r, s[i] != 0 && s[i] % 4 == 0, "create #%zu: 0x%llx is not a nonzero multiple of 4",
              i, ULL(s[i]));
        CHECK(r, err == SENTINEL_ERR, "create #%zu wrote lpErrno on success (%d)", i, err);
        for (j = 0; j < i; j++)
            CHECK(r, s[i] != s[j], "create #%zu and #%zu both returned 0x%llx", i, j, ULL(s[i]));
    }
    for (i = 0; i < N; i++) {
        ctx = SENTINEL_CTX;
        err = SENTINEL_ERR;
        rc = up->lpWPUQuerySocketHandleContext(s[i], &ctx, &err);
        CHECK(r, rc == 0 && ctx == contexts[i], "query #%zu: rc %d ctx 0x%llx, want 0 and 0x%llx",
              i, rc, ULL(ctx), ULL(contexts[i]));
        CHECK(r, err == SENTINEL_ERR, "query #%zu wrote lpErrno on success (%d)", i, err);
        ctx = SENTINEL_CTX;
        rc = up->lpWPUQuerySocketHandleContext(s[i], &ctx, NULL);
        CHECK(r, rc == 0 && ctx == contexts[i], "query #%zu with NULL lpErrno: rc %d ctx 0x%llx",
              i, rc, ULL(ctx));
    }

    /* NULL lpContext on a live socket: WSAEFAULT; on a non-socket the socket check comes first. */
    err = SENTINEL_ERR;
    rc = up->lpWPUQuerySocketHandleContext(s[0], NULL, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAEFAULT,
          "query with NULL lpContext: rc %d err %d, want SOCKET_ERROR/WSAEFAULT", rc, err);
    rc = up->lpWPUQuerySocketHandleContext(s[0], NULL, NULL);
    CHECK(r, rc == SOCKET_ERROR, "query with NULL lpContext and NULL lpErrno: rc %d", rc);
    err = SENTINEL_ERR;
    rc = up->lpWPUQuerySocketHandleContext(4u * 1000003u, NULL, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAENOTSOCK,
          "query of an unknown handle with NULL lpContext: rc %d err %d", rc, err);

    /* Values that are no socket. */
    expect_not_socket(r, up, 0, "0");
    expect_not_socket(r, up, 1, "1");
    expect_not_socket(r, up, 3, "3");
    expect_not_socket(r, up, s[0] + 1, "s+1 (not a multiple of 4)");
    expect_not_socket(r, up, s[0] + 2, "s+2");
    expect_not_socket(r, up, s[0] | 3, "s|3");
    expect_not_socket(r, up, 4u * 1000003u, "an unknown multiple of 4");
    expect_not_socket(r, up, (SOCKET)0x100000000ull, "2**32");
    expect_not_socket(r, up, INVALID_SOCKET, "INVALID_SOCKET");
    expect_not_socket(r, up, INVALID_SOCKET - 3, "the largest multiple of 4");
    expect_not_socket(r, up, (SOCKET)1 << (sizeof(SOCKET) * 8 - 1), "2**63");

    /* Close: 0 once, then WSAENOTSOCK; the others stay. */
    err = SENTINEL_ERR;
    rc = up->lpWPUCloseSocketHandle(s[0], &err);
    CHECK(r, rc == 0 && err == SENTINEL_ERR, "close: rc %d err %d, want 0 and lpErrno untouched",
          rc, err);
    expect_not_socket(r, up, s[0], "a closed socket");
    err = SENTINEL_ERR;
    rc = up->lpWPUCloseSocketHandle(s[0], &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAENOTSOCK, "double close: rc %d err %d", rc, err);
    rc = up->lpWPUCloseSocketHandle(s[0], NULL);
    CHECK(r, rc == SOCKET_ERROR, "double close with NULL lpErrno: rc %d", rc);
    err = SENTINEL_ERR;
    rc = up->lpWPUCloseSocketHandle(s[1] + 1, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAENOTSOCK, "close of s+1: rc %d err %d", rc, err);
    err = SENTINEL_ERR;
    rc = up->lpWPUCloseSocketHandle(INVALID_SOCKET, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAENOTSOCK, "close of INVALID_SOCKET: rc %d err %d", rc,
          err);
    err = SENTINEL_ERR;
    rc = up->lpWPUCloseSocketHandle((SOCKET)1 << (sizeof(SOCKET) * 8 - 1), &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAENOTSOCK, "close of 2**63: rc %d err %d", rc, err);
    for (i = 1; i < N; i++) {
        ctx = SENTINEL_CTX;
        rc = up->lpWPUQuerySocketHandleContext(s[i], &ctx, &err);
        CHECK(r, rc == 0 && ctx == contexts[i], "after closing #0, query #%zu: rc %d ctx 0x%llx",
              i, rc, ULL(ctx));
        rc = up->lpWPUCloseSocketHandle(s[i], &err);
        CHECK(r, rc == 0, "close #%zu: rc %d err %d", i, rc, err);
        expect_not_socket(r, up, s[i], "a closed socket");
    }

    /* A closed value is not handed out again at once (ws2core quarantines it). */
    err = SENTINEL_ERR;
    s[0] = up->lpWPUCreateSocketHandle(1, 77, &err);
    CHECK(r, s[0] != INVALID_SOCKET, "create after closes: err %d", err);
    for (i = 1; i < N; i++)
        CHECK(r, s[0] != s[i], "a just-closed value 0x%llx came back", ULL(s[0]));
    rc = up->lpWPUCloseSocketHandle(s[0], &err);
    CHECK(r, rc == 0, "close: rc %d err %d", rc, err);
}

static void check_events(report_t *r, const WSPUPCALLTABLE *up)
{
    int err = SENTINEL_ERR, rc;
    BOOL ok;
    DWORD_PTR ctx;
    WSAEVENT e, e2;
    SOCKET s;

    e = up->lpWPUCreateEvent(&err);
    CHECK(r, e != WSA_INVALID_EVENT, "create event: NULL, err %d", err);
    CHECK(r, ((uintptr_t)e & 3) == 0, "event %p is not a multiple of 4", e);
    CHECK(r, err == SENTINEL_ERR, "create event wrote lpErrno on success (%d)", err);
    e2 = up->lpWPUCreateEvent(NULL);
    CHECK(r, e2 != WSA_INVALID_EVENT && e2 != e, "second event: %p (first %p)", e2, e);

#define EXPECT_TRUE(fn, ev)                                                                 \
    do {                                                                                    \
        err = SENTINEL_ERR;                                                                 \
        ok = up->fn((ev), &err);                                                            \
        CHECK(r, ok == TRUE && err == SENTINEL_ERR, #fn "(%p): %d err %d, want exactly TRUE", \
              (void *)(ev), ok, err);                                                       \
    } while (0)

    EXPECT_TRUE(lpWPUSetEvent, e);
    EXPECT_TRUE(lpWPUSetEvent, e); /* already set: still TRUE */
    EXPECT_TRUE(lpWPUResetEvent, e);
    EXPECT_TRUE(lpWPUResetEvent, e);
    EXPECT_TRUE(lpWPUSetEvent, e2);
    ok = up->lpWPUSetEvent(e, NULL);
    CHECK(r, ok == TRUE, "set with NULL lpErrno: %d", ok);

    /* An event is not a socket, a socket is not an event. */
    expect_not_socket(r, up, (SOCKET)(uintptr_t)e, "an event handle");
    err = SENTINEL_ERR;
    rc = up->lpWPUCloseSocketHandle((SOCKET)(uintptr_t)e, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAENOTSOCK, "close socket on an event: rc %d err %d",
          rc, err);
    EXPECT_TRUE(lpWPUResetEvent, e); /* the failed socket close left the event alive */

    s = up->lpWPUCreateSocketHandle(9, 0x5150u, &err);
    CHECK(r, s != INVALID_SOCKET, "create socket: err %d", err);
    expect_bad_event(r, up->lpWPUSetEvent, "set", (WSAEVENT)(uintptr_t)s, "a socket");
    expect_bad_event(r, up->lpWPUResetEvent, "reset", (WSAEVENT)(uintptr_t)s, "a socket");
    expect_bad_event(r, up->lpWPUCloseEvent, "close event", (WSAEVENT)(uintptr_t)s, "a socket");
    ctx = 0;
    rc = up->lpWPUQuerySocketHandleContext(s, &ctx, &err);
    CHECK(r, rc == 0 && ctx == 0x5150u, "socket after event upcalls on it: rc %d ctx 0x%llx", rc,
          ULL(ctx));
    rc = up->lpWPUCloseSocketHandle(s, &err);
    CHECK(r, rc == 0, "close socket: rc %d err %d", rc, err);

    expect_bad_event(r, up->lpWPUSetEvent, "set", WSA_INVALID_EVENT, "NULL");
    expect_bad_event(r, up->lpWPUResetEvent, "reset", WSA_INVALID_EVENT, "NULL");
    expect_bad_event(r, up->lpWPUCloseEvent, "close event", WSA_INVALID_EVENT, "NULL");
    expect_bad_event(r, up->lpWPUSetEvent, "set", (WSAEVENT)(uintptr_t)(4u * 1000003u),
                     "an unknown handle");
    expect_bad_event(r, up->lpWPUSetEvent, "set", (WSAEVENT)(uintptr_t)s, "a closed socket");
    expect_bad_event(r, up->lpWPUSetEvent, "set", (WSAEVENT)(~(uintptr_t)0 - 3),
                     "a huge handle");

    EXPECT_TRUE(lpWPUCloseEvent, e);
    expect_bad_event(r, up->lpWPUSetEvent, "set", e, "a closed event");
    expect_bad_event(r, up->lpWPUResetEvent, "reset", e, "a closed event");
    expect_bad_event(r, up->lpWPUCloseEvent, "close event", e, "a closed event");
    EXPECT_TRUE(lpWPUResetEvent, e2); /* the other event is untouched */
    ok = up->lpWPUCloseEvent(e2, NULL);
    CHECK(r, ok == TRUE, "close event with NULL lpErrno: %d", ok);
    expect_bad_event(r, up->lpWPUCloseEvent, "close event", e2, "a closed event");
#undef EXPECT_TRUE
}

static void check_cold_upcalls(report_t *r, const WSPUPCALLTABLE *up)
{
    int err, rc, length = 260;
    SOCKET s;
    BOOL ok;
    GUID guid;
    WCHAR path[260];
    WSATHREADID thread;
    LPBLOCKINGCALLBACK callback = NULL;
    DWORD_PTR ctx = 0;

    memset(&guid, 0, sizeof guid);
    memset(&thread, 0, sizeof thread);

    err = SENTINEL_ERR;
    rc = up->lpWPUGetProviderPath(&guid, path, &length, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAEINVAL, "WPUGetProviderPath: rc %d err %d", rc, err);
    CHECK(r, up->lpWPUGetProviderPath(NULL, NULL, NULL, NULL) == SOCKET_ERROR,
          "WPUGetProviderPath with NULLs");

    /* WPUModifyIFSHandle refuses a value with tag bits, a live socket and a closed one
       still in quarantine; NULL lpErrno allowed. */
    err = SENTINEL_ERR;
    s = up->lpWPUModifyIFSHandle(1, 6, &err);
    CHECK(r, s == INVALID_SOCKET && err == WSAEINVAL, "WPUModifyIFSHandle(6): 0x%llx err %d",
          ULL(s), err);
    CHECK(r, up->lpWPUModifyIFSHandle(1, 6, NULL) == INVALID_SOCKET, "WPUModifyIFSHandle NULL");
    err = SENTINEL_ERR;
    s = up->lpWPUCreateSocketHandle(1, 0, &err);
    CHECK(r, s != INVALID_SOCKET, "create socket for WPUModifyIFSHandle: err %d", err);
    if (s != INVALID_SOCKET) {
        err = SENTINEL_ERR;
        CHECK(r, up->lpWPUModifyIFSHandle(1, s, &err) == INVALID_SOCKET && err == WSAEINVAL,
              "WPUModifyIFSHandle of a live socket: err %d", err);
        up->lpWPUCloseSocketHandle(s, NULL);
        err = SENTINEL_ERR;
        CHECK(r, up->lpWPUModifyIFSHandle(1, s, &err) == INVALID_SOCKET && err == WSAEINVAL,
              "WPUModifyIFSHandle of a quarantined socket: err %d", err);
    }

    ok = up->lpWPUPostMessage(NULL, 0x400, 1, -1);
    CHECK(r, ok == FALSE, "WPUPostMessage to no window: %d, want FALSE", ok);

    /* A Winsock 2 process: no blocking callback (NULL, context 0), lpErrno 0 on success. */
    err = SENTINEL_ERR;
    callback = (LPBLOCKINGCALLBACK)1;
    ctx = 5;
    rc = up->lpWPUQueryBlockingCallback(1, &callback, &ctx, &err);
    CHECK(r, rc == 0 && err == 0 && callback == NULL && ctx == 0,
          "WPUQueryBlockingCallback: rc %d err %d ctx %llu", rc, err, ULL(ctx));
    err = SENTINEL_ERR;
    rc = up->lpWPUQueryBlockingCallback(1, NULL, NULL, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAEFAULT,
          "WPUQueryBlockingCallback with NULLs: rc %d err %d", rc, err);
}

static void apc_never_runs(DWORD_PTR context)
{
    (void)context;
    abort(); /* queued only where the queue must refuse it */
}

/* Thread ids without APCs (this may be the Python thread calling: nothing is queued to it). */
static void check_thread_ids(report_t *r, const WSPUPCALLTABLE *up)
{
    int err, rc;
    WSATHREADID thread, other, zero;

    memset(&zero, 0, sizeof zero);
    memset(&thread, 0xA5, sizeof thread);
    err = SENTINEL_ERR;
    rc = up->lpWPUOpenCurrentThread(&thread, &err);
    CHECK(r, rc == 0 && err == SENTINEL_ERR, "WPUOpenCurrentThread: rc %d err %d", rc, err);
    CHECK(r, thread.ThreadHandle != NULL && ((uintptr_t)thread.ThreadHandle & 3) == 0
          && thread.Reserved == 0, "WPUOpenCurrentThread filled %p, %llu", thread.ThreadHandle,
          ULL(thread.Reserved));
    CHECK(r, up->lpWPUOpenCurrentThread(&other, NULL) == 0, "second WPUOpenCurrentThread");
    CHECK(r, other.ThreadHandle != thread.ThreadHandle, "two opens, one handle");
    /* A thread handle is no socket and no event. */
    expect_not_socket(r, up, (SOCKET)(uintptr_t)thread.ThreadHandle, "a thread handle");
    expect_bad_event(r, up->lpWPUSetEvent, "set", thread.ThreadHandle, "a thread handle");

    err = SENTINEL_ERR;
    rc = up->lpWPUOpenCurrentThread(NULL, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAEFAULT, "WPUOpenCurrentThread(NULL): rc %d err %d",
          rc, err);
    err = SENTINEL_ERR;
    rc = up->lpWPUQueueApc(&thread, NULL, 0, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAEFAULT, "WPUQueueApc(NULL APC): rc %d err %d", rc, err);
    err = SENTINEL_ERR;
    rc = up->lpWPUQueueApc(NULL, apc_never_runs, 0, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAEFAULT, "WPUQueueApc(NULL id): rc %d err %d", rc, err);
    err = SENTINEL_ERR;
    rc = up->lpWPUQueueApc(&zero, apc_never_runs, 0, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAEFAULT, "WPUQueueApc(0): rc %d err %d", rc, err);
    CHECK(r, up->lpWPUQueueApc(NULL, NULL, 0, NULL) == SOCKET_ERROR, "WPUQueueApc with NULLs");

    err = SENTINEL_ERR;
    rc = up->lpWPUCloseThread(&thread, &err);
    CHECK(r, rc == 0 && err == SENTINEL_ERR, "WPUCloseThread: rc %d err %d", rc, err);
    err = SENTINEL_ERR;
    rc = up->lpWPUCloseThread(&thread, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAEFAULT, "WPUCloseThread twice: rc %d err %d", rc, err);
    err = SENTINEL_ERR;
    rc = up->lpWPUQueueApc(&thread, apc_never_runs, 0, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAEFAULT, "WPUQueueApc(closed): rc %d err %d", rc, err);
    err = SENTINEL_ERR;
    rc = up->lpWPUCloseThread(&zero, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAEFAULT, "WPUCloseThread(0): rc %d err %d", rc, err);
    err = SENTINEL_ERR;
    rc = up->lpWPUCloseThread(NULL, &err);
    CHECK(r, rc == SOCKET_ERROR && err == WSAEFAULT, "WPUCloseThread(NULL): rc %d err %d", rc, err);
    CHECK(r, up->lpWPUCloseThread(NULL, NULL) == SOCKET_ERROR, "WPUCloseThread NULL");
    CHECK(r, up->lpWPUCloseThread(&other, NULL) == 0, "close the second thread id");
}

static void check_fd_isset(report_t *r, const WSPUPCALLTABLE *up)
{
    fd_set set; /* ws2core_fd_set, through the header's macro, as a provider writes it */
    unsigned i;
    int err;
    SOCKET a = up->lpWPUCreateSocketHandle(3, 1, &err);
    SOCKET b = up->lpWPUCreateSocketHandle(3, 2, &err);
    SOCKET absent = up->lpWPUCreateSocketHandle(3, 3, &err);

    CHECK(r, a != INVALID_SOCKET && b != INVALID_SOCKET && absent != INVALID_SOCKET,
          "create for fd_set: err %d", err);
    memset(&set, 0, sizeof set);
    set.fd_array[0] = a;
    set.fd_array[1] = 12345; /* not a socket of the table: FD_ISSET does not care */
    set.fd_array[2] = b;
    set.fd_array[3] = absent; /* beyond fd_count: not a member */
    set.fd_count = 3;
    CHECK(r, up->lpWPUFDIsSet(a, &set) == 1, "FD_ISSET first entry");
    CHECK(r, up->lpWPUFDIsSet(b, &set) == 1, "FD_ISSET last entry");
    CHECK(r, up->lpWPUFDIsSet(12345, &set) == 1, "FD_ISSET of a value no socket has");
    CHECK(r, up->lpWPUFDIsSet(absent, &set) == 0, "FD_ISSET of an entry beyond fd_count");
    CHECK(r, up->lpWPUFDIsSet(a + 4 * 1000, &set) == 0, "FD_ISSET miss");
    CHECK(r, up->lpWPUFDIsSet(0, &set) == 0, "FD_ISSET of 0 (fd_array past fd_count is zeros)");
    CHECK(r, up->lpWPUFDIsSet(INVALID_SOCKET, &set) == 0, "FD_ISSET of INVALID_SOCKET");
    set.fd_count = 0;
    CHECK(r, up->lpWPUFDIsSet(a, &set) == 0, "FD_ISSET on an empty set (fd_count 0)");
    CHECK(r, up->lpWPUFDIsSet(a, NULL) == 0, "FD_ISSET on a NULL set");
    for (i = 0; i < WS2CORE_FD_SETSIZE; i++)
        set.fd_array[i] = 4u * (i + 5000u);
    set.fd_count = WS2CORE_FD_SETSIZE;
    CHECK(r, up->lpWPUFDIsSet(4u * (WS2CORE_FD_SETSIZE - 1 + 5000u), &set) == 1,
          "FD_ISSET last entry of a full set");
    CHECK(r, up->lpWPUFDIsSet(4u * 4999u, &set) == 0, "FD_ISSET miss on a full set");
    /* The result is exactly 1, not just nonzero. */
    CHECK(r, up->lpWPUFDIsSet(4u * 5000u, &set) == 1, "FD_ISSET first entry of a full set");

    CHECK(r, up->lpWPUCloseSocketHandle(a, &err) == 0, "close a");
    CHECK(r, up->lpWPUCloseSocketHandle(b, &err) == 0, "close b");
    CHECK(r, up->lpWPUCloseSocketHandle(absent, &err) == 0, "close absent");
}

/* Runs every check; returns the number that failed, with the first ones described in report. */
EXPORT int provider_check_all(const WSPUPCALLTABLE *up, char *report, size_t report_size)
{
    report_t r;
    report_init(&r, report, report_size);
    if (up == NULL) {
        report_fail(&r, __LINE__, "the table pointer is NULL");
        return r.failures;
    }
    check_table_fields(&r, up);
    if (r.failures)
        return r.failures; /* calling through a NULL pointer would crash the test run */
    check_sockets(&r, up);
    check_events(&r, up);
    check_cold_upcalls(&r, up);
    check_thread_ids(&r, up);
    check_fd_isset(&r, up);
    return r.failures;
}

/* ----- APCs and alertable waits ------------------------------------------------------------ */

/* What the APCs below record: the contexts in the order they ran, and the thread each ran on. */
static struct {
    DWORD_PTR log[16];
    pthread_t ran_on[16];
    int count;
} apc_record;

static void apc_record_run(DWORD_PTR context)
{
    if (apc_record.count < 16) {
        apc_record.ran_on[apc_record.count] = pthread_self();
        apc_record.log[apc_record.count++] = context;
    }
}

typedef struct {
    const WSPUPCALLTABLE *up;
    const WS2COREWAITTABLE *waits;
    report_t *r;
    WSATHREADID id;
    volatile int opened;   /* the subject's id is in `id` */
    DWORD woken;           /* what the subject's long alertable sleep returned */
    double slept_ms;
} apc_subject_t;

static void sleep_ms(unsigned ms);

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* On a pthread Python never saw: APCs run only in its alertable waits, in queue order, after
   an event that is already signalled has won; then it sleeps alertably until woken. */
static void *apc_subject_main(void *arg)
{
    apc_subject_t *me = (apc_subject_t *)arg;
    const WSPUPCALLTABLE *up = me->up;
    const WS2COREWAITTABLE *waits = me->waits;
    report_t *r = me->r;
    int err = 0;
    DWORD rc;
    WSAEVENT e = up->lpWPUCreateEvent(&err), closed = up->lpWPUCreateEvent(&err);
    WSAEVENT events[2];
    double start;

    CHECK(r, up->lpWPUOpenCurrentThread(&me->id, &err) == 0, "open the subject: err %d", err);
    CHECK(r, up->lpWPUCloseEvent(closed, &err) == TRUE, "close an event");
    for (DWORD_PTR i = 1; i <= 3; i++)
        CHECK(r, up->lpWPUQueueApc(&me->id, apc_record_run, i, &err) == 0, "queue %d: err %d",
              (int)i, err);

    rc = waits->lpSleepEx(0, FALSE, &err);
    CHECK(r, rc == 0 && apc_record.count == 0, "non-alertable SleepEx: %u, %d ran", rc,
          apc_record.count);
    events[0] = e;
    rc = waits->lpWaitForMultipleEvents(1, events, FALSE, 0, FALSE, &err);
    CHECK(r, rc == WSA_WAIT_TIMEOUT && apc_record.count == 0, "non-alertable poll: %u, %d ran",
          rc, apc_record.count);
    rc = waits->lpWaitForMultipleEvents(1, events, FALSE, 20, FALSE, &err);
    CHECK(r, rc == WSA_WAIT_TIMEOUT && apc_record.count == 0, "non-alertable wait: %u, %d ran",
          rc, apc_record.count);
    CHECK(r, up->lpWPUSetEvent(e, &err) == TRUE, "set");
    rc = waits->lpWaitForMultipleEvents(1, events, FALSE, 0, TRUE, &err);
    CHECK(r, rc == WSA_WAIT_EVENT_0 && apc_record.count == 0,
          "a signalled event wins over APCs: %u, %d ran", rc, apc_record.count);
    CHECK(r, up->lpWPUResetEvent(e, &err) == TRUE, "reset");
    rc = waits->lpWaitForMultipleEvents(1, events, FALSE, WSA_INFINITE, TRUE, &err);
    CHECK(r, rc == WSA_WAIT_IO_COMPLETION, "alertable wait: %u", rc);
    CHECK(r, apc_record.count == 3 && apc_record.log[0] == 1 && apc_record.log[1] == 2
          && apc_record.log[2] == 3, "APCs in queue order: %d ran", apc_record.count);
    for (int i = 0; i < apc_record.count; i++)
        CHECK(r, pthread_equal(apc_record.ran_on[i], pthread_self()), "APC %d on another thread", i);
    rc = waits->lpSleepEx(0, TRUE, &err);
    CHECK(r, rc == 0 && apc_record.count == 3, "alertable SleepEx with nothing queued: %u", rc);

    err = SENTINEL_ERR;
    rc = waits->lpWaitForMultipleEvents(0, events, FALSE, 0, TRUE, &err);
    CHECK(r, rc == WSA_WAIT_FAILED && err == WSA_INVALID_PARAMETER, "0 events: %u err %d", rc, err);
    err = SENTINEL_ERR;
    rc = waits->lpWaitForMultipleEvents(65, events, FALSE, 0, TRUE, &err);
    CHECK(r, rc == WSA_WAIT_FAILED && err == WSA_INVALID_PARAMETER, "65 events: %u err %d", rc, err);
    err = SENTINEL_ERR;
    rc = waits->lpWaitForMultipleEvents(1, NULL, FALSE, 0, TRUE, &err);
    CHECK(r, rc == WSA_WAIT_FAILED && err == WSA_INVALID_PARAMETER, "NULL events: %u err %d", rc, err);
    events[1] = closed;
    err = SENTINEL_ERR;
    rc = waits->lpWaitForMultipleEvents(2, events, FALSE, 0, TRUE, &err);
    CHECK(r, rc == WSA_WAIT_FAILED && err == WSA_INVALID_HANDLE, "a closed event: %u err %d", rc, err);
    CHECK(r, waits->lpWaitForMultipleEvents(0, events, FALSE, 0, TRUE, NULL) == WSA_WAIT_FAILED,
          "a failed wait with a NULL lpErrno");
    CHECK(r, up->lpWPUCloseEvent(e, &err) == TRUE, "close e");

    /* Woken by an APC from another thread, well before the sleep would end. */
    start = now_ms();
    me->opened = 1;
    __sync_synchronize();
    me->woken = waits->lpSleepEx(10000, TRUE, &err);
    me->slept_ms = now_ms() - start;
    return NULL;
}

/* Runs the APC checks: a subject pthread waits, this thread (any thread) queues.  Returns the
   number of failed checks, the first ones described in report; *wake_ms is how long the
   subject's alertable sleep lasted after the cross-thread APC was queued. */
EXPORT int provider_check_apcs(const WSPUPCALLTABLE *up, const WS2COREWAITTABLE *waits,
                               char *report, size_t report_size, double *wake_ms)
{
    report_t r;
    apc_subject_t subject;
    pthread_t thread;
    int err = 0;
    double queued;

    report_init(&r, report, report_size);
    memset(&subject, 0, sizeof subject);
    memset(&apc_record, 0, sizeof apc_record);
    subject.up = up;
    subject.waits = waits;
    subject.r = &r;
    if (pthread_create(&thread, NULL, apc_subject_main, &subject) != 0) {
        report_fail(&r, __LINE__, "pthread_create failed");
        return r.failures;
    }
    while (!subject.opened)
        sleep_ms(1);
    sleep_ms(50); /* into its sleep, most likely */
    queued = now_ms();
    CHECK(&r, up->lpWPUQueueApc(&subject.id, apc_record_run, 4, &err) == 0,
          "cross-thread queue: err %d", err);
    pthread_join(thread, NULL);
    *wake_ms = now_ms() - queued;
    CHECK(&r, subject.woken == WSA_WAIT_IO_COMPLETION, "cross-thread wake: %u", subject.woken);
    CHECK(&r, subject.slept_ms < 5000, "the subject slept %.0f ms, not woken", subject.slept_ms);
    CHECK(&r, apc_record.count == 4 && apc_record.log[3] == 4
          && pthread_equal(apc_record.ran_on[3], thread), "cross-thread APC: %d ran",
          apc_record.count);
    CHECK(&r, up->lpWPUCloseThread(&subject.id, &err) == 0, "close the subject's id: err %d", err);
    err = SENTINEL_ERR;
    CHECK(&r, up->lpWPUQueueApc(&subject.id, apc_never_runs, 0, &err) == SOCKET_ERROR
          && err == WSAEFAULT, "queue to a closed id: err %d", err);
    return r.failures;
}

/* A pthread that opens its thread id into *id, then sleeps alertably for up to `ms`, for
   Python to queue APCs to; provider_join_sleeper gives what the sleep returned. */
typedef struct {
    const WSPUPCALLTABLE *up;
    const WS2COREWAITTABLE *waits;
    WSATHREADID *id;
    unsigned ms;
    volatile int opened;
    DWORD result;
    int err;
    pthread_t thread;
} sleeper_t;

static sleeper_t sleeper;

static void *sleeper_main(void *arg)
{
    sleeper_t *me = (sleeper_t *)arg;
    me->err = 0;
    if (me->up->lpWPUOpenCurrentThread(me->id, &me->err) != 0) {
        me->result = WSA_WAIT_FAILED;
        me->opened = 1;
        return NULL;
    }
    me->opened = 1;
    __sync_synchronize();
    me->result = me->waits->lpSleepEx(me->ms, TRUE, &me->err);
    return NULL;
}

EXPORT int provider_open_thread_and_sleep(const WSPUPCALLTABLE *up, const WS2COREWAITTABLE *waits,
                                          WSATHREADID *id, unsigned ms)
{
    memset(&sleeper, 0, sizeof sleeper);
    sleeper.up = up;
    sleeper.waits = waits;
    sleeper.id = id;
    sleeper.ms = ms;
    if (pthread_create(&sleeper.thread, NULL, sleeper_main, &sleeper) != 0)
        return -1;
    while (!sleeper.opened)
        sleep_ms(1);
    return 0;
}

EXPORT DWORD provider_join_sleeper(int *err)
{
    pthread_join(sleeper.thread, NULL);
    *err = sleeper.err;
    return sleeper.result;
}

/* ----- layout facts --------------------------------------------------------------------- */

EXPORT void provider_layout(size_t *table_size, size_t *fd_set_size, size_t *fd_array_offset,
                            size_t *socket_size, size_t *query_field_offset)
{
    *table_size = sizeof(WSPUPCALLTABLE);
    *fd_set_size = sizeof(fd_set);
    *fd_array_offset = offsetof(fd_set, fd_array);
    *socket_size = sizeof(SOCKET);
    *query_field_offset = offsetof(WSPUPCALLTABLE, lpWPUQuerySocketHandleContext);
}

/* ----- wrappers: one upcall each, so Python can mix handles made on either side ---------- */

EXPORT SOCKET provider_create_socket(const WSPUPCALLTABLE *up, DWORD catalog, DWORD_PTR context,
                                     int *err)
{
    return up->lpWPUCreateSocketHandle(catalog, context, err);
}

EXPORT int provider_query_context(const WSPUPCALLTABLE *up, SOCKET s, DWORD_PTR *context, int *err)
{
    return up->lpWPUQuerySocketHandleContext(s, context, err);
}

EXPORT int provider_close_socket(const WSPUPCALLTABLE *up, SOCKET s, int *err)
{
    return up->lpWPUCloseSocketHandle(s, err);
}

EXPORT WSAEVENT provider_create_event(const WSPUPCALLTABLE *up, int *err)
{
    return up->lpWPUCreateEvent(err);
}

EXPORT BOOL provider_set_event(const WSPUPCALLTABLE *up, WSAEVENT e, int *err)
{
    return up->lpWPUSetEvent(e, err);
}

EXPORT BOOL provider_reset_event(const WSPUPCALLTABLE *up, WSAEVENT e, int *err)
{
    return up->lpWPUResetEvent(e, err);
}

EXPORT BOOL provider_close_event(const WSPUPCALLTABLE *up, WSAEVENT e, int *err)
{
    return up->lpWPUCloseEvent(e, err);
}

/* WPUFDIsSet on a C fd_set built here from handles[0..count) (count <= FD_SETSIZE). */
EXPORT int provider_fd_isset_built(const WSPUPCALLTABLE *up, SOCKET s, const SOCKET *handles,
                                   unsigned count)
{
    fd_set set;
    unsigned i;
    if (count > WS2CORE_FD_SETSIZE)
        return -1;
    memset(&set, 0, sizeof set);
    for (i = 0; i < count; i++)
        set.fd_array[i] = handles[i];
    set.fd_count = count;
    return up->lpWPUFDIsSet(s, &set);
}

/* WPUFDIsSet on caller memory in the fd_set layout (a ws2core.FdSet's buffer, say). */
EXPORT int provider_fd_isset(const WSPUPCALLTABLE *up, SOCKET s, fd_set *set)
{
    return up->lpWPUFDIsSet(s, set);
}

/* ----- a layer's handles, as a non-IFS layered provider keeps them ---------------------------
 * Its WSPSocket and WSPAccept wrap the lower layer's socket in a handle of the layer's own
 * catalog entry whose context is that lower socket (the WPUCreateSocketHandle page: every call
 * on the handle then comes to the layer); each later call maps the handle back through
 * WPUQuerySocketHandleContext; WSPCloseSocket releases the handle, then closes the lower
 * socket.  tests/test_native.py's NativeHandleLayer keeps its handles with these. */

EXPORT SOCKET provider_layer_wrap(const WSPUPCALLTABLE *up, DWORD layered_entry, SOCKET lower,
                                  int *err)
{
    if (lower == INVALID_SOCKET) {
        *err = WSAEINVAL;
        return INVALID_SOCKET;
    }
    return up->lpWPUCreateSocketHandle(layered_entry, (DWORD_PTR)lower, err);
}

/* The lower socket behind the layer's handle s, or INVALID_SOCKET with the code in *err. */
EXPORT SOCKET provider_layer_lower(const WSPUPCALLTABLE *up, SOCKET s, int *err)
{
    DWORD_PTR context = 0;
    if (up->lpWPUQuerySocketHandleContext(s, &context, err) != 0)
        return INVALID_SOCKET;
    return (SOCKET)context;
}

/* Release the layer's handle s: the lower socket it stood for (the caller closes it next), or
 * INVALID_SOCKET with the code in *err. */
EXPORT SOCKET provider_layer_unwrap(const WSPUPCALLTABLE *up, SOCKET s, int *err)
{
    SOCKET lower = provider_layer_lower(up, s, err);
    if (lower == INVALID_SOCKET || up->lpWPUCloseSocketHandle(s, err) != 0)
        return INVALID_SOCKET;
    return lower;
}

/* ----- a thread Python never created sets an event --------------------------------------- */

enum { SETTERS = 32 };

typedef struct {
    int in_use;
    pthread_t thread;
    const WSPUPCALLTABLE *up;
    WSAEVENT event;
    unsigned delay_ms;
    BOOL result;
    int err;
} setter_t;

static setter_t setters[SETTERS];
static pthread_mutex_t setters_lock = PTHREAD_MUTEX_INITIALIZER;

static void sleep_ms(unsigned ms)
{
    struct timespec t;
    t.tv_sec = (time_t)(ms / 1000u);
    t.tv_nsec = (long)(ms % 1000u) * 1000000L;
    while (nanosleep(&t, &t) != 0) {
    }
}

static void *setter_main(void *arg)
{
    setter_t *me = (setter_t *)arg;
    me->err = 0;
    sleep_ms(me->delay_ms);
    me->result = me->up->lpWPUSetEvent(me->event, &me->err);
    return NULL;
}

/* Starts a pthread that sleeps delay_ms, then calls lpWPUSetEvent(e).  Returns an id for
   provider_join_setter, or -1 (no free record, or pthread_create failed). */
EXPORT int provider_set_event_after(const WSPUPCALLTABLE *up, WSAEVENT e, unsigned delay_ms)
{
    int id;
    pthread_mutex_lock(&setters_lock);
    for (id = 0; id < SETTERS; id++)
        if (!setters[id].in_use)
            break;
    if (id == SETTERS) {
        pthread_mutex_unlock(&setters_lock);
        return -1;
    }
    setters[id].in_use = 1;
    pthread_mutex_unlock(&setters_lock);
    setters[id].up = up;
    setters[id].event = e;
    setters[id].delay_ms = delay_ms;
    setters[id].result = -1;
    setters[id].err = 0;
    if (pthread_create(&setters[id].thread, NULL, setter_main, &setters[id]) != 0) {
        pthread_mutex_lock(&setters_lock);
        setters[id].in_use = 0;
        pthread_mutex_unlock(&setters_lock);
        return -1;
    }
    return id;
}

/* Joins setter `id`; returns what lpWPUSetEvent returned (TRUE/FALSE), its lpErrno in *err, or
   -1 for an id that is not running. */
EXPORT int provider_join_setter(int id, int *err)
{
    BOOL result;
    if (id < 0 || id >= SETTERS || !setters[id].in_use)
        return -1;
    pthread_join(setters[id].thread, NULL);
    result = setters[id].result;
    if (err)
        *err = setters[id].err;
    pthread_mutex_lock(&setters_lock);
    setters[id].in_use = 0;
    pthread_mutex_unlock(&setters_lock);
    return result;
}

/* ----- hammer ----------------------------------------------------------------------------- */

/* Contexts made here: HAMMER_C_TAG in the top 16 bits, then the thread, then the iteration.
   Python threads hammering the same table use HAMMER_PY_TAG the same way, so any context a
   lookup returns can be told valid (one of those) from garbage (a torn or stale read). */
#define HAMMER_C_TAG 0xC0DEu
#define HAMMER_PY_TAG 0x5059u
#define HAMMER_MAX_THREADS 64
#define HAMMER_RING 8

EXPORT unsigned provider_hammer_c_tag(void) { return HAMMER_C_TAG; }
EXPORT unsigned provider_hammer_py_tag(void) { return HAMMER_PY_TAG; }

typedef struct {
    const WSPUPCALLTABLE *up;
    int id, threads;
    long iterations;
    DWORD catalog;
    long violations;
    pthread_t thread;
} hammer_t;

static SOCKET hammer_recent[HAMMER_MAX_THREADS]; /* each thread's newest socket, published */
static char hammer_first[512];
static pthread_mutex_t hammer_lock = PTHREAD_MUTEX_INITIALIZER;

static void hammer_violation(hammer_t *h, int line, const char *fmt, ...)
{
    va_list ap;
    int n;
    h->violations++;
    pthread_mutex_lock(&hammer_lock);
    if (hammer_first[0] == '\0') {
        n = snprintf(hammer_first, sizeof hammer_first, "thread %d, provider.c:%d: ", h->id, line);
        if (n > 0 && (size_t)n < sizeof hammer_first) {
            va_start(ap, fmt);
            vsnprintf(hammer_first + n, sizeof hammer_first - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    pthread_mutex_unlock(&hammer_lock);
}

#define VIOLATION_IF(h, cond, ...)                          \
    do {                                                    \
        if (cond)                                           \
            hammer_violation((h), __LINE__, __VA_ARGS__);   \
    } while (0)

static uint64_t xorshift(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static DWORD_PTR hammer_context(int thread, long iteration)
{
    return (DWORD_PTR)(((uint64_t)HAMMER_C_TAG << 48) | ((uint64_t)(unsigned)thread << 32) |
                       (uint64_t)(uint32_t)iteration);
}

/* Whether a context read for a socket this thread does not own is one some thread made. */
static int hammer_plausible(const hammer_t *h, DWORD_PTR context)
{
    uint64_t c = (uint64_t)context;
    unsigned tag = (unsigned)(c >> 48);
    unsigned thread = (unsigned)((c >> 32) & 0xFFFFu);
    uint32_t serial = (uint32_t)c;
    if (tag == HAMMER_C_TAG)
        return thread < (unsigned)h->threads && (long)serial < h->iterations;
    if (tag == HAMMER_PY_TAG)
        return thread < 256u;
    return 0;
}

/* A lookup of a socket someone else may own: WSAENOTSOCK, or success with a plausible context. */
static void hammer_foreign_query(hammer_t *h, SOCKET s)
{
    DWORD_PTR ctx = SENTINEL_CTX;
    int err = SENTINEL_ERR;
    int rc = h->up->lpWPUQuerySocketHandleContext(s, &ctx, &err);
    if (rc == 0) {
        VIOLATION_IF(h, !hammer_plausible(h, ctx), "foreign query 0x%llx: context 0x%llx is garbage",
                     ULL(s), ULL(ctx));
        VIOLATION_IF(h, err != SENTINEL_ERR, "foreign query 0x%llx: lpErrno written on success",
                     ULL(s));
    } else {
        VIOLATION_IF(h, rc != SOCKET_ERROR || err != WSAENOTSOCK,
                     "foreign query 0x%llx: rc %d err %d", ULL(s), rc, err);
        VIOLATION_IF(h, ctx != SENTINEL_CTX, "foreign query 0x%llx: lpContext written on failure",
                     ULL(s));
    }
}

static void *hammer_main(void *arg)
{
    hammer_t *h = (hammer_t *)arg;
    const WSPUPCALLTABLE *up = h->up;
    SOCKET ring[HAMMER_RING];
    DWORD_PTR ring_ctx[HAMMER_RING];
    uint64_t rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(h->id + 1) * 0xBF58476D1CE4E5B9ull);
    SOCKET highest = 4;
    long i;
    int k, err, rc;
    BOOL ok;
    DWORD_PTR ctx;

    memset(ring, 0, sizeof ring);
    memset(ring_ctx, 0, sizeof ring_ctx);
    for (i = 0; i < h->iterations; i++) {
        int slot = (int)(i % HAMMER_RING);
        DWORD_PTR mine = hammer_context(h->id, i);
        SOCKET s;

        /* Retire the oldest socket of the ring: it must still be ours, then it goes. */
        if (ring[slot]) {
            ctx = 0;
            rc = up->lpWPUQuerySocketHandleContext(ring[slot], &ctx, &err);
            VIOLATION_IF(h, rc != 0 || ctx != ring_ctx[slot],
                         "own socket 0x%llx: rc %d ctx 0x%llx, want 0x%llx", ULL(ring[slot]), rc,
                         ULL(ctx), ULL(ring_ctx[slot]));
            err = SENTINEL_ERR;
            rc = up->lpWPUCloseSocketHandle(ring[slot], &err);
            VIOLATION_IF(h, rc != 0, "close own socket 0x%llx: rc %d err %d", ULL(ring[slot]), rc,
                         err);
            ring[slot] = 0;
        }

        err = SENTINEL_ERR;
        s = up->lpWPUCreateSocketHandle(h->catalog, mine, &err);
        if (s == INVALID_SOCKET) {
            hammer_violation(h, __LINE__, "create: INVALID_SOCKET, err %d", err);
            continue;
        }
        VIOLATION_IF(h, s == 0 || s % 4 != 0, "create returned 0x%llx", ULL(s));
        VIOLATION_IF(h, err != SENTINEL_ERR, "create wrote lpErrno on success");
        if (s > highest)
            highest = s;
        __atomic_store_n(&hammer_recent[h->id], s, __ATOMIC_RELEASE);
        ring[slot] = s;
        ring_ctx[slot] = mine;

        ctx = 0;
        err = SENTINEL_ERR;
        rc = up->lpWPUQuerySocketHandleContext(s, &ctx, &err);
        VIOLATION_IF(h, rc != 0 || ctx != mine, "own new socket 0x%llx: rc %d ctx 0x%llx err %d",
                     ULL(s), rc, ULL(ctx), err);

        /* Lookups of sockets other threads (C and Python) own, or once owned. */
        for (k = 1; k < h->threads && k <= 3; k++) {
            SOCKET other = __atomic_load_n(&hammer_recent[(h->id + k) % h->threads], __ATOMIC_ACQUIRE);
            if (other)
                hammer_foreign_query(h, other);
        }
        hammer_foreign_query(h, 4u * (SOCKET)(1 + xorshift(&rng) % (uint64_t)(highest / 4 + 64)));
        {
            /* Never sockets: not a multiple of 4, or far beyond anything made. */
            SOCKET odd = 4u * (SOCKET)(1 + xorshift(&rng) % 4096u) + 1u + (SOCKET)(i % 3);
            SOCKET huge = ((SOCKET)xorshift(&rng) | ((SOCKET)1 << 40)) & ~(SOCKET)3;
            ctx = SENTINEL_CTX;
            rc = up->lpWPUQuerySocketHandleContext(odd, &ctx, &err);
            VIOLATION_IF(h, rc != SOCKET_ERROR || err != WSAENOTSOCK, "query 0x%llx: rc %d err %d",
                         ULL(odd), rc, err);
            rc = up->lpWPUQuerySocketHandleContext(huge, &ctx, &err);
            VIOLATION_IF(h, rc != SOCKET_ERROR || err != WSAENOTSOCK, "query 0x%llx: rc %d err %d",
                         ULL(huge), rc, err);
            VIOLATION_IF(h, ctx != SENTINEL_CTX, "failed query wrote lpContext");
        }

        if (i % 4 == 0) {
            WSAEVENT e;
            err = SENTINEL_ERR;
            e = up->lpWPUCreateEvent(&err);
            if (e == WSA_INVALID_EVENT) {
                hammer_violation(h, __LINE__, "create event: NULL, err %d", err);
            } else {
                ok = up->lpWPUSetEvent(e, &err);
                VIOLATION_IF(h, ok != TRUE, "set own event: %d err %d", ok, err);
                ok = up->lpWPUResetEvent(e, &err);
                VIOLATION_IF(h, ok != TRUE, "reset own event: %d err %d", ok, err);
                /* Wrong kinds, on handles only this thread holds: deterministic failures. */
                err = SENTINEL_ERR;
                ok = up->lpWPUSetEvent((WSAEVENT)(uintptr_t)s, &err);
                VIOLATION_IF(h, ok != FALSE || err != WSA_INVALID_HANDLE,
                             "set on own socket: %d err %d", ok, err);
                err = SENTINEL_ERR;
                rc = up->lpWPUCloseSocketHandle((SOCKET)(uintptr_t)e, &err);
                VIOLATION_IF(h, rc != SOCKET_ERROR || err != WSAENOTSOCK,
                             "close socket on own event: rc %d err %d", rc, err);
                hammer_foreign_query(h, (SOCKET)(uintptr_t)e);
                ok = up->lpWPUCloseEvent(e, &err);
                VIOLATION_IF(h, ok != TRUE, "close own event: %d err %d", ok, err);
            }
        }
    }
    for (k = 0; k < HAMMER_RING; k++) {
        if (!ring[k])
            continue;
        ctx = 0;
        rc = up->lpWPUQuerySocketHandleContext(ring[k], &ctx, &err);
        VIOLATION_IF(h, rc != 0 || ctx != ring_ctx[k], "own socket at the end: rc %d", rc);
        rc = up->lpWPUCloseSocketHandle(ring[k], &err);
        VIOLATION_IF(h, rc != 0, "final close: rc %d err %d", rc, err);
    }
    return NULL;
}

/* `threads` pthreads of `iterations` each on one table; returns the invariant violations found
   (0 is the pass), or -1 when the threads could not be started.  Every socket a thread makes
   it closes again before it ends.  provider_hammer_report describes the first violation. */
EXPORT long provider_hammer(const WSPUPCALLTABLE *up, int threads, long iterations, DWORD catalog)
{
    hammer_t h[HAMMER_MAX_THREADS];
    int i, started = 0;
    long violations = 0;

    if (threads < 1 || threads > HAMMER_MAX_THREADS || iterations < 0)
        return -1;
    pthread_mutex_lock(&hammer_lock);
    hammer_first[0] = '\0';
    pthread_mutex_unlock(&hammer_lock);
    for (i = 0; i < HAMMER_MAX_THREADS; i++)
        __atomic_store_n(&hammer_recent[i], (SOCKET)0, __ATOMIC_RELAXED);
    for (i = 0; i < threads; i++) {
        h[i].up = up;
        h[i].id = i;
        h[i].threads = threads;
        h[i].iterations = iterations;
        h[i].catalog = catalog;
        h[i].violations = 0;
        if (pthread_create(&h[i].thread, NULL, hammer_main, &h[i]) != 0)
            break;
        started++;
    }
    for (i = 0; i < started; i++) {
        pthread_join(h[i].thread, NULL);
        violations += h[i].violations;
    }
    return started == threads ? violations : -1;
}

EXPORT void provider_hammer_report(char *buf, size_t size)
{
    if (size == 0)
        return;
    pthread_mutex_lock(&hammer_lock);
    snprintf(buf, size, "%s", hammer_first);
    pthread_mutex_unlock(&hammer_lock);
}

/* ----- bench ------------------------------------------------------------------------------ */

typedef int (*gil_ensure_fn)(void);   /* PyGILState_STATE PyGILState_Ensure(void) */
typedef void (*gil_release_fn)(int);  /* void PyGILState_Release(PyGILState_STATE) */

typedef struct {
    const WSPUPCALLTABLE *up;
    long iterations;
    double lookup_ns, create_close_ns, fd_isset_ns, gil_ns;
    int status;
} bench_t;

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static volatile uint64_t bench_sink;

static void *bench_main(void *arg)
{
    bench_t *b = (bench_t *)arg;
    const WSPUPCALLTABLE *up = b->up;
    long n = b->iterations, slow = b->iterations / 20 > 0 ? b->iterations / 20 : 1, i;
    uint64_t sum = 0;
    unsigned j;
    int err, failed = 0;
    double t0;
    DWORD_PTR ctx = 0;
    SOCKET s;
    fd_set set;
    void *sym_ensure, *sym_release;
    gil_ensure_fn ensure;
    gil_release_fn release;

    b->status = 0;
    s = up->lpWPUCreateSocketHandle(1, (DWORD_PTR)0xB0B0u, &err);
    if (s == INVALID_SOCKET) {
        b->status = 1;
        return NULL;
    }

    /* Lookups of one live socket; the sum of what they return goes to a volatile. */
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        failed |= up->lpWPUQuerySocketHandleContext(s, &ctx, &err);
        sum += ctx;
    }
    b->lookup_ns = (now_ns() - t0) / (double)n;
    bench_sink = sum;
    if (failed || sum != (uint64_t)n * 0xB0B0u)
        b->status = 2;

    /* WPUFDIsSet misses on a full 64-entry set: the whole array is scanned each time. */
    memset(&set, 0, sizeof set);
    for (j = 0; j < WS2CORE_FD_SETSIZE; j++)
        set.fd_array[j] = 4u * (j + 100000u);
    set.fd_count = WS2CORE_FD_SETSIZE;
    sum = 0;
    t0 = now_ns();
    for (i = 0; i < n; i++)
        sum += (uint64_t)up->lpWPUFDIsSet(s + 4u * (SOCKET)(i & 1), &set);
    b->fd_isset_ns = (now_ns() - t0) / (double)n;
    bench_sink = sum;
    if (sum != 0)
        b->status = 3;

    if (up->lpWPUCloseSocketHandle(s, &err) != 0)
        b->status = 4;

    /* Create + close pairs: both take the GIL. */
    t0 = now_ns();
    for (i = 0; i < slow; i++) {
        SOCKET t = up->lpWPUCreateSocketHandle(2, (DWORD_PTR)i, &err);
        if (t == INVALID_SOCKET || up->lpWPUCloseSocketHandle(t, &err) != 0) {
            b->status = 5;
            break;
        }
    }
    b->create_close_ns = (now_ns() - t0) / (double)slow;

    /* What every entry point would pay if it took the GIL: one Ensure/Release pair. */
    sym_ensure = dlsym(RTLD_DEFAULT, "PyGILState_Ensure");
    sym_release = dlsym(RTLD_DEFAULT, "PyGILState_Release");
    if (sym_ensure == NULL || sym_release == NULL) {
        b->gil_ns = -1.0;
    } else {
        /* memcpy: ISO C has no cast from an object pointer to a function pointer. */
        memcpy(&ensure, &sym_ensure, sizeof ensure);
        memcpy(&release, &sym_release, sizeof release);
        t0 = now_ns();
        for (i = 0; i < slow; i++)
            release(ensure());
        b->gil_ns = (now_ns() - t0) / (double)slow;
    }
    return NULL;
}

/* Times the native table from a pthread of its own, one Python never created and that holds no
   Python thread state (so a GIL round trip there makes and drops one, as in a real provider
   thread); call it with the GIL released (ctypes.CDLL does).  `iterations` lookups and FD_ISSET
   misses, iterations/20 (at least 1) create+close pairs and GIL pairs.  *gil_pair_ns is -1 when
   PyGILState_Ensure is not in the process.  Returns 0, or the number of the step that failed. */
EXPORT int provider_bench(const WSPUPCALLTABLE *up, long iterations, double *lookup_ns,
                          double *create_close_ns, double *fd_isset_miss_64_ns,
                          double *gil_pair_ns)
{
    bench_t b;
    pthread_t thread;
    if (iterations < 1)
        return -1;
    memset(&b, 0, sizeof b);
    b.up = up;
    b.iterations = iterations;
    if (pthread_create(&thread, NULL, bench_main, &b) != 0)
        return -2;
    pthread_join(thread, NULL);
    *lookup_ns = b.lookup_ns;
    *create_close_ns = b.create_close_ns;
    *fd_isset_miss_64_ns = b.fd_isset_ns;
    *gil_pair_ns = b.gil_ns;
    return b.status;
}
