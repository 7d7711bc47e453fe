/* Overlapped I/O completed by event, over a loopback TCP connection in one thread: an echo
 * whose WSARecv goes pending (WSA_IO_PENDING, STATUS_PENDING in Internal) until the peer
 * sends, a WSASend that completes at once, WSAGetOverlappedResult with fWait FALSE
 * (WSA_IO_INCOMPLETE) and TRUE, the WSAOVERLAPPED's Internal and InternalHigh as Windows
 * leaves them, several receives outstanding on one socket completing in call order, and a
 * pending receive that closesocket cancels (its event signalled, the structure no longer
 * pending). */
#include <winsock2.h>

#include "checks.h"
#include "loopback.h"

#define STATUS_PENDING_VALUE 0x103

/* An overlapped WSARecv into buffer with event as its hEvent; returns its result. */
static int start_receive(SOCKET s, char *buffer, unsigned long size, WSAOVERLAPPED *overlapped,
                         WSAEVENT event)
{
    WSABUF wsabuf;
    DWORD flags = 0;
    char *clear = (char *)overlapped;
    unsigned i;

    for (i = 0; i < sizeof *overlapped; i++)
        clear[i] = 0;
    overlapped->hEvent = event;
    wsabuf.len = size;
    wsabuf.buf = buffer;
    return WSARecv(s, &wsabuf, 1, NULL, &flags, overlapped, NULL);
}

int main(void)
{
    WSADATA data;
    SOCKET client, server;
    WSAEVENT event, send_event, events[3];
    WSAOVERLAPPED overlapped, send_overlapped, several[3];
    WSABUF out;
    char buffer[16], parts[3][4], echo[8];
    DWORD transferred, flags, sent;
    int i, in_order;

    if (!check("startup", WSAStartup(MAKEWORD(2, 2), &data), 0))
        return checks_finish();
    open_pair(&client, &server);
    if (!check("setup", setup_error(server != INVALID_SOCKET), 0))
        return checks_finish();
    event = WSACreateEvent();
    send_event = WSACreateEvent();

    /* A receive with nothing to read goes pending. */
    WSASetLastError(0);
    check_failed("recv_pending", start_receive(server, buffer, sizeof buffer, &overlapped, event),
                 SOCKET_ERROR, WSA_IO_PENDING);
    check("recv_pending_internal", (long long)overlapped.Internal, STATUS_PENDING_VALUE);
    check("recv_pending_not_signalled", WSAWaitForMultipleEvents(1, &event, FALSE, 0, FALSE),
          WSA_WAIT_TIMEOUT);
    transferred = 77;
    flags = 77;
    CHECK_FAILS("result_incomplete",
                WSAGetOverlappedResult(server, &overlapped, &transferred, FALSE, &flags),
                FALSE, WSA_IO_INCOMPLETE);
    check("result_incomplete_count_untouched", transferred, 77);

    /* The peer's overlapped send completes at once, and completes the receive. */
    for (i = 0; i < (int)sizeof send_overlapped; i++)
        ((char *)&send_overlapped)[i] = 0;
    send_overlapped.hEvent = send_event;
    out.len = 5;
    out.buf = "hello";
    sent = 0;
    check("send_at_once", WSASend(client, &out, 1, &sent, 0, &send_overlapped, NULL), 0);
    check("send_count", sent, 5);
    check("send_signalled", WSAWaitForMultipleEvents(1, &send_event, FALSE, 0, FALSE),
          WSA_WAIT_EVENT_0);
    check("send_internal", (long long)send_overlapped.Internal, 0);
    check("send_internal_high", (long long)send_overlapped.InternalHigh, 5);
    check("recv_signalled", WSAWaitForMultipleEvents(1, &event, FALSE, 5000, FALSE),
          WSA_WAIT_EVENT_0);
    check("recv_internal", (long long)overlapped.Internal, 0);
    check("recv_internal_high", (long long)overlapped.InternalHigh, 5);
    check("recv_data", same_bytes(buffer, "hello", 5), 1);
    check("result_done", WSAGetOverlappedResult(server, &overlapped, &transferred, FALSE, &flags),
          TRUE);
    check("result_done_count", transferred, 5);
    check("result_done_flags", flags, 0);

    /* The echo back, read with fWait TRUE. */
    WSAResetEvent(event);
    WSASetLastError(0);
    check_failed("echo_pending", start_receive(client, echo, sizeof echo, &overlapped, event),
                 SOCKET_ERROR, WSA_IO_PENDING);
    check("echo_sent", send_text(server, buffer, 5), 5);
    check("result_wait", WSAGetOverlappedResult(client, &overlapped, &transferred, TRUE, &flags),
          TRUE);
    check("result_wait_count", transferred, 5);
    check("echo_data", same_bytes(echo, "hello", 5), 1);
    check("echo_internal", (long long)overlapped.Internal, 0);

    /* Three receives outstanding on one socket complete in the order they were made. */
    in_order = 1;
    for (i = 0; i < 3; i++) {
        events[i] = WSACreateEvent();
        WSASetLastError(0);
        if (start_receive(server, parts[i], 4, &several[i], events[i]) != SOCKET_ERROR
            || WSAGetLastError() != WSA_IO_PENDING)
            in_order = 0;
    }
    check("several_pending", in_order, 1);
    check("several_sent", send_text(client, "abcdefghijkl", 12), 12);
    check("several_signalled", WSAWaitForMultipleEvents(3, events, TRUE, 5000, FALSE),
          WSA_WAIT_EVENT_0);
    check("several_first", same_bytes(parts[0], "abcd", 4), 1);
    check("several_second", same_bytes(parts[1], "efgh", 4), 1);
    check("several_third", same_bytes(parts[2], "ijkl", 4), 1);
    check("several_counts", (long long)(several[0].InternalHigh + several[1].InternalHigh
                                        + several[2].InternalHigh), 12);
    for (i = 0; i < 3; i++)
        WSACloseEvent(events[i]);

    /* closesocket cancels a pending receive: its event is signalled, and the structure no
     * longer says STATUS_PENDING (HasOverlappedIoCompleted). */
    WSAResetEvent(event);
    WSASetLastError(0);
    check_failed("cancel_pending", start_receive(server, buffer, sizeof buffer, &overlapped, event),
                 SOCKET_ERROR, WSA_IO_PENDING);
    check("cancel_close", closesocket(server), 0);
    check("cancel_signalled", WSAWaitForMultipleEvents(1, &event, FALSE, 5000, FALSE),
          WSA_WAIT_EVENT_0);
    check("cancel_completed", overlapped.Internal != STATUS_PENDING_VALUE, 1);
    check("cancel_internal_high", (long long)overlapped.InternalHigh, 0);

    WSACloseEvent(event);
    WSACloseEvent(send_event);
    closesocket(client);
    check("cleanup", WSACleanup(), 0);
    return checks_finish();
}
