/* WSAEventSelect and WSAEnumNetworkEvents over a loopback connection: FD_ACCEPT on the
 * listener, FD_CONNECT and FD_WRITE on the connecting client, FD_WRITE, FD_READ and FD_CLOSE
 * on the accepted socket, with their iErrorCode entries; the event reset by an enumeration
 * that names it and left alone by one that does not; the non-blocking mode WSAEventSelect
 * puts a socket in; and WSAENOTSOCK from calls on a socket closed once already. */
#include <winsock2.h>

#include "checks.h"
#include "loopback.h"

/* Enumerates s into *seen until every bit of `wanted` has turned up, waiting up to 5 s for
 * each step: Windows may record FD_CONNECT and FD_WRITE one after the other, and a single
 * enumeration can come between them. (For the same reason the event can be signalled once
 * more after one enumeration has taken both, so that the next finds nothing: Wine does
 * that now and then; the checks that the enumeration reset the event come where no
 * further network event can follow.) Returns 0 when all of `wanted` was seen; otherwise the
 * error of the call that failed, or WSAETIMEDOUT when a wait ran out first. */
static int collect_events(SOCKET s, WSAEVENT event, long wanted, WSANETWORKEVENTS *seen)
{
    WSANETWORKEVENTS step;
    int bit;

    seen->lNetworkEvents = 0;
    for (bit = 0; bit < FD_MAX_EVENTS; bit++)
        seen->iErrorCode[bit] = 0;
    while ((seen->lNetworkEvents & wanted) != wanted) {
        DWORD waited = WSAWaitForMultipleEvents(1, &event, FALSE, 5000, FALSE);

        if (waited == WSA_WAIT_TIMEOUT)
            return WSAETIMEDOUT;
        if (waited != WSA_WAIT_EVENT_0)
            return WSAGetLastError();
        if (WSAEnumNetworkEvents(s, event, &step) == SOCKET_ERROR)
            return WSAGetLastError();
        for (bit = 0; bit < FD_MAX_EVENTS; bit++) {
            if (step.lNetworkEvents & (1L << bit))
                seen->iErrorCode[bit] = step.iErrorCode[bit];
        }
        seen->lNetworkEvents |= step.lNetworkEvents;
    }
    return 0;
}

static DWORD poll_event(WSAEVENT event)
{
    return WSAWaitForMultipleEvents(1, &event, FALSE, 0, FALSE);
}

int main(void)
{
    WSADATA wsa;
    struct sockaddr_in address;
    WSANETWORKEVENTS events;
    WSAEVENT listener_event, client_event, server_event;
    SOCKET listener, client, server;
    char buffer[8];

    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();
    listener = open_listener(&address);
    if (!check("listener_open", setup_error(listener != INVALID_SOCKET), 0))
        return checks_finish();
    client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (!check("client_open", setup_error(client != INVALID_SOCKET), 0))
        return checks_finish();
    listener_event = WSACreateEvent();
    client_event = WSACreateEvent();
    server_event = WSACreateEvent();
    if (!check("create_events",
               setup_error(listener_event != WSA_INVALID_EVENT
                           && client_event != WSA_INVALID_EVENT
                           && server_event != WSA_INVALID_EVENT), 0))
        return checks_finish();

    check("listener_select", WSAEventSelect(listener, listener_event, FD_ACCEPT), 0);
    check("client_select",
          WSAEventSelect(client, client_event, FD_CONNECT | FD_WRITE | FD_READ | FD_CLOSE), 0);

    /* WSAEventSelect made the client non-blocking: the connect goes on in the background. */
    CHECK_FAILS("connect_in_background",
                connect(client, (const struct sockaddr *)&address, (int)sizeof address),
                SOCKET_ERROR, WSAEWOULDBLOCK);

    check("connect_events_seen",
          collect_events(client, client_event, FD_CONNECT | FD_WRITE, &events), 0);
    check("connect_event_bits", events.lNetworkEvents, FD_CONNECT | FD_WRITE);
    check("connect_error_code", events.iErrorCode[FD_CONNECT_BIT], 0);
    check("connect_write_error_code", events.iErrorCode[FD_WRITE_BIT], 0);

    check("accept_event_seen", collect_events(listener, listener_event, FD_ACCEPT, &events), 0);
    check("accept_event_bits", events.lNetworkEvents, FD_ACCEPT);
    check("accept_error_code", events.iErrorCode[FD_ACCEPT_BIT], 0);
    check("listener_event_reset_by_enum", poll_event(listener_event), WSA_WAIT_TIMEOUT);

    server = accept(listener, NULL, NULL);
    if (!check("server_accept", setup_error(server != INVALID_SOCKET), 0))
        return checks_finish();
    /* The accepted socket starts with the listener's selection; this replaces it. */
    check("server_select",
          WSAEventSelect(server, server_event, FD_READ | FD_WRITE | FD_CLOSE), 0);
    check("server_write_seen", collect_events(server, server_event, FD_WRITE, &events), 0);
    check("server_write_bits", events.lNetworkEvents, FD_WRITE);

    /* Nothing to read yet, and the socket is non-blocking. */
    CHECK_FAILS("recv_nothing",
                recv(server, buffer, (int)sizeof buffer, 0),
                SOCKET_ERROR, WSAEWOULDBLOCK);

    /* FD_READ after the peer sends. Enumerating without an event leaves the event signalled. */
    check("client_send", send(client, "ping", 4, 0), 4);
    check("read_wait", WSAWaitForMultipleEvents(1, &server_event, FALSE, 5000, FALSE),
          WSA_WAIT_EVENT_0);
    check("read_enum_no_event", WSAEnumNetworkEvents(server, NULL, &events), 0);
    check("read_event_bits", events.lNetworkEvents, FD_READ);
    check("read_error_code", events.iErrorCode[FD_READ_BIT], 0);
    check("event_kept_without_handle", poll_event(server_event), WSA_WAIT_EVENT_0);
    check("reset_server_event", WSAResetEvent(server_event), TRUE);
    check("server_recv", recv(server, buffer, (int)sizeof buffer, 0), 4);
    check("server_recv_bytes",
          buffer[0] == 'p' && buffer[1] == 'i' && buffer[2] == 'n' && buffer[3] == 'g', 1);

    /* FD_CLOSE, with error code 0 for an orderly close, then recv returns 0. */
    check("client_close", closesocket(client), 0);
    check("close_event_seen", collect_events(server, server_event, FD_CLOSE, &events), 0);
    check("close_event_bits", events.lNetworkEvents, FD_CLOSE);
    check("close_error_code", events.iErrorCode[FD_CLOSE_BIT], 0);
    check("server_event_reset_by_enum", poll_event(server_event), WSA_WAIT_TIMEOUT);
    check("server_recv_end", recv(server, buffer, (int)sizeof buffer, 0), 0);

    /* The closed client is not a socket any more. */
    CHECK_FAILS("close_twice", closesocket(client), SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("send_closed", send(client, "x", 1, 0), SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("enum_closed",
                WSAEnumNetworkEvents(client, client_event, &events),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("select_closed",
                WSAEventSelect(client, client_event, FD_READ),
                SOCKET_ERROR, WSAENOTSOCK);

    check("server_close", closesocket(server), 0);
    check("listener_close", closesocket(listener), 0);
    check("close_listener_event", WSACloseEvent(listener_event), TRUE);
    check("close_client_event", WSACloseEvent(client_event), TRUE);
    check("close_server_event", WSACloseEvent(server_event), TRUE);
    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
