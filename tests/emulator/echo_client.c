/* A client of an echo server the test runs on the host at 127.0.0.1: the port comes from the
 * first argument, or from the environment variable WS2CORE_ECHO_PORT when there is no
 * argument (an emulator may start the program without a command line). Each message must
 * come back whole and in order; then the client closes. */
#include <stdlib.h>
#include <winsock2.h>

#include "checks.h"
#include "loopback.h"

#define LARGEST 20000

static unsigned char outgoing[LARGEST];
static unsigned char incoming[LARGEST];

/* The decimal port in text, or 0 when text is missing or not a port number. */
static unsigned parse_port(const char *text)
{
    unsigned port = 0;

    if (text == NULL || *text == '\0')
        return 0;
    for (; *text != '\0'; text++) {
        if (*text < '0' || *text > '9')
            return 0;
        port = port * 10 + (unsigned)(*text - '0');
        if (port > 65535)
            return 0;
    }
    return port;
}

/* Sends size bytes of a pattern and reads size bytes back; returns 0, the Winsock error,
 * or -1 (never a Winsock code) when the server closed early. *mismatched receives the
 * number of bytes that came back different. */
static int echo(SOCKET s, int size, int *mismatched)
{
    int done, i;

    for (i = 0; i < size; i++) {
        outgoing[i] = (unsigned char)((i * 7 + size) & 0xff);
        incoming[i] = 0;
    }
    *mismatched = size;
    for (done = 0; done < size;) {
        int sent = send(s, (const char *)outgoing + done, size - done, 0);

        if (sent == SOCKET_ERROR)
            return WSAGetLastError();
        done += sent;
    }
    for (done = 0; done < size;) {
        int received = recv(s, (char *)incoming + done, size - done, 0);

        if (received == SOCKET_ERROR)
            return WSAGetLastError();
        if (received == 0)
            return -1;
        done += received;
    }
    *mismatched = 0;
    for (i = 0; i < size; i++)
        *mismatched += outgoing[i] != incoming[i];
    return 0;
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    struct sockaddr_in address;
    SOCKET s;
    unsigned port;
    int mismatched;

    /* argc is 0 when the start-up code was given no command line at all. */
    port = parse_port(argc > 1 ? argv[1] : getenv("WS2CORE_ECHO_PORT"));
    if (!check("port_given", port != 0, 1))
        return checks_finish();
    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();
    address = loopback_address(port);
    s = open_client(&address);
    if (!check("connect", setup_error(s != INVALID_SOCKET), 0))
        return checks_finish();

    check("echo_5", echo(s, 5, &mismatched), 0);
    check("echo_5_mismatched_bytes", mismatched, 0);
    check("echo_1", echo(s, 1, &mismatched), 0);
    check("echo_1_mismatched_bytes", mismatched, 0);
    check("echo_3000", echo(s, 3000, &mismatched), 0);
    check("echo_3000_mismatched_bytes", mismatched, 0);
    check("echo_20000", echo(s, LARGEST, &mismatched), 0);
    check("echo_20000_mismatched_bytes", mismatched, 0);

    check("close", closesocket(s), 0);
    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
