/* Socket options, I/O controls, WSAPoll and WSAAccept over loopback: what setsockopt reads
 * and getsockopt writes (a BOOL given as one byte, the optlen written back, the options
 * Windows keeps in one byte), the errors for a short optlen, an unknown level or option and
 * NULL pointers; SO_PROTOCOL_INFOA and W on TCP and UDP over IPv4 and IPv6 (Wine's
 * test_set_getsockopt and protocol.c's service flags, both holding on Windows); ioctlsocket
 * and WSAIoctl with FIONBIO, FIONREAD and SIOCATMARK (an urgent byte waiting); WSAPoll
 * over a listener and a connected pair; WSAAccept without a condition function.  Facts
 * from Wine's dlls/ws2_32/tests/sock.c (test_set_getsockopt's option sizes hold on Windows)
 * and the functions' documentation.
 *
 * SIO_GET_EXTENSION_FUNCTION_POINTER gives ConnectEx's address (iocp_echo.c calls it).  A
 * condition function given to WSAAccept is left out: the Speakeasy adapter cannot run guest
 * code (WSAEOPNOTSUPP). */
#define _WIN32_WINNT 0x0600
#include <stddef.h>
#include <winsock2.h>
#include <ws2tcpip.h>

#include "checks.h"
#include "loopback.h"

#define NOT_A_SOCKET ((SOCKET)0x12344)
/* dwServiceFlags1 of Windows' TCP and UDP entries (Wine's protocol.c, test_service_flags) */
#define TCP_SERVICE (XP1_GUARANTEED_DELIVERY | XP1_GUARANTEED_ORDER | XP1_GRACEFUL_CLOSE \
                     | XP1_EXPEDITED_DATA | XP1_IFS_HANDLES)
#define UDP_SERVICE (XP1_CONNECTIONLESS | XP1_MESSAGE_ORIENTED | XP1_SUPPORT_BROADCAST \
                     | XP1_SUPPORT_MULTIPOINT | XP1_IFS_HANDLES)

/* getsockopt into an int preset to `preset` with optlen `room`: the result; *value and
 * *length get what came back. */
static int get_option(SOCKET s, int level, int name, int preset, int room, int *value,
                      int *length)
{
    *value = preset;
    *length = room;
    return getsockopt(s, level, name, (char *)value, length);
}

static int set_int(SOCKET s, int level, int name, int value, int length)
{
    return setsockopt(s, level, name, (const char *)&value, length);
}

/* name + suffix, for the three checks of one getsockopt. */
static const char *label(const char *name, const char *suffix)
{
    static char text[96];
    char *end = checks_append_text(text, text + sizeof text - 1, name);

    *checks_append_text(end, text + sizeof text - 1, suffix) = '\0';
    return text;
}

/* getsockopt into an int preset to 0xdeadbeef with optlen `room`: checks <name>_get (the
 * result), <name>_value and <name>_optlen. */
static void check_get(const char *name, SOCKET s, int level, int option, int room,
                      int want_value, int want_length)
{
    int value, length;
    int result = get_option(s, level, option, (int)0xdeadbeef, room, &value, &length);

    check(label(name, "_get"), result, 0);
    check(label(name, "_value"), value, want_value);
    check(label(name, "_optlen"), length, want_length);
}

/* getsockopt SO_PROTOCOL_INFOA and W on a new socket of family, type and protocol: the
 * structure's sizes and fields (checks named <name>_...), the optlen written back, a short
 * optlen (WSAEFAULT, the structure's size written back) and a larger one (left as it was).
 * dwMessageSize: 0 for a stream (WSAPROTOCOL_INFO's page: message size is not relevant), and
 * some nonzero size for a datagram: Wine 8 gives 65467, Windows' own figure has no source
 * here. */
static void check_protocol_info(const char *name, int family, int type, int protocol,
                                int sockaddr_size, long long flags)
{
    union { WSAPROTOCOL_INFOA info; char room[2 * sizeof(WSAPROTOCOL_INFOA)]; } ansi;
    WSAPROTOCOL_INFOW wide;
    int length;
    SOCKET s = socket(family, type, protocol);

    if (!check(label(name, "_socket"), setup_error(s != INVALID_SOCKET), 0))
        return;
    ansi.info.szProtocol[0] = 0;
    length = (int)sizeof ansi.info;
    check(label(name, "_get_a"), getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOA, (char *)&ansi.info,
                                            &length), 0);
    check(label(name, "_optlen_a"), length, 372);
    check(label(name, "_family"), ansi.info.iAddressFamily, family);
    check(label(name, "_type"), ansi.info.iSocketType, type);
    check(label(name, "_protocol"), ansi.info.iProtocol, protocol);
    check(label(name, "_max_sockaddr"), ansi.info.iMaxSockAddr, sockaddr_size);
    check(label(name, "_min_sockaddr"), ansi.info.iMinSockAddr, sockaddr_size);
    check(label(name, "_message_size"),
          type == SOCK_STREAM ? (long long)ansi.info.dwMessageSize : ansi.info.dwMessageSize != 0,
          type == SOCK_STREAM ? 0 : 1);
    /* XP1_QOS_SUPPORTED is there when QoS is installed (Wine's protocol.c masks it too) */
    check(label(name, "_service_flags"),
          (long long)(ansi.info.dwServiceFlags1 & ~(DWORD)XP1_QOS_SUPPORTED), flags);
    check(label(name, "_name_a"), ansi.info.szProtocol[0] != 0, 1);
    wide.szProtocol[0] = 0;
    length = (int)sizeof wide;
    check(label(name, "_get_w"), getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&wide,
                                            &length), 0);
    check(label(name, "_optlen_w"), length, 628);
    check(label(name, "_name_w"), wide.szProtocol[0] == (WCHAR)ansi.info.szProtocol[0], 1);
    check(label(name, "_a_w_same"),
          same_bytes(&ansi.info, &wide, (unsigned)offsetof(WSAPROTOCOL_INFOA, szProtocol)), 1);

    length = (int)sizeof ansi.info / 2;
    CHECK_FAILS(label(name, "_short_a"), getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOA,
                                                   (char *)&ansi.info, &length),
                SOCKET_ERROR, WSAEFAULT);
    check(label(name, "_short_a_optlen"), length, 372);
    length = (int)sizeof ansi.info;  /* the A structure's room: short for the W one */
    CHECK_FAILS(label(name, "_short_w"), getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW,
                                                   (char *)&wide, &length),
                SOCKET_ERROR, WSAEFAULT);
    check(label(name, "_short_w_optlen"), length, 628);
    length = (int)sizeof ansi.room;
    check(label(name, "_large_a"), getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOA, ansi.room,
                                              &length), 0);
    check(label(name, "_large_a_optlen"), length, 744);
    CHECK_FAILS(label(name, "_null_optval"), getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOA, NULL,
                                                        &length), SOCKET_ERROR, WSAEFAULT);
    check(label(name, "_close"), closesocket(s), 0);
}

/* WSAPoll of one entry: its result; *revents what came back (preset to 0x7fff). */
static int poll_one(SOCKET s, short events, int timeout, int *revents)
{
    WSAPOLLFD entry;

    entry.fd = s;
    entry.events = events;
    entry.revents = 0x7fff;
    {
        int result = WSAPoll(&entry, 1, timeout);
        *revents = entry.revents;
        return result;
    }
}

int main(void)
{
    WSADATA wsa;
    struct sockaddr_in address, peer;
    struct timeval patience = {5, 0};
    fd_set urgent;
    SOCKET listener, client, server, udp, fresh, v6, third, accepted;
    WSAPOLLFD entries[3];
    LINGER linger;
    char one = 1, buffer[16];
    int value, length, revents;
    u_long argument;
    DWORD returned;
    /* WSAID_CONNECTEX, to ask for its pointer */
    GUID connectex = {0x25a207b9, 0xddf3, 0x4660, {0x8e, 0xe9, 0x76, 0xe5, 0x8c, 0x74, 0x06, 0x3e}};
    void *pointer = NULL;

    CHECK_FAILS("setsockopt_before_startup",
                setsockopt(NOT_A_SOCKET, SOL_SOCKET, SO_REUSEADDR, &one, 1), SOCKET_ERROR,
                WSANOTINITIALISED);
    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();
    listener = open_listener(&address);
    if (!check("listener_open", setup_error(listener != INVALID_SOCKET), 0))
        return checks_finish();

    /* --- WSAPoll on a listener: nothing pending, then a connection. */
    check("poll_idle_listener", poll_one(listener, POLLRDNORM, 0, &revents), 0);
    check("poll_idle_listener_revents", revents, 0);
    client = open_client(&address);
    if (!check("client_connect", setup_error(client != INVALID_SOCKET), 0))
        return checks_finish();
    check("poll_pending_listener", poll_one(listener, POLLRDNORM, 5000, &revents), 1);
    check("poll_pending_listener_revents", revents, POLLRDNORM);

    /* --- WSAAccept without a condition function is accept. */
    length = (int)sizeof peer;
    server = WSAAccept(listener, (struct sockaddr *)&peer, &length, NULL, 0);
    if (!check("wsaaccept", setup_error(server != INVALID_SOCKET), 0))
        return checks_finish();
    check("wsaaccept_addrlen", length, (int)sizeof peer);
    check("wsaaccept_family", peer.sin_family, AF_INET);
    CHECK_FAILS("wsaaccept_not_listening", WSAAccept(client, NULL, NULL, NULL, 0) == INVALID_SOCKET,
                1, WSAEINVAL);
    CHECK_FAILS("wsaaccept_not_a_socket", WSAAccept(NOT_A_SOCKET, NULL, NULL, NULL, 0) == INVALID_SOCKET,
                1, WSAENOTSOCK);

    /* --- WSAPoll over the connected pair. */
    check("poll_quiet", poll_one(client, POLLRDNORM | POLLWRNORM, 0, &revents), 1);
    check("poll_quiet_revents", revents, POLLWRNORM);
    check("server_send", send(server, "hello", 5, 0), 5);
    check("poll_data", poll_one(client, POLLIN, 5000, &revents), 1);
    check("poll_data_revents", revents, POLLRDNORM);
    entries[0].fd = client;
    entries[0].events = POLLRDNORM | POLLWRNORM;
    entries[0].revents = 0x7fff;
    entries[1].fd = NOT_A_SOCKET;
    entries[1].events = POLLRDNORM;
    entries[1].revents = 0x7fff;
    entries[2].fd = server;
    entries[2].events = POLLRDNORM;
    entries[2].revents = 0x7fff;
    check("poll_three", WSAPoll(entries, 3, 0), 1);  /* the entry that is no socket: uncounted */
    check("poll_three_client", entries[0].revents, POLLRDNORM | POLLWRNORM);
    check("poll_three_not_a_socket", entries[1].revents, POLLNVAL);
    check("poll_three_server", entries[2].revents, 0);
    entries[0].fd = NOT_A_SOCKET;
    entries[0].events = POLLRDNORM;
    CHECK_FAILS("poll_no_socket", WSAPoll(entries, 1, 0), SOCKET_ERROR, WSAENOTSOCK);
    entries[0].fd = client;
    entries[0].events = POLLRDNORM | POLLPRI;
    CHECK_FAILS("poll_pollpri", WSAPoll(entries, 1, 0), SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("poll_null_array", WSAPoll(NULL, 1, 0), SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("poll_null_empty", WSAPoll(NULL, 0, 0), SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("poll_empty", WSAPoll(entries, 0, 0), SOCKET_ERROR, WSAEINVAL);
    check("poll_idle_server_timeout", poll_one(server, POLLRDNORM, 50, &revents), 0);

    /* --- ioctlsocket and WSAIoctl: FIONREAD, FIONBIO. */
    argument = 0xdead;
    check("fionread", ioctlsocket(client, FIONREAD, &argument), 0);
    check("fionread_value", (long long)argument, 5);
    value = 0;
    returned = 0xdead;
    check("wsaioctl_fionread", WSAIoctl(client, FIONREAD, NULL, 0, &value, sizeof value,
                                        &returned, NULL, NULL), 0);
    check("wsaioctl_fionread_value", value, 5);
    check("wsaioctl_fionread_returned", (long long)returned, 4);
    CHECK_FAILS("wsaioctl_fionread_short", WSAIoctl(client, FIONREAD, NULL, 0, &value, 2,
                                                    &returned, NULL, NULL), SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("wsaioctl_no_returned", WSAIoctl(client, FIONREAD, NULL, 0, &value, sizeof value,
                                                 NULL, NULL, NULL), SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("wsaioctl_not_a_socket", WSAIoctl(NOT_A_SOCKET, FIONREAD, NULL, 0, &value,
                                                  sizeof value, &returned, NULL, NULL),
                SOCKET_ERROR, WSAENOTSOCK);
    check("client_recv", recv(client, buffer, (int)sizeof buffer, 0), 5);
    argument = 1;
    returned = 0xdead;
    check("wsaioctl_fionbio", WSAIoctl(client, FIONBIO, &argument, sizeof argument, NULL, 0,
                                       &returned, NULL, NULL), 0);
    check("wsaioctl_fionbio_returned", (long long)returned, 0);
    CHECK_FAILS("nonblocking_recv", recv(client, buffer, 1, 0), SOCKET_ERROR, WSAEWOULDBLOCK);
    CHECK_FAILS("wsaioctl_fionbio_short", WSAIoctl(client, FIONBIO, &argument, 2, NULL, 0,
                                                   &returned, NULL, NULL), SOCKET_ERROR, WSAEFAULT);
    argument = 0;
    check("ioctlsocket_blocking", ioctlsocket(client, FIONBIO, &argument), 0);
    CHECK_FAILS("ioctlsocket_unknown", ioctlsocket(client, (long)0x8004ff01, &argument),
                SOCKET_ERROR, WSAEOPNOTSUPP);
    CHECK_FAILS("wsaioctl_unknown", WSAIoctl(client, 0x8004ff01, &argument, sizeof argument,
                                             NULL, 0, &returned, NULL, NULL),
                SOCKET_ERROR, WSAEOPNOTSUPP);
    /* SIO_GET_EXTENSION_FUNCTION_POINTER: ConnectEx's pointer (iocp_echo.c calls it), a
     * GUID no provider knows, an output too short for a pointer. */
    returned = 0xdead;
    check("extension_pointer",
          WSAIoctl(client, SIO_GET_EXTENSION_FUNCTION_POINTER, &connectex, sizeof connectex,
                   &pointer, sizeof pointer, &returned, NULL, NULL), 0);
    check("extension_pointer_set", pointer != NULL, 1);
    check("extension_pointer_returned", (long long)returned, sizeof pointer);
    connectex.Data1 ^= 1;
    CHECK_FAILS("extension_unknown_guid",
                WSAIoctl(client, SIO_GET_EXTENSION_FUNCTION_POINTER, &connectex, sizeof connectex,
                         &pointer, sizeof pointer, &returned, NULL, NULL),
                SOCKET_ERROR, WSAEINVAL);
    connectex.Data1 ^= 1;
    CHECK_FAILS("extension_pointer_short",
                WSAIoctl(client, SIO_GET_EXTENSION_FUNCTION_POINTER, &connectex, sizeof connectex,
                         &pointer, 2, &returned, NULL, NULL),
                SOCKET_ERROR, WSAEFAULT);

    /* --- SIOCATMARK: TRUE until an urgent byte waits, and again once it is read. */
    argument = 0xdead;
    check("atmark_none", ioctlsocket(client, SIOCATMARK, &argument), 0);
    check("atmark_none_value", (long long)argument, 1);
    check("oob_send", send(server, "!", 1, MSG_OOB), 1);
    FD_ZERO(&urgent);
    FD_SET(client, &urgent);
    check("oob_select", select(0, NULL, NULL, &urgent, &patience), 1);
    argument = 0xdead;
    check("atmark_urgent", ioctlsocket(client, SIOCATMARK, &argument), 0);
    check("atmark_urgent_value", (long long)argument, 0);
    value = 0xdead;
    returned = 0xdead;
    check("wsaioctl_atmark", WSAIoctl(client, SIOCATMARK, NULL, 0, &value, sizeof value,
                                      &returned, NULL, NULL), 0);
    check("wsaioctl_atmark_value", value, 0);
    check("wsaioctl_atmark_returned", (long long)returned, 4);
    check("poll_urgent", poll_one(client, POLLRDBAND, 0, &revents), 1);
    check("poll_urgent_revents", revents, POLLRDBAND);
    check("oob_recv", recv(client, buffer, 1, MSG_OOB), 1);
    argument = 0xdead;
    check("atmark_read", ioctlsocket(client, SIOCATMARK, &argument), 0);
    check("atmark_read_value", (long long)argument, 1);
    CHECK_FAILS("atmark_null", ioctlsocket(client, SIOCATMARK, NULL), SOCKET_ERROR, WSAEFAULT);

    /* --- Options: BOOLs, one byte or four. */
    check("nodelay_set_byte", setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, 1), 0);
    check_get("nodelay", client, IPPROTO_TCP, TCP_NODELAY, 4, (int)0xdeadbe01, 1);
    check("nodelay_set_0x100", set_int(client, IPPROTO_TCP, TCP_NODELAY, 0x100, 4), 0);
    check_get("nodelay_0x100", client, IPPROTO_TCP, TCP_NODELAY, 4, (int)0xdeadbe00, 1);
    CHECK_FAILS("nodelay_optlen_0", set_int(client, IPPROTO_TCP, TCP_NODELAY, 1, 0),
                SOCKET_ERROR, WSAEFAULT);
    check("keepalive_set", set_int(client, SOL_SOCKET, SO_KEEPALIVE, 1, 4), 0);
    check_get("keepalive", client, SOL_SOCKET, SO_KEEPALIVE, 4, (int)0xdeadbe01, 1);
    check("dontroute_set_byte", setsockopt(client, SOL_SOCKET, SO_DONTROUTE, &one, 1), 0);
    check_get("dontroute", client, SOL_SOCKET, SO_DONTROUTE, 4, (int)0xdeadbe01, 1);
    check("oobinline_set_byte", setsockopt(client, SOL_SOCKET, SO_OOBINLINE, &one, 1), 0);
    check_get("oobinline", client, SOL_SOCKET, SO_OOBINLINE, 4, 1, 4);
    check_get("oobinline_room_1", client, SOL_SOCKET, SO_OOBINLINE, 1, (int)0xdeadbe01, 1);
    check_get("oobinline_room_2", client, SOL_SOCKET, SO_OOBINLINE, 2, (int)0xdead0001, 1);
    CHECK_FAILS("getsockopt_optlen_0", get_option(client, SOL_SOCKET, SO_OOBINLINE, 0, 0,
                                                  &value, &length), SOCKET_ERROR, WSAEFAULT);
    check("getsockopt_optlen_0_kept", length, 0);
    CHECK_FAILS("getsockopt_optlen_negative",
                get_option(client, SOL_SOCKET, SO_OOBINLINE, 0, -1, &value, &length),
                SOCKET_ERROR, WSAEFAULT);
    check("getsockopt_optlen_negative_kept", length, -1);

    fresh = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    check("fresh_socket", setup_error(fresh != INVALID_SOCKET), 0);
    check("reuseaddr_set_byte", setsockopt(fresh, SOL_SOCKET, SO_REUSEADDR, &one, 1), 0);
    check_get("reuseaddr", fresh, SOL_SOCKET, SO_REUSEADDR, 4, 1, 4);
    check("reuseaddr_optlen_0", set_int(fresh, SOL_SOCKET, SO_REUSEADDR, 1, 0), 0);
    check("reuseaddr_clear", set_int(fresh, SOL_SOCKET, SO_REUSEADDR, 0, 4), 0);
    check("exclusive_set", set_int(fresh, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1, 4), 0);
    check_get("exclusive", fresh, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 4, 1, 4);
    CHECK_FAILS("reuseaddr_after_exclusive", set_int(fresh, SOL_SOCKET, SO_REUSEADDR, 1, 4),
                SOCKET_ERROR, WSAEINVAL);

    /* --- LINGER and DONTLINGER. */
    linger.l_onoff = 1;
    linger.l_linger = 5;
    check("linger_set", setsockopt(fresh, SOL_SOCKET, SO_LINGER, (const char *)&linger,
                                   sizeof linger), 0);
    linger.l_onoff = 7;
    linger.l_linger = 7;
    length = (int)sizeof linger;
    check("linger_get", getsockopt(fresh, SOL_SOCKET, SO_LINGER, (char *)&linger, &length), 0);
    check("linger_get_onoff", linger.l_onoff, 1);
    check("linger_get_seconds", linger.l_linger, 5);
    check("linger_get_optlen", length, 4);
    check_get("dontlinger_off", fresh, SOL_SOCKET, SO_DONTLINGER, 4, 0, 4);
    check("dontlinger_set", set_int(fresh, SOL_SOCKET, SO_DONTLINGER, 1, 4), 0);
    length = (int)sizeof linger;
    check("dontlinger_linger", getsockopt(fresh, SOL_SOCKET, SO_LINGER, (char *)&linger, &length), 0);
    check("dontlinger_linger_onoff", linger.l_onoff, 0);
    CHECK_FAILS("linger_set_short", setsockopt(fresh, SOL_SOCKET, SO_LINGER,
                                               (const char *)&linger, 2), SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("linger_get_short", get_option(fresh, SOL_SOCKET, SO_LINGER, 0, 2, &value, &length),
                SOCKET_ERROR, WSAEFAULT);
    check("linger_get_short_kept", length, 2);

    /* --- Sizes and timeouts: four bytes, no fewer. */
    check("rcvbuf_set", set_int(fresh, SOL_SOCKET, SO_RCVBUF, 16384, 4), 0);
    check_get("rcvbuf", fresh, SOL_SOCKET, SO_RCVBUF, 4, 16384, 4);  /* as set, not doubled */
    CHECK_FAILS("rcvbuf_set_short", set_int(fresh, SOL_SOCKET, SO_RCVBUF, 16384, 2),
                SOCKET_ERROR, WSAEFAULT);
    check("sndbuf_set", set_int(fresh, SOL_SOCKET, SO_SNDBUF, 8192, 4), 0);
    check_get("sndbuf", fresh, SOL_SOCKET, SO_SNDBUF, 4, 8192, 4);
    check("rcvtimeo_set", set_int(fresh, SOL_SOCKET, SO_RCVTIMEO, 1500, 4), 0);
    check_get("rcvtimeo", fresh, SOL_SOCKET, SO_RCVTIMEO, 4, 1500, 4);
    check("sndtimeo_set", set_int(fresh, SOL_SOCKET, SO_SNDTIMEO, 2500, 4), 0);
    check_get("sndtimeo", fresh, SOL_SOCKET, SO_SNDTIMEO, 8, 2500, 4);
    CHECK_FAILS("rcvtimeo_get_short", get_option(fresh, SOL_SOCKET, SO_RCVTIMEO, 0, 3, &value,
                                                 &length), SOCKET_ERROR, WSAEFAULT);

    /* --- Facts about the socket. */
    check_get("type_stream", fresh, SOL_SOCKET, SO_TYPE, 4, SOCK_STREAM, 4);
    check_get("acceptconn_listener", listener, SOL_SOCKET, SO_ACCEPTCONN, 4, 1, 4);
    check_get("acceptconn_client", client, SOL_SOCKET, SO_ACCEPTCONN, 4, 0, 4);
    check_get("error_none", fresh, SOL_SOCKET, SO_ERROR, 4, 0, 4);
    CHECK_FAILS("error_get_short", get_option(fresh, SOL_SOCKET, SO_ERROR, 0, 1, &value, &length),
                SOCKET_ERROR, WSAEFAULT);
    check("error_set", set_int(fresh, SOL_SOCKET, SO_ERROR, 1234, 4), 0);
    check_get("error_as_set", fresh, SOL_SOCKET, SO_ERROR, 4, 1234, 4);

    /* --- Errors: the level, the option, NULL, not a socket. */
    CHECK_FAILS("set_unknown_level", set_int(fresh, 0x1234, SO_RCVTIMEO, 1, 4), SOCKET_ERROR,
                WSAEINVAL);
    CHECK_FAILS("get_unknown_level", get_option(fresh, 0x1234, SO_RCVTIMEO, 0, 4, &value, &length),
                SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("set_unknown_option", set_int(fresh, SOL_SOCKET, 0x7777, 1, 4), SOCKET_ERROR,
                WSAENOPROTOOPT);
    CHECK_FAILS("get_unknown_option", get_option(fresh, SOL_SOCKET, 0x7777, 0, 4, &value, &length),
                SOCKET_ERROR, WSAENOPROTOOPT);
    CHECK_FAILS("set_null_optval", setsockopt(fresh, SOL_SOCKET, SO_LINGER, NULL, 4),
                SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("set_null_optval_len_0", setsockopt(fresh, SOL_SOCKET, SO_DONTLINGER, NULL, 0),
                SOCKET_ERROR, WSAEFAULT);
    length = 4;
    CHECK_FAILS("get_null_optval", getsockopt(fresh, SOL_SOCKET, SO_TYPE, NULL, &length),
                SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("get_null_optlen", getsockopt(fresh, SOL_SOCKET, SO_TYPE, (char *)&value, NULL),
                SOCKET_ERROR, WSAEFAULT);
    CHECK_FAILS("set_not_a_socket", set_int(NOT_A_SOCKET, SOL_SOCKET, SO_RCVTIMEO, 1, 4),
                SOCKET_ERROR, WSAENOTSOCK);
    CHECK_FAILS("get_not_a_socket", get_option(NOT_A_SOCKET, SOL_SOCKET, SO_TYPE, 0, 4, &value,
                                               &length), SOCKET_ERROR, WSAENOTSOCK);
    check("fresh_close", closesocket(fresh), 0);

    /* --- A datagram socket: IP options, broadcast, its largest message. */
    udp = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    check("udp_socket", setup_error(udp != INVALID_SOCKET), 0);
    check_get("type_datagram", udp, SOL_SOCKET, SO_TYPE, 4, SOCK_DGRAM, 4);
    check_get("max_msg_size", udp, SOL_SOCKET, SO_MAX_MSG_SIZE, 4, 65507, 4);
    check("broadcast_set_byte", setsockopt(udp, SOL_SOCKET, SO_BROADCAST, &one, 1), 0);
    check_get("broadcast", udp, SOL_SOCKET, SO_BROADCAST, 4, 1, 4);
    check("ttl_set_byte", set_int(udp, IPPROTO_IP, IP_TTL, 0x21, 1), 0);
    check_get("ttl", udp, IPPROTO_IP, IP_TTL, 4, 0x21, 4);
    check_get("ttl_room_1", udp, IPPROTO_IP, IP_TTL, 1, (int)0xdeadbe21, 1);
    CHECK_FAILS("ttl_too_large", set_int(udp, IPPROTO_IP, IP_TTL, 0x100, 4), SOCKET_ERROR,
                WSAEINVAL);
    CHECK_FAILS("ttl_optlen_0", set_int(udp, IPPROTO_IP, IP_TTL, 1, 0), SOCKET_ERROR, WSAEFAULT);
    check("tos_set", set_int(udp, IPPROTO_IP, IP_TOS, 0x10, 4), 0);
    check_get("tos", udp, IPPROTO_IP, IP_TOS, 4, 0x10, 4);
    check("multicast_ttl_set", set_int(udp, IPPROTO_IP, IP_MULTICAST_TTL, 0xffff0005, 2), 0);
    check_get("multicast_ttl", udp, IPPROTO_IP, IP_MULTICAST_TTL, 4, 5, 4);
    check("multicast_loop_set", set_int(udp, IPPROTO_IP, IP_MULTICAST_LOOP, 0, 4), 0);
    check_get("multicast_loop", udp, IPPROTO_IP, IP_MULTICAST_LOOP, 4, 0, 4);
    CHECK_FAILS("hdrincl_set", set_int(udp, IPPROTO_IP, IP_HDRINCL, 1, 4), SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("hdrincl_get", get_option(udp, IPPROTO_IP, IP_HDRINCL, 99, 4, &value, &length),
                SOCKET_ERROR, WSAEINVAL);
    check("hdrincl_get_untouched", value, 99);
    CHECK_FAILS("add_membership_short", set_int(udp, IPPROTO_IP, IP_ADD_MEMBERSHIP, 0, 4),
                SOCKET_ERROR, WSAEFAULT);
    check("udp_close", closesocket(udp), 0);

    /* --- IPv6: one-byte V6ONLY, the hop limit. */
    v6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    check("v6_socket", setup_error(v6 != INVALID_SOCKET), 0);
    check("v6only_set", set_int(v6, IPPROTO_IPV6, IPV6_V6ONLY, 1, 4), 0);
    check_get("v6only", v6, IPPROTO_IPV6, IPV6_V6ONLY, 4, (int)0xdeadbe01, 1);
    check("hops_set", set_int(v6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 7, 4), 0);
    check_get("hops", v6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 4, 7, 4);
    check_get("max_msg_size_v6", v6, SOL_SOCKET, SO_MAX_MSG_SIZE, 4, 65507, 4);
    check("v6_close", closesocket(v6), 0);

    /* --- SO_PROTOCOL_INFO: the base provider's entries for TCP and UDP over IPv4 and IPv6. */
    check_protocol_info("pinfo_tcp", AF_INET, SOCK_STREAM, IPPROTO_TCP, 16, TCP_SERVICE);
    check_protocol_info("pinfo_udp", AF_INET, SOCK_DGRAM, IPPROTO_UDP, 16, UDP_SERVICE);
    check_protocol_info("pinfo_tcp6", AF_INET6, SOCK_STREAM, IPPROTO_TCP, 28, TCP_SERVICE);
    check_protocol_info("pinfo_udp6", AF_INET6, SOCK_DGRAM, IPPROTO_UDP, 28, UDP_SERVICE);

    /* --- The end of the stream: POLLHUP; a third connection taken with WSAAccept. */
    check("server_shutdown", shutdown(server, SD_SEND), 0);
    check("poll_end_of_stream", poll_one(client, POLLRDNORM, 5000, &revents), 1);
    check("poll_end_of_stream_revents", revents, POLLRDNORM);
    third = open_client(&address);
    check("third_connect", setup_error(third != INVALID_SOCKET), 0);
    accepted = WSAAccept(listener, NULL, NULL, NULL, 0);
    check("wsaaccept_no_address", setup_error(accepted != INVALID_SOCKET), 0);
    check("third_close", closesocket(third), 0);
    check("accepted_close", closesocket(accepted), 0);

    check("client_close", closesocket(client), 0);
    check("server_close", closesocket(server), 0);
    check("listener_close", closesocket(listener), 0);
    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
