/* The errors Winsock gives for bad input, each as documented on the function's page and as
 * Wine gives it: calls before WSAStartup and after the last WSACleanup, values that are no
 * socket or no event, sockets in the wrong state for the call, and address arguments that
 * are NULL or too short.
 *
 * Left out because Wine 8 cannot vouch for them: getsockname with a NULL namelen and
 * WSAEnumNetworkEvents with a NULL lpNetworkEvents (documented: WSAEFAULT),
 * WSAWaitForMultipleEvents with a NULL array (no documented error) and select with an
 * fd_set whose fd_count runs past its memory (WSAEFAULT) all crash the process under Wine;
 * and Wine's code is not the documented one for send on a socket never connected
 * (WSAENOTCONN; Wine: WSAECONNRESET), connect with a namelen too small (WSAEFAULT; Wine:
 * WSAEADDRNOTAVAIL) and listen on a connected socket (WSAEISCONN; Wine: WSAEINVAL). */
#include <winsock2.h>

#include "checks.h"
#include "loopback.h"

/* Multiples of 4, like kernel handles, far above any handle these programs create. */
#define NOT_A_SOCKET ((SOCKET)0x12344)
#define NOT_AN_EVENT ((WSAEVENT)0x12348)

int main(void)
{
    WSADATA wsa;
    WSANETWORKEVENTS network_events;
    struct sockaddr_in any_port = loopback_address(0);
    struct sockaddr_in address;
    WSAEVENT event;
    SOCKET unbound, listener, client, server;
    int length;
    char byte = 0;

    CHECK_FAILS("socket_before_startup",
                socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) != INVALID_SOCKET,
                0, WSANOTINITIALISED);
    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();

    /* A value that is not a socket. */
    length = (int)sizeof address;
    CHECK_FAILS("send_not_socket", send(NOT_A_SOCKET, "x", 1, 0), SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("recv_not_socket", recv(NOT_A_SOCKET, &byte, 1, 0), SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("closesocket_not_socket", closesocket(NOT_A_SOCKET), SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("closesocket_invalid_socket", closesocket(INVALID_SOCKET),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("getsockname_not_socket",
                getsockname(NOT_A_SOCKET, (struct sockaddr *)&address, &length),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("bind_not_socket",
                bind(NOT_A_SOCKET, (const struct sockaddr *)&any_port, (int)sizeof any_port),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("listen_not_socket", listen(NOT_A_SOCKET, 1), SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("accept_not_socket", accept(NOT_A_SOCKET, NULL, NULL) != INVALID_SOCKET,
                0, WSAENOTSOCK);
    CHECK_FAILS("connect_not_socket",
                connect(NOT_A_SOCKET, (const struct sockaddr *)&any_port, (int)sizeof any_port),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("select_event_not_socket", WSAEventSelect(NOT_A_SOCKET, NULL, 0),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("enum_events_not_socket",
                WSAEnumNetworkEvents(NOT_A_SOCKET, NULL, &network_events),
                SOCKET_ERROR, WSAENOTSOCK);

    /* A value that is not an event, and an event where a socket belongs: sockets and
     * events share one handle namespace, and neither passes for the other. */
    CHECK_FAILS("set_not_event", WSASetEvent(NOT_AN_EVENT), FALSE, WSA_INVALID_HANDLE);
    CHECK_FAILS("reset_not_event", WSAResetEvent(NOT_AN_EVENT), FALSE, WSA_INVALID_HANDLE);
    CHECK_FAILS("close_not_event", WSACloseEvent(NOT_AN_EVENT), FALSE, WSA_INVALID_HANDLE);
    event = NOT_AN_EVENT;
    CHECK_FAILS("wait_not_event", WSAWaitForMultipleEvents(1, &event, FALSE, 0, FALSE),
                WSA_WAIT_FAILED, WSA_INVALID_HANDLE);
    event = WSACreateEvent();
    if (!check("create_event", setup_error(event != WSA_INVALID_EVENT), 0))
        return checks_finish();
    CHECK_FAILS("closesocket_on_event", closesocket((SOCKET)event), SOCKET_ERROR, WSAENOTSOCK);

    /* A socket that is neither bound nor connected. */
    unbound = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (!check("socket_open", setup_error(unbound != INVALID_SOCKET), 0))
        return checks_finish();
    length = (int)sizeof address;
    CHECK_FAILS("getsockname_unbound",
                getsockname(unbound, (struct sockaddr *)&address, &length),
                SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("listen_unbound", listen(unbound, 1), SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("accept_unbound", accept(unbound, NULL, NULL) != INVALID_SOCKET, 0, WSAEINVAL);
    CHECK_FAILS("recv_unconnected", recv(unbound, &byte, 1, 0), SOCKET_ERROR, WSAENOTCONN);
    CHECK_FAILS("select_event_not_event", WSAEventSelect(unbound, NOT_AN_EVENT, FD_READ),
                SOCKET_ERROR, WSAEINVAL);

    /* Addresses that are NULL or shorter than a sockaddr_in. */
    CHECK_FAILS("bind_short_name", bind(unbound, (const struct sockaddr *)&any_port, 8),
                SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("bind_null_name", bind(unbound, NULL, (int)sizeof any_port),
                SOCKET_ERROR, WSAEFAULT);
    check("bind", bind(unbound, (const struct sockaddr *)&any_port, (int)sizeof any_port), 0);
    CHECK_FAILS("bind_twice",
                bind(unbound, (const struct sockaddr *)&any_port, (int)sizeof any_port),
                SOCKET_ERROR, WSAEINVAL);
    length = (int)sizeof address;
    CHECK_FAILS("getsockname_null_name", getsockname(unbound, NULL, &length),
                SOCKET_ERROR, WSAEFAULT);
    length = 4;
    CHECK_FAILS("getsockname_short_name",
                getsockname(unbound, (struct sockaddr *)&address, &length),
                SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("accept_not_listening", accept(unbound, NULL, NULL) != INVALID_SOCKET,
                0, WSAEINVAL);
    check("close_bound", closesocket(unbound), 0);

    /* A connection: connecting again, and buffers that are NULL. A byte is waiting when the
     * receive fails, so a blocking recv cannot wait instead of failing, and the failure
     * leaves it in place. */
    listener = open_listener(&address);
    if (!check("listener_open", setup_error(listener != INVALID_SOCKET), 0))
        return checks_finish();
    client = open_client(&address);
    if (!check("client_connect", setup_error(client != INVALID_SOCKET), 0))
        return checks_finish();
    server = accept(listener, NULL, NULL);
    if (!check("server_accept", setup_error(server != INVALID_SOCKET), 0))
        return checks_finish();
    CHECK_FAILS("connect_connected",
                connect(client, (const struct sockaddr *)&address, (int)sizeof address),
                SOCKET_ERROR, WSAEISCONN);
    CHECK_FAILS("send_null_buffer", send(client, NULL, 1, 0), SOCKET_ERROR, WSAEFAULT);
    check("send_byte", send(client, "x", 1, 0), 1);
    CHECK_FAILS("recv_null_buffer", recv(server, NULL, 1, 0), SOCKET_ERROR, WSAEFAULT);
    check("recv_byte", recv(server, &byte, 1, 0), 1);
    check("recv_byte_value", byte, 'x');
    check("server_close", closesocket(server), 0);
    check("client_close", closesocket(client), 0);
    check("listener_close", closesocket(listener), 0);
    check("close_event", WSACloseEvent(event), TRUE);

    /* WSAStartup counts: each successful call needs its WSACleanup, and one more fails. */
    check("wsastartup_again", WSAStartup(MAKEWORD(2, 2), &wsa), 0);
    check("wsacleanup_inner", WSACleanup(), 0);
    check("wsacleanup", WSACleanup(), 0);
    CHECK_FAILS("wsacleanup_extra", WSACleanup(), SOCKET_ERROR, WSANOTINITIALISED);
    CHECK_FAILS("socket_after_cleanup",
                socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) != INVALID_SOCKET,
                0, WSANOTINITIALISED);
    return checks_finish();
}
