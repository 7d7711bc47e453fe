/* An I/O completion port echo over loopback in one thread, the program its own client: a
 * listening socket associated with a port and an AcceptEx posted before the client
 * connects; the completion of the accept through the port (its key and OVERLAPPED), then
 * SO_UPDATE_ACCEPT_CONTEXT and GetAcceptExSockaddrs (pointers into AcceptEx's buffer); the
 * accepted socket associated with the port, an overlapped WSARecv completing through it
 * once the client sends, an overlapped WSASend echoing; PostQueuedCompletionStatus's packet
 * coming back as posted; an empty port (WAIT_TIMEOUT, lpOverlapped NULL);
 * GetQueuedCompletionStatusEx taking several packets; ConnectEx (from
 * SIO_GET_EXTENSION_FUNCTION_POINTER) on a bound socket, with data that a second AcceptEx
 * receives, both completing through the port; DisconnectEx, its peer seeing the end of the
 * stream.  AcceptEx and GetAcceptExSockaddrs are imported from mswsock.dll (-lmswsock),
 * ConnectEx and DisconnectEx, which mswsock does not export, fetched by their GUIDs. */
#define _WIN32_WINNT 0x0600
#include <winsock2.h>
#include <mswsock.h>

#include "checks.h"
#include "loopback.h"

#define ADDRESS_ROOM (sizeof(struct sockaddr_in) + 16)
#define KEY_LISTENER 0x11
#define KEY_ACCEPTED 0x22
#define KEY_POSTED 0x33
#define KEY_CONNECTOR 0x44

static void zero(void *memory, unsigned size)
{
    char *bytes = memory;

    while (size-- > 0)
        *bytes++ = 0;
}

/* The next packet: its result, with *count, *key and *overlapped. */
static BOOL next_packet(HANDLE port, DWORD *count, ULONG_PTR *key, OVERLAPPED **overlapped)
{
    *count = 0xdead;
    *key = 0xdead;
    *overlapped = (OVERLAPPED *)1;
    return GetQueuedCompletionStatus(port, count, key, overlapped, 5000);
}

/* An overlapped call that started: it completed at once, or went pending. */
static int started(BOOL done)
{
    return done || WSAGetLastError() == ERROR_IO_PENDING;
}

static unsigned port_of(const struct sockaddr_in *address)
{
    const unsigned char *bytes = (const unsigned char *)&address->sin_port;

    return (unsigned)bytes[0] << 8 | bytes[1];
}

static void *extension(SOCKET s, GUID guid, DWORD *returned)
{
    void *function = NULL;

    *returned = 0;
    if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, &function,
                 sizeof function, returned, NULL, NULL) == SOCKET_ERROR)
        return NULL;
    return function;
}

int main(void)
{
    WSADATA data;
    struct sockaddr_in bound, client_name, connector_name, *local, *remote;
    int length, local_length, remote_length;
    SOCKET listener, accepted, client, connector, accepted2;
    HANDLE port;
    OVERLAPPED accept_overlapped, recv_overlapped, send_overlapped, accept2_overlapped,
        connect_overlapped, disconnect_overlapped, marker, *got;
    OVERLAPPED_ENTRY entries[4];
    char buffer[2 * ADDRESS_ROOM], buffer2[4 + 2 * ADDRESS_ROOM], message[8], echo[8];
    DWORD count, received, flags, sent, returned;
    ULONG removed;
    ULONG_PTR key;
    WSABUF wsabuf;
    BOOL done;
    LPFN_CONNECTEX connect_ex;
    LPFN_DISCONNECTEX disconnect_ex;
    GUID connectex_guid = WSAID_CONNECTEX, disconnectex_guid = WSAID_DISCONNECTEX;
    int i, connect_seen, accept_seen;

    if (!check("startup", WSAStartup(MAKEWORD(2, 2), &data), 0))
        return checks_finish();
    listener = open_listener(&bound);
    if (!check("setup", setup_error(listener != INVALID_SOCKET), 0))
        return checks_finish();
    port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    if (!check("port", port != NULL, 1))
        return checks_finish();
    check("associate_listener",
          CreateIoCompletionPort((HANDLE)listener, port, KEY_LISTENER, 0) == port, 1);

    /* An AcceptEx waiting before anyone connects. */
    accepted = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    zero(&accept_overlapped, sizeof accept_overlapped);
    received = 0xdead;
    WSASetLastError(0);
    check_failed("acceptex_pending",
                 AcceptEx(listener, accepted, buffer, 0, ADDRESS_ROOM, ADDRESS_ROOM, &received,
                          &accept_overlapped),
                 FALSE, ERROR_IO_PENDING);

    /* Nothing has completed: an empty port times out at once. */
    got = (OVERLAPPED *)1;
    WSASetLastError(0);
    check_failed("empty", GetQueuedCompletionStatus(port, &count, &key, &got, 0), FALSE,
                 WAIT_TIMEOUT);
    check("empty_overlapped_null", got == NULL, 1);

    /* The client connects (the kernel completes the handshake), and the accept completes. */
    client = open_client(&bound);
    if (!check("client", setup_error(client != INVALID_SOCKET), 0))
        return checks_finish();
    check("accept_packet", next_packet(port, &count, &key, &got), TRUE);
    check("accept_key", (long long)key, KEY_LISTENER);
    check("accept_overlapped", got == &accept_overlapped, 1);
    check("accept_count", count, 0);
    check("accept_internal", (long long)accept_overlapped.Internal, 0);
    check("update_accept_context",
          setsockopt(accepted, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (char *)&listener,
                     sizeof listener), 0);
    local = remote = NULL;
    local_length = remote_length = 0;
    GetAcceptExSockaddrs(buffer, 0, ADDRESS_ROOM, ADDRESS_ROOM, (struct sockaddr **)&local,
                         &local_length, (struct sockaddr **)&remote, &remote_length);
    check("sockaddrs_local_length", local_length, sizeof(struct sockaddr_in));
    check("sockaddrs_remote_length", remote_length, sizeof(struct sockaddr_in));
    check("sockaddrs_in_buffer", (char *)local > buffer && (char *)remote > (char *)local
                                     && (char *)remote < buffer + sizeof buffer, 1);
    length = sizeof client_name;
    getsockname(client, (struct sockaddr *)&client_name, &length);
    /* Ports vary from run to run: compared, not printed. */
    check("sockaddrs_local_port", port_of(local) == port_of(&bound), 1);
    check("sockaddrs_remote_port", port_of(remote) == port_of(&client_name), 1);
    check("sockaddrs_remote_family", remote->sin_family, AF_INET);
    check("sockaddrs_remote_host", remote->sin_addr.S_un.S_un_b.s_b1, 127);

    /* The accepted socket on the same port: a receive completes once the client sends. */
    check("associate_accepted",
          CreateIoCompletionPort((HANDLE)accepted, port, KEY_ACCEPTED, 0) == port, 1);
    zero(&recv_overlapped, sizeof recv_overlapped);
    wsabuf.len = sizeof message;
    wsabuf.buf = message;
    flags = 0;
    WSASetLastError(0);
    check_failed("recv_pending", WSARecv(accepted, &wsabuf, 1, NULL, &flags, &recv_overlapped,
                                         NULL),
                 SOCKET_ERROR, WSA_IO_PENDING);
    check("client_send", send(client, "ping!", 5, 0), 5);
    check("recv_packet", next_packet(port, &count, &key, &got), TRUE);
    check("recv_key", (long long)key, KEY_ACCEPTED);
    check("recv_overlapped", got == &recv_overlapped, 1);
    check("recv_count", count, 5);
    check("recv_internal_high", (long long)recv_overlapped.InternalHigh, 5);
    check("recv_data", same_bytes(message, "ping!", 5), 1);

    /* The echo: an overlapped send, whose completion comes through the port too. */
    zero(&send_overlapped, sizeof send_overlapped);
    wsabuf.len = 5;
    sent = 0;
    check("send_started", started(WSASend(accepted, &wsabuf, 1, &sent, 0, &send_overlapped,
                                          NULL) == 0), 1);
    check("send_packet", next_packet(port, &count, &key, &got), TRUE);
    check("send_key", (long long)key, KEY_ACCEPTED);
    check("send_overlapped", got == &send_overlapped, 1);
    check("send_count", count, 5);
    check("echo_recv", recv(client, echo, 5, 0), 5);
    check("echo_data", same_bytes(echo, "ping!", 5), 1);

    /* A packet of the program's own, given back as posted. */
    check("post", PostQueuedCompletionStatus(port, 1234, KEY_POSTED, &marker), TRUE);
    check("posted_packet", next_packet(port, &count, &key, &got), TRUE);
    check("posted_key", (long long)key, KEY_POSTED);
    check("posted_overlapped", got == &marker, 1);
    check("posted_count", count, 1234);

    /* Several packets at once. */
    for (i = 0; i < 3; i++)
        PostQueuedCompletionStatus(port, (DWORD)(i + 1), (ULONG_PTR)(100 + i), NULL);
    zero(entries, sizeof entries);
    removed = 0;
    check("ex_packets", GetQueuedCompletionStatusEx(port, entries, 4, &removed, 0, FALSE), TRUE);
    check("ex_removed", removed, 3);
    check("ex_first_key", (long long)entries[0].lpCompletionKey, 100);
    check("ex_third_count", entries[2].dwNumberOfBytesTransferred, 3);
    check("ex_overlapped_null", entries[1].lpOverlapped == NULL, 1);
    WSASetLastError(0);
    check_failed("ex_empty", GetQueuedCompletionStatusEx(port, entries, 4, &removed, 0, FALSE),
                 FALSE, WAIT_TIMEOUT);

    /* ConnectEx from a bound socket, with data that a second AcceptEx receives. */
    connector = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    connect_ex = (LPFN_CONNECTEX)extension(connector, connectex_guid, &returned);
    check("connectex_pointer", connect_ex != NULL, 1);
    check("connectex_pointer_size", returned, sizeof(void *));
    disconnect_ex = (LPFN_DISCONNECTEX)extension(connector, disconnectex_guid, &returned);
    check("disconnectex_pointer", disconnect_ex != NULL, 1);
    if (connect_ex == NULL || disconnect_ex == NULL)
        return checks_finish();
    connector_name = loopback_address(0);
    check("connector_bind", bind(connector, (struct sockaddr *)&connector_name,
                                 sizeof connector_name), 0);
    check("associate_connector",
          CreateIoCompletionPort((HANDLE)connector, port, KEY_CONNECTOR, 0) == port, 1);
    accepted2 = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    zero(&accept2_overlapped, sizeof accept2_overlapped);
    WSASetLastError(0);
    check_failed("acceptex_data_pending",
                 AcceptEx(listener, accepted2, buffer2, 4, ADDRESS_ROOM, ADDRESS_ROOM,
                          &received, &accept2_overlapped),
                 FALSE, ERROR_IO_PENDING);
    zero(&connect_overlapped, sizeof connect_overlapped);
    sent = 0;
    WSASetLastError(0);
    check("connectex_started", started(connect_ex(connector, (struct sockaddr *)&bound,
                                                  sizeof bound, "data", 4, &sent,
                                                  &connect_overlapped)), 1);
    connect_seen = accept_seen = 0;
    for (i = 0; i < 2; i++) {
        done = next_packet(port, &count, &key, &got);
        if (done && key == KEY_CONNECTOR && got == &connect_overlapped && count == 4)
            connect_seen++;
        else if (done && key == KEY_LISTENER && got == &accept2_overlapped && count == 4)
            accept_seen++;
    }
    check("connectex_packet", connect_seen, 1);
    check("acceptex_data_packet", accept_seen, 1);
    check("acceptex_data", same_bytes(buffer2, "data", 4), 1);
    check("update_connect_context",
          setsockopt(connector, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0), 0);

    /* DisconnectEx: its completion through the port, and the end of the stream at the peer. */
    zero(&disconnect_overlapped, sizeof disconnect_overlapped);
    WSASetLastError(0);
    check("disconnectex_started",
          started(disconnect_ex(connector, &disconnect_overlapped, 0, 0)), 1);
    check("disconnect_packet", next_packet(port, &count, &key, &got), TRUE);
    check("disconnect_key", (long long)key, KEY_CONNECTOR);
    check("disconnect_overlapped", got == &disconnect_overlapped, 1);
    check("disconnect_peer_end", recv(accepted2, echo, sizeof echo, 0), 0);

    closesocket(connector);
    closesocket(accepted2);
    closesocket(client);
    closesocket(accepted);
    closesocket(listener);
    check("close_port", CloseHandle(port), TRUE);
    check("cleanup", WSACleanup(), 0);
    return checks_finish();
}
