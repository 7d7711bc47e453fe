/* A loopback echo inside one process, on blocking sockets: the client sends 1, 1000 and
 * 60000 bytes, the accepted socket echoes them, and the client must get every byte back in
 * order. With a single thread the transfer goes in steps of at most 16 KiB (the client sends
 * one step, the server reads and returns it, the client reads it back), which loopback
 * buffers always hold, so no send can block for want of a reader. Then each side sees the
 * other's close as recv returning 0. */
#include <winsock2.h>

#include "checks.h"
#include "loopback.h"

#define LARGEST 60000
#define STEP 16384

/* Never a Winsock error code: the peer closed before the expected bytes arrived. */
#define ENDED_EARLY (-1)

static unsigned char outgoing[LARGEST];
static unsigned char relay[STEP];
static unsigned char incoming[LARGEST];

/* Sends all of data[0..length); returns 0 or the Winsock error. */
static int send_all(SOCKET s, const unsigned char *data, int length)
{
    while (length > 0) {
        int sent = send(s, (const char *)data, length, 0);

        if (sent == SOCKET_ERROR)
            return WSAGetLastError();
        data += sent;
        length -= sent;
    }
    return 0;
}

/* Receives exactly length bytes; returns 0, the Winsock error, or ENDED_EARLY. */
static int recv_all(SOCKET s, unsigned char *data, int length)
{
    while (length > 0) {
        int received = recv(s, (char *)data, length, 0);

        if (received == SOCKET_ERROR)
            return WSAGetLastError();
        if (received == 0)
            return ENDED_EARLY;
        data += received;
        length -= received;
    }
    return 0;
}

/* Echoes size bytes through the server and back; returns 0 or the first failure. */
static int echo(SOCKET client, SOCKET server, int size)
{
    int offset, status = 0;

    for (offset = 0; offset < size; offset++)
        outgoing[offset] = (unsigned char)((offset * 31 + size) & 0xff);
    for (offset = 0; offset < LARGEST; offset++)
        incoming[offset] = 0;
    for (offset = 0; offset < size && status == 0; offset += STEP) {
        int step = size - offset < STEP ? size - offset : STEP;

        status = send_all(client, outgoing + offset, step);
        if (status == 0)
            status = recv_all(server, relay, step);
        if (status == 0)
            status = send_all(server, relay, step);
        if (status == 0)
            status = recv_all(client, incoming + offset, step);
    }
    return status;
}

static int mismatched_bytes(int size)
{
    int i, count = 0;

    for (i = 0; i < size; i++)
        count += outgoing[i] != incoming[i];
    return count;
}

static SOCKET accept_one(SOCKET listener, SOCKET *client, const struct sockaddr_in *address)
{
    *client = open_client(address);
    if (*client == INVALID_SOCKET)
        return INVALID_SOCKET;
    return accept(listener, NULL, NULL);
}

int main(void)
{
    WSADATA wsa;
    struct sockaddr_in address;
    SOCKET listener, client, server;
    unsigned char byte;

    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();
    listener = open_listener(&address);
    if (!check("listener_open", setup_error(listener != INVALID_SOCKET), 0))
        return checks_finish();
    server = accept_one(listener, &client, &address);
    if (!check("connect_and_accept", setup_error(server != INVALID_SOCKET), 0))
        return checks_finish();

    check("echo_1", echo(client, server, 1), 0);
    check("echo_1_mismatched_bytes", mismatched_bytes(1), 0);
    check("echo_1000", echo(client, server, 1000), 0);
    check("echo_1000_mismatched_bytes", mismatched_bytes(1000), 0);
    check("echo_60000", echo(client, server, LARGEST), 0);
    check("echo_60000_mismatched_bytes", mismatched_bytes(LARGEST), 0);

    /* The client closes first: the server reads the end of the stream. */
    check("client_close", closesocket(client), 0);
    check("server_sees_end", recv(server, (char *)&byte, 1, 0), 0);
    check("server_close", closesocket(server), 0);

    /* A second connection, closed from the server side this time. */
    server = accept_one(listener, &client, &address);
    if (!check("second_connect_and_accept", setup_error(server != INVALID_SOCKET), 0))
        return checks_finish();
    check("second_echo", echo(client, server, 1000), 0);
    check("second_echo_mismatched_bytes", mismatched_bytes(1000), 0);
    check("second_server_close", closesocket(server), 0);
    check("client_sees_end", recv(client, (char *)&byte, 1, 0), 0);
    check("second_client_close", closesocket(client), 0);

    check("listener_close", closesocket(listener), 0);
    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
