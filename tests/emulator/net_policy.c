/* Reaching out from a machine without routes, and listening on the wildcard.
 *
 * The outside addresses are documentation addresses (RFC 5737), which are nobody's; the
 * tests run this program only where they cannot be reached: under ws2core's default network
 * policy (loopback only), and under Wine in a network namespace with only loopback up. Both
 * are a machine without a route there, and the checks are what Windows reports on one:
 *
 * - a blocking connect fails with WSAENETUNREACH;
 * - a non-blocking connect says WSAEWOULDBLOCK (connect's page: a non-blocking connect
 *   "cannot be completed immediately") and then fails as any failed connect does: select
 *   reports the socket in exceptfds, SO_ERROR gives the code (and is cleared by reading it);
 * - so does one made non-blocking by WSAEventSelect, with FD_CONNECT and the code in
 *   iErrorCode[FD_CONNECT_BIT];
 *   Wine 8 differs there (programs.WINE_DIFFERS): it passes Linux's immediate failure
 *   through, WSAENETUNREACH from connect itself, and then nothing is pending. The
 *   *_outcome checks hold either way: how the attempt ended, whenever that was said;
 * - a bind to an address that is not this machine's fails with WSAEADDRNOTAVAIL;
 * - a datagram sent to an outside address fails with WSAENETUNREACH (the sink takes it);
 * - a listener bound to the wildcard shows the wildcard in getsockname, and a client on
 *   127.0.0.1 reaches it (loopback is this machine).
 *
 * With the argument "sinkhole" the program expects what ws2core's sinkhole policy gives: the
 * outside connects succeed (carried to a sink on loopback, which answers an HTTP request on
 * port 80 with SINK_ANSWER), getpeername shows the address asked for, and a select reports
 * the non-blocking connect writable. A bind to an outside address still fails; the wildcard
 * listener is the same.
 *
 * A name not on this machine (www.example.com) is looked up last, with getaddrinfo and
 * gethostbyname: ws2core's policy answers it (x_ checks: Windows on a machine without routes
 * asks a DNS server it cannot reach, and what it then says is not ws2core's business):
 * loopback only refuses it, WSAHOST_NOT_FOUND; the sinkhole answers 198.51.100.1. */
#include <winsock2.h>
#include <ws2tcpip.h>

#include "checks.h"
#include "loopback.h"

/* What the sinkhole policy of the tests answers on port 80 (test_policy_programs.py). */
#define SINK_ANSWER "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
#define REQUEST "GET / HTTP/1.0\r\n\r\n"

static int sinkhole;

/* a.b.c.d:port. Byte order written out by hand, as loopback.h does, to keep the imports
 * within what the emulator implements. */
static struct sockaddr_in ipv4_address(int a, int b, int c, int d, unsigned port)
{
    struct sockaddr_in address = {0};
    unsigned char *port_bytes = (unsigned char *)&address.sin_port;

    address.sin_family = AF_INET;
    port_bytes[0] = (unsigned char)(port >> 8);
    port_bytes[1] = (unsigned char)(port & 0xff);
    address.sin_addr.S_un.S_un_b.s_b1 = (unsigned char)a;
    address.sin_addr.S_un.S_un_b.s_b2 = (unsigned char)b;
    address.sin_addr.S_un.S_un_b.s_b3 = (unsigned char)c;
    address.sin_addr.S_un.S_un_b.s_b4 = (unsigned char)d;
    return address;
}

static unsigned port_of(const struct sockaddr_in *address)
{
    const unsigned char *port_bytes = (const unsigned char *)&address->sin_port;

    return (unsigned)port_bytes[0] << 8 | port_bytes[1];
}

/* The address as one number, a.b.c.d -> a*2^24 + ..., to compare in a check. */
static long long host_of(const struct sockaddr_in *address)
{
    const struct in_addr *in = &address->sin_addr;

    return (long long)in->S_un.S_un_b.s_b1 << 24 | (long long)in->S_un.S_un_b.s_b2 << 16
           | (long long)in->S_un.S_un_b.s_b3 << 8 | (long long)in->S_un.S_un_b.s_b4;
}

/* strcmp would be an import beyond what the emulator implements (same_bytes: checks.h). */
static int text_equal(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* SO_ERROR of s: the pending error, or the getsockopt failure's own code negated. */
static int so_error(SOCKET s, int *length)
{
    int value = -1;

    *length = (int)sizeof value;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&value, length) == SOCKET_ERROR)
        return -WSAGetLastError();
    return value;
}

static int connect_to(SOCKET s, const struct sockaddr_in *to)
{
    return connect(s, (const struct sockaddr *)to, (int)sizeof *to);
}

/* Receives until the peer has sent `want` bytes (or closes, or fails); returns the count. */
static int recv_some(SOCKET s, char *buffer, int want)
{
    int total = 0;

    while (total < want) {
        int received = recv(s, buffer + total, want - total, 0);

        if (received == SOCKET_ERROR || received == 0)
            break;
        total += received;
    }
    return total;
}

/* The blocking connect to 192.0.2.1:80: refused as by a missing route, or carried to the
 * sink, which answers the request. */
static void blocking_connect(void)
{
    struct sockaddr_in to = ipv4_address(192, 0, 2, 1, 80), peer;
    int length = (int)sizeof peer;
    char answer[64];
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);

    if (!check("blocking_socket", setup_error(s != INVALID_SOCKET), 0))
        return;
    if (!sinkhole) {
        CHECK_FAILS("blocking_connect", connect_to(s, &to), SOCKET_ERROR, WSAENETUNREACH);
        /* Nothing was connected: there is no peer to name. */
        CHECK_FAILS("blocking_no_peer", getpeername(s, (struct sockaddr *)&peer, &length),
                    SOCKET_ERROR, WSAENOTCONN);
        check("blocking_close", closesocket(s), 0);
        return;
    }
    check("blocking_connect", connect_to(s, &to), 0);
    check("blocking_peer", getpeername(s, (struct sockaddr *)&peer, &length), 0);
    check("blocking_peer_host", host_of(&peer), host_of(&to));
    check("blocking_peer_port", port_of(&peer), 80);
    check("blocking_send", send(s, REQUEST, (int)sizeof REQUEST - 1, 0),
          (int)sizeof REQUEST - 1);
    check("blocking_answer_length", recv_some(s, answer, (unsigned)sizeof SINK_ANSWER - 1),
          (unsigned)sizeof SINK_ANSWER - 1);
    check("blocking_answer_bytes", same_bytes(answer, SINK_ANSWER, (unsigned)sizeof SINK_ANSWER - 1),
          1);
    check("blocking_close", closesocket(s), 0);
}

/* Connects non-blocking s to *to: connect's result, with its error in *error (0 if none).
 * Only a connect in progress (WSAEWOULDBLOCK) has an outcome to wait for; after one that
 * failed at once (Wine's) the callers poll, so that they do not sit out their timeout. */
static int connect_nonblocking(SOCKET s, const struct sockaddr_in *to, int *error)
{
    int result;

    WSASetLastError(0);
    result = connect_to(s, to);
    *error = WSAGetLastError();
    return result;
}

/* A non-blocking connect (FIONBIO) to 198.51.100.1:443, then select and SO_ERROR. */
static void nonblocking_connect(void)
{
    struct sockaddr_in to = ipv4_address(198, 51, 100, 1, 443), peer;
    u_long nonblocking = 1;
    fd_set writable, failed;
    struct timeval wait = {0, 0};
    int result, error, pending, length, in_progress;
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);

    if (!check("nonblocking_socket", setup_error(s != INVALID_SOCKET), 0))
        return;
    check("nonblocking_fionbio", ioctlsocket(s, FIONBIO, &nonblocking), 0);
    result = connect_nonblocking(s, &to, &error);
    check("nonblocking_connect", result, SOCKET_ERROR);
    check("nonblocking_connect_error", error, WSAEWOULDBLOCK);
    in_progress = result == SOCKET_ERROR && error == WSAEWOULDBLOCK;

    /* The outcome: writable when connected, in exceptfds when the connect failed. */
    FD_ZERO(&writable);
    FD_ZERO(&failed);
    FD_SET(s, &writable);
    FD_SET(s, &failed);
    wait.tv_sec = in_progress ? 5 : 0;
    check("nonblocking_select", select(0, NULL, &writable, &failed, &wait), 1);
    check("nonblocking_writable", FD_ISSET(s, &writable) != 0, sinkhole);
    check("nonblocking_failed", FD_ISSET(s, &failed) != 0, !sinkhole);
    pending = so_error(s, &length);
    check("nonblocking_so_error", pending, sinkhole ? 0 : WSAENETUNREACH);
    check("nonblocking_so_error_length", length, (int)sizeof(int));
    /* Reading SO_ERROR cleared it. */
    check("nonblocking_so_error_cleared", so_error(s, &length), 0);
    /* How the attempt ended, whenever that was said: the same code either way. */
    check("nonblocking_outcome", in_progress ? pending : error, sinkhole ? 0 : WSAENETUNREACH);
    if (sinkhole) {
        length = (int)sizeof peer;
        check("nonblocking_peer", getpeername(s, (struct sockaddr *)&peer, &length), 0);
        check("nonblocking_peer_host", host_of(&peer), host_of(&to));
        check("nonblocking_peer_port", port_of(&peer), 443);
    }
    check("nonblocking_close", closesocket(s), 0);
}

/* A connect made non-blocking by WSAEventSelect, to 203.0.113.7:8080: FD_CONNECT says how
 * it ended. */
static void event_connect(void)
{
    struct sockaddr_in to = ipv4_address(203, 0, 113, 7, 8080);
    WSANETWORKEVENTS events;
    WSAEVENT event = WSACreateEvent();
    int result, error, in_progress;
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);

    if (!check("event_setup", setup_error(s != INVALID_SOCKET && event != WSA_INVALID_EVENT), 0))
        return;
    check("event_select", WSAEventSelect(s, event, FD_CONNECT), 0);
    result = connect_nonblocking(s, &to, &error);
    check("event_connect", result, SOCKET_ERROR);
    check("event_connect_error", error, WSAEWOULDBLOCK);
    in_progress = result == SOCKET_ERROR && error == WSAEWOULDBLOCK;
    check("event_wait",
          WSAWaitForMultipleEvents(1, &event, FALSE, in_progress ? 5000 : 0, FALSE),
          WSA_WAIT_EVENT_0);
    events.lNetworkEvents = 0;
    events.iErrorCode[FD_CONNECT_BIT] = -1;
    check("event_enum", WSAEnumNetworkEvents(s, event, &events), 0);
    check("event_bits", events.lNetworkEvents, FD_CONNECT);
    check("event_connect_code", events.iErrorCode[FD_CONNECT_BIT],
          sinkhole ? 0 : WSAENETUNREACH);
    check("event_outcome", in_progress ? events.iErrorCode[FD_CONNECT_BIT] : error,
          sinkhole ? 0 : WSAENETUNREACH);
    check("event_close", closesocket(s), 0);
    check("event_close_event", WSACloseEvent(event), TRUE);
}

/* A name that is not this machine's: the policy's to answer (x_ checks). */
static void outside_name(void)
{
    struct sockaddr_in sink_address = ipv4_address(198, 51, 100, 1, 80);
    ADDRINFOA hints, *result = NULL;
    struct hostent *host;
    int code;

    hints.ai_flags = 0;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_addrlen = 0;
    hints.ai_canonname = NULL;
    hints.ai_addr = NULL;
    hints.ai_next = NULL;
    code = getaddrinfo("www.example.com", "80", &hints, &result);
    if (check("x_outside_getaddrinfo", code, sinkhole ? 0 : WSAHOST_NOT_FOUND) && sinkhole) {
        const struct sockaddr_in *answer = (const struct sockaddr_in *)result->ai_addr;
        check("x_outside_getaddrinfo_address",
              answer->sin_addr.s_addr == sink_address.sin_addr.s_addr, 1);
        check("x_outside_getaddrinfo_port", port_of(answer), 80);
        freeaddrinfo(result);
    }
    WSASetLastError(0);
    host = gethostbyname("www.example.com");
    check("x_outside_gethostbyname_error", WSAGetLastError(), sinkhole ? 0 : WSAHOST_NOT_FOUND);
    if (check("x_outside_gethostbyname", host != NULL, sinkhole) && sinkhole)
        check("x_outside_gethostbyname_address",
              *(u_long *)host->h_addr_list[0] == sink_address.sin_addr.s_addr, 1);
}

/* A bind to 203.0.113.5, an address this machine does not have. */
static void outside_bind(void)
{
    struct sockaddr_in at = ipv4_address(203, 0, 113, 5, 0);
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);

    if (!check("outside_bind_socket", setup_error(s != INVALID_SOCKET), 0))
        return;
    CHECK_FAILS("outside_bind", bind(s, (const struct sockaddr *)&at, (int)sizeof at),
                SOCKET_ERROR, WSAEADDRNOTAVAIL);
    check("outside_bind_close", closesocket(s), 0);
}

/* A datagram to 192.0.2.1:53: refused as by a missing route (the policy asks about each
 * datagram's destination), or carried to the sink. */
static void outside_sendto(void)
{
    struct sockaddr_in to = ipv4_address(192, 0, 2, 1, 53);
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);

    if (!check("outside_sendto_socket", setup_error(s != INVALID_SOCKET), 0))
        return;
    if (!sinkhole)
        CHECK_FAILS("outside_sendto", sendto(s, "q", 1, 0, (const struct sockaddr *)&to,
                                             (int)sizeof to),
                    SOCKET_ERROR, WSAENETUNREACH);
    else
        check("outside_sendto_sunk", sendto(s, "q", 1, 0, (const struct sockaddr *)&to,
                                            (int)sizeof to), 1);
    check("outside_sendto_close", closesocket(s), 0);
}

/* A listener on 0.0.0.0 at a port the system chose, reached from 127.0.0.1. */
static void wildcard_listener(void)
{
    struct sockaddr_in any = ipv4_address(0, 0, 0, 0, 0), bound, to, peer;
    int length = (int)sizeof bound;
    char buffer[8];
    SOCKET listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP), client, server;

    if (!check("wildcard_socket", setup_error(listener != INVALID_SOCKET), 0))
        return;
    check("wildcard_bind", bind(listener, (const struct sockaddr *)&any, (int)sizeof any), 0);
    check("wildcard_listen", listen(listener, 4), 0);
    check("wildcard_name", getsockname(listener, (struct sockaddr *)&bound, &length), 0);
    check("wildcard_name_length", length, (int)sizeof bound);
    check("wildcard_name_family", bound.sin_family, AF_INET);
    check("wildcard_name_host", host_of(&bound), 0);
    check("wildcard_name_has_port", port_of(&bound) != 0, 1);

    to = loopback_address(port_of(&bound));
    client = open_client(&to);
    if (!check("loopback_connect", setup_error(client != INVALID_SOCKET), 0)) {
        closesocket(listener);
        return;
    }
    length = (int)sizeof peer;
    server = accept(listener, (struct sockaddr *)&peer, &length);
    if (!check("loopback_accept", setup_error(server != INVALID_SOCKET), 0)) {
        closesocket(client);
        closesocket(listener);
        return;
    }
    check("loopback_accept_peer_host", host_of(&peer), 0x7f000001);
    length = (int)sizeof peer;
    check("loopback_client_peer", getpeername(client, (struct sockaddr *)&peer, &length), 0);
    check("loopback_client_peer_host", host_of(&peer), 0x7f000001);
    check("loopback_client_peer_port_is_listener", port_of(&peer) == port_of(&bound), 1);

    check("loopback_send", send(client, "ping", 4, 0), 4);
    check("loopback_recv", recv_some(server, buffer, 4), 4);
    check("loopback_recv_bytes", same_bytes(buffer, "ping", 4), 1);
    check("loopback_reply", send(server, "pong", 4, 0), 4);
    check("loopback_reply_recv", recv_some(client, buffer, 4), 4);
    check("loopback_reply_bytes", same_bytes(buffer, "pong", 4), 1);

    check("loopback_client_close", closesocket(client), 0);
    check("loopback_server_close", closesocket(server), 0);
    check("wildcard_close", closesocket(listener), 0);
}

int main(int argc, char **argv)
{
    WSADATA wsa;

    sinkhole = argc > 1 && text_equal(argv[1], "sinkhole");
    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();
    blocking_connect();
    nonblocking_connect();
    event_connect();
    outside_bind();
    outside_sendto();
    wildcard_listener();
    outside_name();
    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
