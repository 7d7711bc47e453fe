/* WSA event objects and WSAWaitForMultipleEvents without any socket: manual-reset events
 * created non-signalled, wait-any reporting the lowest signalled index, wait-all, polls and
 * timeouts, the last error left alone by successful waits, and the failures in the order the
 * kernel checks them (the count, then each handle, then duplicates in a wait-all). */
#include <winsock2.h>

#include "checks.h"

#define EVENTS 3

static DWORD poll_events(DWORD count, const WSAEVENT *events, BOOL wait_all)
{
    return WSAWaitForMultipleEvents(count, events, wait_all, 0, FALSE);
}

int main(void)
{
    WSADATA wsa;
    WSAEVENT events[EVENTS];
    WSAEVENT too_many[WSA_MAXIMUM_WAIT_EVENTS + 1];
    WSAEVENT pair[2];
    WSAEVENT closed, replacement, tagged, socket_as_event;
    SOCKET s;
    DWORD waited;
    int error, i;

    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();
    for (i = 0; i < EVENTS; i++)
        events[i] = WSACreateEvent();
    for (i = 0; i < EVENTS; i++) {
        if (events[i] == WSA_INVALID_EVENT) {
            check("create_events", WSAGetLastError(), 0);
            return checks_finish();
        }
    }
    check("create_events", 0, 0);

    check("fresh_events_not_signalled", poll_events(EVENTS, events, FALSE), WSA_WAIT_TIMEOUT);
    check("timed_wait_times_out",
          WSAWaitForMultipleEvents(EVENTS, events, FALSE, 20, FALSE), WSA_WAIT_TIMEOUT);

    /* Wait-any names the lowest signalled index. */
    check("set_last", WSASetEvent(events[2]), TRUE);
    check("wait_any_one", poll_events(EVENTS, events, FALSE), WSA_WAIT_EVENT_0 + 2);
    check("set_middle", WSASetEvent(events[1]), TRUE);
    check("wait_any_lowest", poll_events(EVENTS, events, FALSE), WSA_WAIT_EVENT_0 + 1);

    /* Wait-all needs every event at once and then answers WSA_WAIT_EVENT_0. */
    check("wait_all_one_unset", poll_events(EVENTS, events, TRUE), WSA_WAIT_TIMEOUT);
    check("set_first", WSASetEvent(events[0]), TRUE);
    check("wait_all_all_set", poll_events(EVENTS, events, TRUE), WSA_WAIT_EVENT_0);

    /* Manual reset: a wait leaves the events signalled; setting twice changes nothing. */
    check("still_signalled_after_wait", poll_events(EVENTS, events, TRUE), WSA_WAIT_EVENT_0);
    check("set_signalled_again", WSASetEvent(events[0]), TRUE);
    check("reset_first", WSAResetEvent(events[0]), TRUE);
    check("reset_first_again", WSAResetEvent(events[0]), TRUE);
    check("reset_event_not_signalled", poll_events(1, &events[0], FALSE), WSA_WAIT_TIMEOUT);
    check("wait_any_skips_reset", poll_events(EVENTS, events, FALSE), WSA_WAIT_EVENT_0 + 1);

    /* The kernel rejects a repeated handle only in a wait-all (below); a wait-any answers
     * the first index. */
    pair[0] = events[1];
    pair[1] = events[1];
    check("wait_any_duplicate", poll_events(2, pair, FALSE), WSA_WAIT_EVENT_0);

    /* The last error belongs to failures: a success or a timeout leaves it as it was. It is
     * read before printing, which may touch it. */
    WSASetLastError(WSAEWOULDBLOCK);
    check("last_error_round_trip", WSAGetLastError(), WSAEWOULDBLOCK);
    WSASetLastError(WSAEWOULDBLOCK);
    waited = poll_events(EVENTS, events, FALSE);
    error = WSAGetLastError();
    check("success_wait", waited, WSA_WAIT_EVENT_0 + 1);
    check("success_keeps_last_error", error, WSAEWOULDBLOCK);
    WSASetLastError(WSAEWOULDBLOCK);
    waited = poll_events(1, &events[0], FALSE);
    error = WSAGetLastError();
    check("timeout_wait", waited, WSA_WAIT_TIMEOUT);
    check("timeout_keeps_last_error", error, WSAEWOULDBLOCK);

    /* The count is checked before any handle is read. */
    for (i = 0; i < WSA_MAXIMUM_WAIT_EVENTS + 1; i++)
        too_many[i] = events[1];
    CHECK_FAILS("count_zero", poll_events(0, events, FALSE),
                WSA_WAIT_FAILED, WSA_INVALID_PARAMETER);
    CHECK_FAILS("count_65", poll_events(WSA_MAXIMUM_WAIT_EVENTS + 1, too_many, FALSE),
                WSA_WAIT_FAILED, WSA_INVALID_PARAMETER);
    check("count_64", poll_events(WSA_MAXIMUM_WAIT_EVENTS, too_many, FALSE), WSA_WAIT_EVENT_0);

    /* The same event twice in a wait-all is a bad parameter, even when it is signalled
     * ("The WaitForMultipleObjects function rejects duplicates if you ask it to wait for all
     * of the objects", Raymond Chen, The Old New Thing, 2011-02-25). Wine 8 accepts it. */
    pair[0] = events[1];
    pair[1] = events[1];
    CHECK_FAILS("wait_all_duplicate", poll_events(2, pair, TRUE),
                WSA_WAIT_FAILED, WSA_INVALID_PARAMETER);

    /* The kernel ignores the two low tag bits of a handle: e | 1 and e | 3 name e. */
    check("set_tagged_handle", WSASetEvent((WSAEVENT)((ULONG_PTR)events[0] | 1)), TRUE);
    tagged = (WSAEVENT)((ULONG_PTR)events[0] | 3);
    check("wait_tagged_handle", poll_events(1, &tagged, FALSE), WSA_WAIT_EVENT_0);
    check("reset_tagged_handle", WSAResetEvent((WSAEVENT)((ULONG_PTR)events[0] | 2)), TRUE);
    check("tagged_reset_took", poll_events(1, &events[0], FALSE), WSA_WAIT_TIMEOUT);

    /* A closed event is an invalid handle everywhere, and fails a wait even beside a
     * signalled event. */
    closed = events[2];
    check("close_event", WSACloseEvent(closed), TRUE);
    CHECK_FAILS("wait_closed", poll_events(1, &closed, FALSE),
                WSA_WAIT_FAILED, WSA_INVALID_HANDLE);
    pair[0] = events[1];
    pair[1] = closed;
    CHECK_FAILS("wait_signalled_and_closed", poll_events(2, pair, FALSE),
                WSA_WAIT_FAILED, WSA_INVALID_HANDLE);
    CHECK_FAILS("set_closed", WSASetEvent(closed), FALSE, WSA_INVALID_HANDLE);
    CHECK_FAILS("reset_closed", WSAResetEvent(closed), FALSE, WSA_INVALID_HANDLE);
    CHECK_FAILS("close_closed", WSACloseEvent(closed), FALSE, WSA_INVALID_HANDLE);
    CHECK_FAILS("close_invalid_event", WSACloseEvent(WSA_INVALID_EVENT),
                FALSE, WSA_INVALID_HANDLE);

    /* ws2core extension: Windows usually gives the value of a closed handle to the next
     * object created; ws2core keeps it out of use for 65,536 creations, so that a stale
     * handle fails instead of reaching another object. */
    replacement = WSACreateEvent();
    check("create_replacement", replacement != WSA_INVALID_EVENT, 1);
    check("x_closed_value_not_reused", replacement == closed, 0);
    check("close_replacement", WSACloseEvent(replacement), TRUE);

    /* ws2core extensions: a Windows socket is a kernel file object, so a wait on it is
     * accepted and WSACloseEvent closes it like any handle; ws2core's sockets are not
     * waitable objects, and WSACloseEvent keeps to its documented contract (a handle that
     * is not an event is WSA_INVALID_HANDLE), so the socket stays open. */
    s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (check("socket_open", s != INVALID_SOCKET ? 0 : WSAGetLastError(), 0)) {
        socket_as_event = (WSAEVENT)s;
        CHECK_FAILS("x_wait_on_socket", poll_events(1, &socket_as_event, FALSE),
                    WSA_WAIT_FAILED, WSA_INVALID_HANDLE);
        CHECK_FAILS("x_close_event_on_socket", WSACloseEvent(socket_as_event),
                    FALSE, WSA_INVALID_HANDLE);
        check("x_socket_close", closesocket(s), 0);
    }

    check("close_first", WSACloseEvent(events[0]), TRUE);
    check("close_middle", WSACloseEvent(events[1]), TRUE);
    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
