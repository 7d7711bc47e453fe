/* select() on fd_sets built with the SDK's own FD_ZERO, FD_SET and FD_CLR macros, and
 * FD_ISSET, which calls __WSAFDIsSet in ws2_32: readiness of a listener and of both ends of a
 * loopback connection, how select rewrites the sets, and its errors for empty sets and for a
 * closed socket. Every socket here is blocking; the waits that must succeed use a 5 s timeout
 * that ends as soon as the socket is ready, the others poll with {0, 0}. */
#include <winsock2.h>

#include "checks.h"
#include "loopback.h"

int main(void)
{
    WSADATA wsa;
    struct sockaddr_in address;
    struct timeval now = {0, 0};
    struct timeval patience = {5, 0};
    fd_set readable, writable, failed;
    SOCKET listener, client, server;
    char buffer[8];

    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();
    listener = open_listener(&address);
    if (!check("listener_open", setup_error(listener != INVALID_SOCKET), 0))
        return checks_finish();

    /* Nothing to accept yet: select times out and empties the set. */
    FD_ZERO(&readable);
    FD_SET(listener, &readable);
    check("idle_listener_select", select(0, &readable, NULL, NULL, &now), 0);
    check("idle_listener_set_emptied", readable.fd_count, 0);

    client = open_client(&address);
    if (!check("client_connect", setup_error(client != INVALID_SOCKET), 0))
        return checks_finish();

    /* A pending connection makes the listener readable. */
    FD_ZERO(&readable);
    FD_SET(listener, &readable);
    check("pending_listener_select", select(0, &readable, NULL, NULL, &patience), 1);
    check("pending_listener_isset", FD_ISSET(listener, &readable), 1);

    server = accept(listener, NULL, NULL);
    if (!check("server_accept", setup_error(server != INVALID_SOCKET), 0))
        return checks_finish();

    /* Connected, nothing sent: writable only. */
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    FD_ZERO(&failed);
    FD_SET(server, &readable);
    FD_SET(server, &writable);
    FD_SET(server, &failed);
    check("quiet_select", select(0, &readable, &writable, &failed, &now), 1);
    check("quiet_not_readable", FD_ISSET(server, &readable), 0);
    check("quiet_writable", FD_ISSET(server, &writable), 1);
    check("quiet_no_exception", FD_ISSET(server, &failed), 0);

    /* After the peer sends, exactly the receiving end is readable, and select leaves only
     * the ready sockets in the set. */
    check("client_send", send(client, "hello", 5, 0), 5);
    FD_ZERO(&readable);
    FD_SET(listener, &readable);
    FD_SET(client, &readable);
    FD_SET(server, &readable);
    check("data_select", select(0, &readable, NULL, NULL, &patience), 1);
    check("data_set_count", readable.fd_count, 1);
    check("data_readable", FD_ISSET(server, &readable), 1);
    check("data_sender_not_in_set", FD_ISSET(client, &readable), 0);
    check("data_listener_not_in_set", FD_ISSET(listener, &readable), 0);
    check("server_recv", recv(server, buffer, (int)sizeof buffer, 0), 5);

    /* FD_CLR removes one entry and keeps the others in order; FD_SET adds no duplicate. */
    FD_ZERO(&readable);
    FD_SET(listener, &readable);
    FD_SET(client, &readable);
    FD_SET(server, &readable);
    FD_CLR(client, &readable);
    check("fdclr_count", readable.fd_count, 2);
    check("fdclr_first_kept", readable.fd_array[0] == listener, 1);
    check("fdclr_second_moved_up", readable.fd_array[1] == server, 1);
    check("fdclr_isset_removed", FD_ISSET(client, &readable), 0);
    check("fdclr_isset_kept", FD_ISSET(server, &readable), 1);
    FD_SET(listener, &readable);
    check("fdset_no_duplicate", readable.fd_count, 2);

    /* "All three descriptor parameters were null" is WSAEINVAL, and so are three empty sets. */
    CHECK_FAILS("null_sets_select", select(0, NULL, NULL, NULL, &now), SOCKET_ERROR, WSAEINVAL);
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    FD_ZERO(&failed);
    CHECK_FAILS("empty_sets_select",
                select(0, &readable, &writable, &failed, &now),
                SOCKET_ERROR, WSAEINVAL);

    /* A closed socket in a set fails the whole call, even beside a ready one. The peer's
     * close makes the server readable, with recv returning 0 for the orderly end. */
    check("client_close", closesocket(client), 0);
    FD_ZERO(&readable);
    FD_SET(client, &readable);
    CHECK_FAILS("closed_select",
                select(0, &readable, NULL, NULL, &now),
                SOCKET_ERROR, WSAENOTSOCK);
    FD_ZERO(&readable);
    FD_SET(server, &readable);
    FD_SET(client, &readable);
    CHECK_FAILS("closed_beside_open_select",
                select(0, &readable, NULL, NULL, &patience),
                SOCKET_ERROR, WSAENOTSOCK);
    FD_ZERO(&readable);
    FD_SET(server, &readable);
    check("peer_closed_select", select(0, &readable, NULL, NULL, &patience), 1);
    check("peer_closed_readable", FD_ISSET(server, &readable), 1);
    check("peer_closed_recv", recv(server, buffer, (int)sizeof buffer, 0), 0);

    check("server_close", closesocket(server), 0);
    check("listener_close", closesocket(listener), 0);
    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
