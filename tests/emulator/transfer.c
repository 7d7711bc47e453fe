/* Sockets and data: WSASocketA/W (with a WSAPROTOCOL_INFO), sendto, recvfrom, WSASend,
 * WSARecv, WSASendTo and WSARecvFrom over loopback UDP and TCP, with right and wrong
 * arguments: results, byte counts, the flags written back, from-addresses, error codes,
 * MSG_PEEK, a datagram larger than the buffers (WSAEMSGSIZE, the buffers filled, the count
 * and flags left alone) and an lpOverlapped on a socket made without WSA_FLAG_OVERLAPPED
 * (ignored, as on Windows); WSADuplicateSocketA/W within this process, the duplicate
 * working on once the first handle is closed.
 *
 * Windows facts beyond the documentation come from Wine's tests that hold on Windows
 * (dlls/ws2_32/tests/sock.c: test_WSASocket: an af, type or protocol of 0 is taken from the
 * protocol info, an explicit one wins; test_WSADuplicateSocket: another process id is
 * WSAEINVAL, checked before a NULL lpProtocolInfo, WSAEFAULT).  recvfrom with a fromlen below the sockaddr's size
 * is WSAEFAULT on Windows, found before anything is received; Wine 8 receives instead
 * (programs.WINE_DIFFERS).  Left out: a NULL lpNumberOfBytesRecvd and a bad lpProtocolInfo
 * (WSAEFAULT; both crash Wine 8), a NULL destination on an unconnected datagram socket
 * (WSAEDESTADDRREQ in the documentation; Wine: WSAEINVAL), the flags a successful MSG_PEEK
 * writes back (Wine keeps MSG_PEEK; ReactOS's msafd writes the received message's flags, 0),
 * calls on a non-socket before WSAStartup (WSANOTINITIALISED; Wine: WSAENOTSOCK) and a
 * recvfrom with a NULL fromlen (WSAEFAULT; Wine receives first).  An overlapped send on an
 * overlapped socket completes at once (overlapped_events.c has the rest). */
#include <winsock2.h>

#include "checks.h"
#include "loopback.h"

#define NOT_A_SOCKET ((SOCKET)0x12344)
#define HUGE_DATAGRAM 70000

static char huge[HUGE_DATAGRAM];

static int same(const char *got, const char *want, int length)
{
    int i;

    for (i = 0; i < length; i++)
        if (got[i] != want[i])
            return 0;
    return 1;
}

static void fill(char *buffer, char value, int length)
{
    int i;

    for (i = 0; i < length; i++)
        buffer[i] = value;
}

static int socket_type(SOCKET s)
{
    int type = -1, length = (int)sizeof type;

    if (getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&type, &length) == SOCKET_ERROR)
        return -WSAGetLastError();
    return type;
}

static int set_nonblocking(SOCKET s, u_long on)
{
    return ioctlsocket(s, FIONBIO, &on);
}

/* A UDP socket bound to 127.0.0.1 at a port the system chose, its address in *bound. */
static SOCKET bound_udp(SOCKET s, struct sockaddr_in *bound)
{
    struct sockaddr_in any_port = loopback_address(0);
    int length = (int)sizeof *bound;

    if (s == INVALID_SOCKET)
        return INVALID_SOCKET;
    if (bind(s, (const struct sockaddr *)&any_port, (int)sizeof any_port) == SOCKET_ERROR
        || getsockname(s, (struct sockaddr *)bound, &length) == SOCKET_ERROR) {
        close_keeping_error(s);
        return INVALID_SOCKET;
    }
    return s;
}

static void protocol_info_a(WSAPROTOCOL_INFOA *info, int af, int type, int protocol)
{
    fill((char *)info, 0, (int)sizeof *info);
    info->iAddressFamily = af;
    info->iSocketType = type;
    info->iProtocol = protocol;
}

static void test_wsasocket(void)
{
    WSAPROTOCOL_INFOA info_a;
    WSAPROTOCOL_INFOW info_w;
    SOCKET s;

    protocol_info_a(&info_a, AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info_a, 0, 0);
    check("wsasocketa_from_info", s != INVALID_SOCKET, 1);
    check("wsasocketa_from_info_type", socket_type(s), SOCK_DGRAM);
    closesocket(s);

    fill((char *)&info_w, 0, (int)sizeof info_w);
    info_w.iAddressFamily = AF_INET;
    info_w.iSocketType = SOCK_STREAM;
    info_w.iProtocol = IPPROTO_TCP;
    s = WSASocketW(0, 0, 0, &info_w, 0, WSA_FLAG_OVERLAPPED);
    check("wsasocketw_zeros_from_info", s != INVALID_SOCKET, 1);
    check("wsasocketw_zeros_from_info_type", socket_type(s), SOCK_STREAM);
    closesocket(s);

    /* Explicit arguments win over the structure. */
    s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, &info_a, 0, 0);
    check("wsasocketa_arguments_win", socket_type(s), SOCK_STREAM);
    closesocket(s);

    protocol_info_a(&info_a, -1, -1, -1);
    CHECK_FAILS("wsasocketa_info_bad_family",
                WSASocketA(0, 0, IPPROTO_UDP, &info_a, 0, 0) != INVALID_SOCKET, 0,
                WSAEAFNOSUPPORT);

    s = WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, 0x10000000);
    check("wsasocketw_unknown_flag_ignored", socket_type(s), SOCK_DGRAM);
    closesocket(s);
}

static void test_udp(void)
{
    static const char pattern[] = "0123456789012345678901234567890123456789"
                                  "0123456789012345678901234567890123456789"
                                  "01234567890123456789";
    struct sockaddr_in to, sender_address, from;
    WSAOVERLAPPED overlapped;
    WSABUF one, two[2];
    DWORD count, flags;
    char buffer[128], first[3], second[4];
    int fromlen;
    SOCKET receiver, sender, plain;

    /* WSA_FLAG_OVERLAPPED left out: its calls ignore an lpOverlapped. */
    receiver = bound_udp(WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, 0), &to);
    sender = bound_udp(socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP), &sender_address);
    plain = WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, 0);
    if (!check("udp_setup", setup_error(receiver != INVALID_SOCKET && sender != INVALID_SOCKET
                                        && plain != INVALID_SOCKET), 0))
        return;

    /* sendto and recvfrom, with the sender's address. */
    check("sendto_count", sendto(sender, "hello", 5, 0, (const struct sockaddr *)&to,
                                 (int)sizeof to), 5);
    fill((char *)&from, (char)0xcc, (int)sizeof from);
    fromlen = (int)sizeof from;
    check("recvfrom_count", recvfrom(receiver, buffer, (int)sizeof buffer, 0,
                                     (struct sockaddr *)&from, &fromlen), 5);
    check("recvfrom_data", same(buffer, "hello", 5), 1);
    check("recvfrom_fromlen", fromlen, (int)sizeof from);
    check("recvfrom_from_family", from.sin_family, AF_INET);
    check("recvfrom_from_port", from.sin_port == sender_address.sin_port, 1);
    check("recvfrom_from_address", (int)from.sin_addr.S_un.S_un_b.s_b1, 127);

    CHECK_FAILS("sendto_not_socket", sendto(NOT_A_SOCKET, "x", 1, 0,
                                            (const struct sockaddr *)&to, (int)sizeof to),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("sendto_short_tolen", sendto(sender, "x", 1, 0, (const struct sockaddr *)&to,
                                             (int)sizeof to - 1),
                SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("sendto_null_buffer", sendto(sender, NULL, 5, 0, (const struct sockaddr *)&to,
                                             (int)sizeof to),
                SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("sendto_too_big", sendto(sender, huge, HUGE_DATAGRAM, 0,
                                         (const struct sockaddr *)&to, (int)sizeof to),
                SOCKET_ERROR, WSAEMSGSIZE);

    /* MSG_PEEK leaves the datagram; WSARecvFrom then spreads it over two buffers. */
    check("peek_sendto", sendto(sender, "peek!", 5, 0, (const struct sockaddr *)&to,
                                (int)sizeof to), 5);
    one.buf = buffer;
    one.len = sizeof buffer;
    count = 77;
    flags = MSG_PEEK;
    check("wsarecv_peek", WSARecv(receiver, &one, 1, &count, &flags, NULL, NULL), 0);
    check("wsarecv_peek_count", (long long)count, 5);
    check("wsarecv_peek_data", same(buffer, "peek!", 5), 1);
    check("recvfrom_peek_again", recvfrom(receiver, buffer, (int)sizeof buffer, MSG_PEEK,
                                          NULL, NULL), 5);
    two[0].buf = first;
    two[0].len = sizeof first;
    two[1].buf = second;
    two[1].len = sizeof second;
    count = 77;
    flags = 0;
    fill((char *)&from, 0, (int)sizeof from);
    fromlen = (int)sizeof from;
    check("wsarecvfrom_two_buffers", WSARecvFrom(receiver, two, 2, &count, &flags,
                                                 (struct sockaddr *)&from, &fromlen, NULL,
                                                 NULL), 0);
    check("wsarecvfrom_two_buffers_count", (long long)count, 5);
    check("wsarecvfrom_two_buffers_flags", (long long)flags, 0);
    check("wsarecvfrom_two_buffers_data", same(first, "pee", 3) && same(second, "k!", 2), 1);
    check("wsarecvfrom_two_buffers_port", from.sin_port == sender_address.sin_port, 1);
    check("wsarecvfrom_two_buffers_fromlen", fromlen, (int)sizeof from);

    /* WSASendTo gathers its buffers into one datagram. */
    two[0].buf = (char *)"ab";
    two[0].len = 2;
    two[1].buf = (char *)"cde";
    two[1].len = 3;
    count = 77;
    check("wsasendto_two_buffers", WSASendTo(sender, two, 2, &count, 0,
                                             (const struct sockaddr *)&to, (int)sizeof to,
                                             NULL, NULL), 0);
    check("wsasendto_two_buffers_count", (long long)count, 5);
    check("wsasendto_received", recvfrom(receiver, buffer, (int)sizeof buffer, 0, NULL, NULL),
          5);
    check("wsasendto_received_data", same(buffer, "abcde", 5), 1);

    /* A datagram larger than the buffers: WSAEMSGSIZE, the buffers filled, the sender's
     * address written, the count and the flags left alone, the rest lost. */
    check("big_sendto", sendto(sender, pattern, 100, 0, (const struct sockaddr *)&to,
                               (int)sizeof to), 100);
    fill(buffer, 0, (int)sizeof buffer);
    fill((char *)&from, 0, (int)sizeof from);
    fromlen = (int)sizeof from;
    CHECK_FAILS("recvfrom_too_big", recvfrom(receiver, buffer, 10, 0, (struct sockaddr *)&from,
                                             &fromlen),
                SOCKET_ERROR, WSAEMSGSIZE);
    check("recvfrom_too_big_filled", same(buffer, pattern, 10) && buffer[10] == 0, 1);
    check("recvfrom_too_big_port", from.sin_port == sender_address.sin_port, 1);
    check("recvfrom_too_big_fromlen", fromlen, (int)sizeof from);

    check("big_sendto_peeked", sendto(sender, pattern, 100, 0, (const struct sockaddr *)&to,
                                      (int)sizeof to), 100);
    fill(buffer, 0, (int)sizeof buffer);
    one.len = 10;
    count = 77;
    flags = MSG_PEEK;
    CHECK_FAILS("wsarecv_peek_too_big", WSARecv(receiver, &one, 1, &count, &flags, NULL, NULL),
                SOCKET_ERROR, WSAEMSGSIZE);
    check("wsarecv_peek_too_big_count", (long long)count, 77);
    check("wsarecv_peek_too_big_flags", (long long)flags, MSG_PEEK);
    check("wsarecv_peek_too_big_filled", same(buffer, pattern, 10) && buffer[10] == 0, 1);
    count = 77;
    flags = 0;
    CHECK_FAILS("wsarecv_too_big", WSARecv(receiver, &one, 1, &count, &flags, NULL, NULL),
                SOCKET_ERROR, WSAEMSGSIZE);
    check("wsarecv_too_big_count", (long long)count, 77);
    check("wsarecv_too_big_flags", (long long)flags, 0);

    /* No buffers at all: every datagram is too big. */
    check("empty_sendto", sendto(sender, "12345", 5, 0, (const struct sockaddr *)&to,
                                 (int)sizeof to), 5);
    count = 77;
    CHECK_FAILS("wsarecv_no_buffers", WSARecv(receiver, &one, 0, &count, &flags, NULL, NULL),
                SOCKET_ERROR, WSAEMSGSIZE);

    /* Wrong arguments, on a non-blocking socket with nothing waiting: each is found before
     * the receive would block (and no send sends). */
    check("nonblocking", set_nonblocking(receiver, 1), 0);
    one.len = sizeof buffer;
    count = 77;
    flags = 0;
    CHECK_FAILS("wsarecv_not_socket", WSARecv(NOT_A_SOCKET, &one, 1, &count, &flags, NULL,
                                              NULL),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("wsarecvfrom_not_socket", WSARecvFrom(NOT_A_SOCKET, &one, 1, &count, &flags,
                                                      NULL, NULL, NULL, NULL),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("recvfrom_not_socket", recvfrom(NOT_A_SOCKET, buffer, 1, 0, NULL, NULL),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("wsarecv_null_buffers", WSARecv(receiver, NULL, 1, &count, &flags, NULL, NULL),
                SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("wsarecv_null_flags", WSARecv(receiver, &one, 1, &count, NULL, NULL, NULL),
                SOCKET_ERROR, WSAEFAULT);
    fromlen = (int)sizeof from - 1;
    CHECK_FAILS("recvfrom_short_fromlen", recvfrom(receiver, buffer, (int)sizeof buffer, 0,
                                                   (struct sockaddr *)&from, &fromlen),
                SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("wsasend_not_socket", WSASend(NOT_A_SOCKET, &one, 1, &count, 0, NULL, NULL),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("wsasendto_null_buffers", WSASendTo(sender, NULL, 1, &count, 0,
                                                    (const struct sockaddr *)&to,
                                                    (int)sizeof to, NULL, NULL),
                SOCKET_ERROR, WSAEFAULT);
    one.len = 5;
    CHECK_FAILS("wsasendto_null_count", WSASendTo(sender, &one, 1, NULL, 0,
                                                  (const struct sockaddr *)&to, (int)sizeof to,
                                                  NULL, NULL),
                SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("wsasendto_short_tolen", WSASendTo(sender, &one, 1, &count, 0,
                                                   (const struct sockaddr *)&to,
                                                   (int)sizeof to - 1, NULL, NULL),
                SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("wsasendto_oob_datagram", WSASendTo(sender, &one, 1, &count, MSG_OOB,
                                                    (const struct sockaddr *)&to,
                                                    (int)sizeof to, NULL, NULL),
                SOCKET_ERROR, WSAEOPNOTSUPP);
    count = 77;
    flags = 0;
    one.len = sizeof buffer;
    CHECK_FAILS("wsarecv_would_block", WSARecv(receiver, &one, 1, &count, &flags, NULL, NULL),
                SOCKET_ERROR, WSAEWOULDBLOCK);
    check("wsarecv_would_block_count", (long long)count, 77);
    CHECK_FAILS("recvfrom_would_block", recvfrom(receiver, buffer, (int)sizeof buffer, 0,
                                                 NULL, NULL),
                SOCKET_ERROR, WSAEWOULDBLOCK);
    check("blocking", set_nonblocking(receiver, 0), 0);

    /* An lpOverlapped on sockets made without WSA_FLAG_OVERLAPPED is ignored. */
    fill((char *)&overlapped, 0, (int)sizeof overlapped);
    one.buf = (char *)"plain";
    one.len = 5;
    count = 77;
    check("wsasendto_overlapped_ignored", WSASendTo(plain, &one, 1, &count, 0,
                                                    (const struct sockaddr *)&to,
                                                    (int)sizeof to, &overlapped, NULL), 0);
    check("wsasendto_overlapped_ignored_count", (long long)count, 5);
    one.buf = buffer;
    one.len = sizeof buffer;
    count = 77;
    flags = 0;
    check("wsarecvfrom_overlapped_ignored", WSARecvFrom(receiver, &one, 1, &count, &flags,
                                                        NULL, NULL, &overlapped, NULL), 0);
    check("wsarecvfrom_overlapped_ignored_count", (long long)count, 5);
    check("wsarecvfrom_overlapped_ignored_data", same(buffer, "plain", 5), 1);

    /* On an overlapped socket (socket() makes one) the send is an overlapped operation: a
     * datagram goes at once, the structure says so, and it is delivered. */
    one.buf = (char *)"x";
    one.len = 1;
    count = 77;
    check("overlapped_send", WSASendTo(sender, &one, 1, &count, 0, (const struct sockaddr *)&to,
                                       (int)sizeof to, &overlapped, NULL), 0);
    check("overlapped_send_count", (long long)count, 1);
    check("overlapped_send_internal", (long long)overlapped.Internal, 0);
    check("overlapped_send_internal_high", (long long)overlapped.InternalHigh, 1);
    check("overlapped_send_delivered", recvfrom(receiver, buffer, (int)sizeof buffer, 0, NULL,
                                                NULL), 1);
    closesocket(plain);
    closesocket(sender);
    closesocket(receiver);
}

/* WSADuplicateSocket within this process, then WSASocket with the protocol info: a second
 * handle to the same socket, which works on after the first is closed. */
static void test_duplicate(void)
{
    struct sockaddr_in address, other_address;
    WSAPROTOCOL_INFOA info_a;
    WSAPROTOCOL_INFOW info_w;
    char buffer[16];
    SOCKET source, duplicate, other, listener, client, server;

    source = bound_udp(WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, 0), &address);
    other = bound_udp(socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP), &other_address);
    if (!check("duplicate_setup", setup_error(source != INVALID_SOCKET
                                              && other != INVALID_SOCKET), 0))
        return;
    CHECK_FAILS("duplicate_not_socket",
                WSADuplicateSocketA(NOT_A_SOCKET, GetCurrentProcessId(), &info_a),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("duplicate_process_0_null_info", WSADuplicateSocketA(source, 0, NULL),
                SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("duplicate_null_info", WSADuplicateSocketA(source, GetCurrentProcessId(), NULL),
                SOCKET_ERROR, WSAEFAULT);
    fill((char *)&info_a, 0, (int)sizeof info_a);
    check("duplicate_a", WSADuplicateSocketA(source, GetCurrentProcessId(), &info_a), 0);
    check("duplicate_a_family", info_a.iAddressFamily, AF_INET);
    check("duplicate_a_type", info_a.iSocketType, SOCK_DGRAM);
    check("duplicate_a_protocol", info_a.iProtocol, IPPROTO_UDP);
    duplicate = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info_a,
                           0, 0);
    check("duplicate_a_socket", duplicate != INVALID_SOCKET && duplicate != source, 1);
    check("duplicate_a_sendto", sendto(other, "dup", 3, 0, (const struct sockaddr *)&address,
                                       (int)sizeof address), 3);
    check("duplicate_a_recvfrom", recvfrom(duplicate, buffer, (int)sizeof buffer, 0, NULL,
                                           NULL), 3);
    check("duplicate_a_close_source", closesocket(source), 0);
    check("duplicate_a_sendto_after", sendto(other, "after", 5, 0,
                                             (const struct sockaddr *)&address,
                                             (int)sizeof address), 5);
    check("duplicate_a_recvfrom_after", recvfrom(duplicate, buffer, (int)sizeof buffer, 0,
                                                 NULL, NULL), 5);
    check("duplicate_a_data", same(buffer, "after", 5), 1);
    check("duplicate_a_close", closesocket(duplicate), 0);
    closesocket(other);

    /* A connected TCP socket, through the W forms: the duplicate sends on the connection. */
    listener = open_listener(&address);
    client = listener == INVALID_SOCKET ? INVALID_SOCKET : open_client(&address);
    server = client == INVALID_SOCKET ? INVALID_SOCKET : accept(listener, NULL, NULL);
    if (!check("duplicate_tcp_setup", setup_error(server != INVALID_SOCKET), 0))
        return;
    fill((char *)&info_w, 0, (int)sizeof info_w);
    check("duplicate_w", WSADuplicateSocketW(client, GetCurrentProcessId(), &info_w), 0);
    check("duplicate_w_type", info_w.iSocketType, SOCK_STREAM);
    duplicate = WSASocketW(0, 0, 0, &info_w, 0, 0);
    check("duplicate_w_socket", duplicate != INVALID_SOCKET, 1);
    check("duplicate_w_close_client", closesocket(client), 0);
    check("duplicate_w_send", send(duplicate, "tcp", 3, 0), 3);
    check("duplicate_w_recv", recv(server, buffer, (int)sizeof buffer, 0), 3);
    check("duplicate_w_close", closesocket(duplicate), 0);
    check("duplicate_w_end", recv(server, buffer, (int)sizeof buffer, 0), 0);
    closesocket(server);
    closesocket(listener);
}

static void test_tcp(void)
{
    struct sockaddr_in address, from;
    WSABUF one, two[2];
    DWORD count, flags;
    char buffer[64], first[3], second[4];
    int fromlen;
    SOCKET listener, client, server;

    listener = open_listener(&address);
    client = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    server = INVALID_SOCKET;
    if (listener != INVALID_SOCKET && client != INVALID_SOCKET
        && connect(client, (const struct sockaddr *)&address, (int)sizeof address) == 0)
        server = accept(listener, NULL, NULL);
    if (!check("tcp_setup", setup_error(server != INVALID_SOCKET), 0))
        return;

    two[0].buf = (char *)"ab";
    two[0].len = 2;
    two[1].buf = (char *)"cde";
    two[1].len = 3;
    count = 77;
    check("wsasend_two_buffers", WSASend(client, two, 2, &count, 0, NULL, NULL), 0);
    check("wsasend_two_buffers_count", (long long)count, 5);
    count = 77;
    check("wsasend_no_buffers", WSASend(client, two, 0, &count, 0, NULL, NULL), 0);
    check("wsasend_no_buffers_count", (long long)count, 0);
    CHECK_FAILS("wsasend_null_buffers", WSASend(client, NULL, 1, &count, 0, NULL, NULL),
                SOCKET_ERROR, WSAEFAULT);

    one.buf = buffer;
    one.len = sizeof buffer;
    count = 77;
    flags = MSG_PEEK;
    check("tcp_wsarecv_peek", WSARecv(server, &one, 1, &count, &flags, NULL, NULL), 0);
    check("tcp_wsarecv_peek_count", (long long)count, 5);

    /* A stream socket ignores from and fromlen. */
    fill((char *)&from, 0x11, (int)sizeof from);
    fromlen = (int)sizeof from;
    check("tcp_recvfrom", recvfrom(server, buffer, 2, 0, (struct sockaddr *)&from, &fromlen), 2);
    check("tcp_recvfrom_data", same(buffer, "ab", 2), 1);
    check("tcp_recvfrom_fromlen", fromlen, (int)sizeof from);
    check("tcp_recvfrom_from_untouched", from.sin_port, 0x1111);

    two[0].buf = first;
    two[0].len = sizeof first;
    two[1].buf = second;
    two[1].len = sizeof second;
    count = 77;
    flags = 0;
    check("tcp_wsarecvfrom", WSARecvFrom(server, two, 2, &count, &flags, NULL, NULL, NULL,
                                         NULL), 0);
    check("tcp_wsarecvfrom_count", (long long)count, 3);
    check("tcp_wsarecvfrom_data", same(first, "cde", 3), 1);

    /* The end of the stream: a count of 0. */
    check("tcp_shutdown", shutdown(client, SD_SEND), 0);
    count = 77;
    flags = 0;
    check("tcp_wsarecv_end", WSARecv(server, &one, 1, &count, &flags, NULL, NULL), 0);
    check("tcp_wsarecv_end_count", (long long)count, 0);
    closesocket(server);
    closesocket(client);
    closesocket(listener);
}

int main(void)
{
    WSADATA wsa;

    CHECK_FAILS("wsasocketa_before_startup",
                WSASocketA(AF_INET, SOCK_DGRAM, 0, NULL, 0, 0) != INVALID_SOCKET, 0,
                WSANOTINITIALISED);
    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();

    test_wsasocket();
    test_udp();
    test_tcp();
    test_duplicate();

    check("wsacleanup", WSACleanup(), 0);
    CHECK_FAILS("wsasocketw_after_cleanup",
                WSASocketW(AF_INET, SOCK_STREAM, 0, NULL, 0, 0) != INVALID_SOCKET, 0,
                WSANOTINITIALISED);
    return checks_finish();
}
