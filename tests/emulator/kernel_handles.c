/* Sockets and events are kernel handles: kernel32's waits, SetEvent, ResetEvent and
 * CloseHandle on WSA events (a WSAEventSelect'd one included), ReadFile and WriteFile on a
 * connected loopback TCP pair, CloseHandle on a socket (it closes it), the failures in Win32
 * codes (a closed handle, a handle of the wrong kind, a bad count, a repeated handle in a
 * wait-all), successes that leave the last error alone, and a kernel32 event of the
 * program's own (CreateEventA), which an emulator serves itself, through the same calls. */
#include <string.h>
#include <winsock2.h>
#include <windows.h>

#include "checks.h"
#include "loopback.h"

#define EVENTS 3

static void waits_on_events(void)
{
    WSAEVENT events[EVENTS], pair[2], too_many[MAXIMUM_WAIT_OBJECTS + 1];
    WSAEVENT closed;
    DWORD waited;
    int error, i;

    for (i = 0; i < EVENTS; i++)
        events[i] = WSACreateEvent();
    check("create_events", events[0] != WSA_INVALID_EVENT && events[1] != WSA_INVALID_EVENT
          && events[2] != WSA_INVALID_EVENT, 1);

    check("single_fresh", WaitForSingleObject(events[0], 0), WAIT_TIMEOUT);
    check("single_timed", WaitForSingleObject(events[0], 20), WAIT_TIMEOUT);
    check("single_ex_alertable_timed", WaitForSingleObjectEx(events[0], 10, TRUE), WAIT_TIMEOUT);
    check("set_event", SetEvent(events[0]), TRUE);
    check("single_set", WaitForSingleObject(events[0], 0), WAIT_OBJECT_0);
    check("single_ex_set", WaitForSingleObjectEx(events[0], 0, TRUE), WAIT_OBJECT_0);
    check("single_still_set", WaitForSingleObject(events[0], INFINITE), WAIT_OBJECT_0);
    check("wsa_wait_sees_set_event", WSAWaitForMultipleEvents(1, &events[0], FALSE, 0, FALSE),
          WSA_WAIT_EVENT_0);
    check("reset_event", ResetEvent(events[0]), TRUE);
    check("single_reset", WaitForSingleObjectEx(events[0], 0, FALSE), WAIT_TIMEOUT);
    check("wsa_set_event", WSASetEvent(events[0]), TRUE);
    check("single_sees_wsa_set", WaitForSingleObject(events[0], 0), WAIT_OBJECT_0);
    check("reset_again", ResetEvent(events[0]), TRUE);

    /* Successes and timeouts leave the last error as it was (read before printing). */
    WSASetLastError(WSAEWOULDBLOCK);
    (void)SetEvent(events[1]);
    (void)ResetEvent(events[1]);
    waited = WaitForSingleObject(events[1], 0);
    error = WSAGetLastError();
    check("timeout_then", waited, WAIT_TIMEOUT);
    check("success_keeps_last_error", error, WSAEWOULDBLOCK);

    check("multiple_fresh", WaitForMultipleObjects(EVENTS, events, FALSE, 0), WAIT_TIMEOUT);
    (void)SetEvent(events[2]);
    check("multiple_any_one", WaitForMultipleObjects(EVENTS, events, FALSE, 0),
          WAIT_OBJECT_0 + 2);
    (void)SetEvent(events[1]);
    check("multiple_any_lowest", WaitForMultipleObjectsEx(EVENTS, events, FALSE, 0, TRUE),
          WAIT_OBJECT_0 + 1);
    check("multiple_all_one_unset", WaitForMultipleObjects(EVENTS, events, TRUE, 0),
          WAIT_TIMEOUT);
    (void)SetEvent(events[0]);
    check("multiple_all_set", WaitForMultipleObjectsEx(EVENTS, events, TRUE, 10, FALSE),
          WAIT_OBJECT_0);
    pair[0] = events[1];
    pair[1] = events[1];
    check("wait_any_duplicate", WaitForMultipleObjects(2, pair, FALSE, 0), WAIT_OBJECT_0);

    for (i = 0; i < MAXIMUM_WAIT_OBJECTS + 1; i++)
        too_many[i] = events[0];
    CHECK_FAILS("count_zero", WaitForMultipleObjects(0, events, FALSE, 0), WAIT_FAILED,
                ERROR_INVALID_PARAMETER);
    CHECK_FAILS("count_too_many",
                WaitForMultipleObjectsEx(MAXIMUM_WAIT_OBJECTS + 1, too_many, FALSE, 0, FALSE),
                WAIT_FAILED, ERROR_INVALID_PARAMETER);
    CHECK_FAILS("wait_all_duplicate", WaitForMultipleObjects(2, pair, TRUE, 0), WAIT_FAILED,
                ERROR_INVALID_PARAMETER);

    /* A closed event, right after its close (Windows hands the value out again at once). */
    closed = WSACreateEvent();
    check("close_event", CloseHandle(closed), TRUE);
    CHECK_FAILS("wait_closed", WaitForSingleObject(closed, 0), WAIT_FAILED,
                ERROR_INVALID_HANDLE);
    CHECK_FAILS("set_closed", SetEvent(closed), FALSE, ERROR_INVALID_HANDLE);
    CHECK_FAILS("reset_closed", ResetEvent(closed), FALSE, ERROR_INVALID_HANDLE);
    CHECK_FAILS("close_closed", CloseHandle(closed), FALSE, ERROR_INVALID_HANDLE);
    pair[1] = closed;
    CHECK_FAILS("wait_many_closed", WaitForMultipleObjects(2, pair, FALSE, 0), WAIT_FAILED,
                ERROR_INVALID_HANDLE);

    for (i = 0; i < EVENTS; i++)
        check(i == 0 ? "close_events_0" : i == 1 ? "close_events_1" : "close_events_2",
              CloseHandle(events[i]), TRUE);
}

static void sockets_as_handles(void)
{
    struct sockaddr_in address;
    SOCKET listener, client, server, watched;
    WSAEVENT accept_event;
    char buffer[16];
    DWORD count;
    BOOL done;
    int error;

    /* A WSAEventSelect'd socket event, waited by the kernel's wait. */
    watched = open_listener(&address);
    accept_event = WSACreateEvent();
    if (!check("watched_listener", setup_error(watched != INVALID_SOCKET), 0))
        return;
    check("event_select", WSAEventSelect(watched, accept_event, FD_ACCEPT), 0);
    check("no_connection_yet", WaitForSingleObject(accept_event, 0), WAIT_TIMEOUT);
    client = open_client(&address);
    check("event_client", setup_error(client != INVALID_SOCKET), 0);
    check("connection_signals", WaitForSingleObject(accept_event, 2000), WAIT_OBJECT_0);
    check("event_client_close", closesocket(client), 0);
    check("watched_close", closesocket(watched), 0);
    check("accept_event_close", CloseHandle(accept_event), TRUE);

    /* ReadFile and WriteFile on a connected blocking pair. */
    listener = open_listener(&address);
    if (!check("listener", setup_error(listener != INVALID_SOCKET), 0))
        return;
    client = open_client(&address);
    server = accept(listener, NULL, NULL);
    if (!check("pair", setup_error(client != INVALID_SOCKET && server != INVALID_SOCKET), 0))
        return;
    count = 99;
    WSASetLastError(WSAEWOULDBLOCK);
    done = WriteFile((HANDLE)client, "hello", 5, &count, NULL);
    error = WSAGetLastError();
    check("write_file", done, TRUE);
    check("write_file_count", count, 5);
    check("write_file_keeps_last_error", error, WSAEWOULDBLOCK);
    memset(buffer, 0, sizeof buffer);
    count = 99;
    check("read_file", ReadFile((HANDLE)server, buffer, sizeof buffer, &count, NULL), TRUE);
    check("read_file_count", count, 5);
    check("read_file_data", same_bytes(buffer, "hello", 6), 1);
    check("send_then_read_file", send(server, "back", 4, 0), 4);
    count = 99;
    check("read_file_client", ReadFile((HANDLE)client, buffer, 4, &count, NULL), TRUE);
    check("read_file_client_count", count, 4);
    check("read_file_client_data", same_bytes(buffer, "back", 4), 1);

    CHECK_FAILS("set_event_on_socket", SetEvent((HANDLE)server), FALSE, ERROR_INVALID_HANDLE);
    /* Beyond Windows, which waits on the socket's file object. */
    CHECK_FAILS("x_kernel_wait_on_socket", WaitForSingleObject((HANDLE)server, 0), WAIT_FAILED,
                ERROR_INVALID_HANDLE);

    /* CloseHandle closes a socket: the peer reads the end, the value is no handle any more.
     * (What closesocket says after it is left alone: Wine 8 answers 0, with the last error
     * CloseHandle's ERROR_INVALID_HANDLE, and the CloseHandle page tells programs not to.) */
    check("close_handle_socket", CloseHandle((HANDLE)client), TRUE);
    count = 99;
    check("read_file_peer_closed", ReadFile((HANDLE)server, buffer, sizeof buffer, &count, NULL),
          TRUE);
    check("read_file_peer_closed_count", count, 0);
    CHECK_FAILS("write_file_closed", WriteFile((HANDLE)client, "x", 1, &count, NULL), FALSE,
                ERROR_INVALID_HANDLE);
    check("server_close", closesocket(server), 0);
    check("listener_close", closesocket(listener), 0);
}

/* An event of kernel32's own, which the emulator serves: ws2core hands these calls over. */
static void kernel_event(void)
{
    HANDLE event = CreateEventA(NULL, TRUE, TRUE, NULL);

    if (!check("kernel_event_created", event != NULL, 1))
        return;
    check("kernel_event_wait", WaitForSingleObject(event, 0), WAIT_OBJECT_0);
    check("kernel_event_wait_ex", WaitForSingleObjectEx(event, 0, FALSE), WAIT_OBJECT_0);
    check("kernel_event_wait_many", WaitForMultipleObjects(1, &event, FALSE, 0), WAIT_OBJECT_0);
    check("kernel_event_wait_many_ex", WaitForMultipleObjectsEx(1, &event, TRUE, 0, FALSE),
          WAIT_OBJECT_0);
    check("kernel_event_set", SetEvent(event), TRUE);
    check("kernel_event_reset", ResetEvent(event), TRUE);
    check("kernel_event_close", CloseHandle(event), TRUE);
}

int main(void)
{
    WSADATA wsa;

    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();
    waits_on_events();
    sockets_as_handles();
    kernel_event();
    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
