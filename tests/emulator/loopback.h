/* Loopback plumbing shared by the socket programs: 127.0.0.1 only, and listeners on port 0
 * (the system picks a free port, read back with getsockname), so runs side by side never
 * collide. Byte order is written out byte by byte instead of with htons/htonl: that keeps
 * each program's imports within the short list the emulator implements.
 *
 * The helpers report failure as INVALID_SOCKET with the cause in WSAGetLastError();
 * setup_error() turns a step's outcome into a check value (0, or the error code). */
#ifndef WS2CORE_LOOPBACK_H
#define WS2CORE_LOOPBACK_H

#include <winsock2.h>

static inline struct sockaddr_in loopback_address(unsigned port)
{
    struct sockaddr_in address = {0};
    unsigned char *port_bytes = (unsigned char *)&address.sin_port;

    address.sin_family = AF_INET;
    port_bytes[0] = (unsigned char)(port >> 8);
    port_bytes[1] = (unsigned char)(port & 0xff);
    address.sin_addr.S_un.S_un_b.s_b1 = 127;
    address.sin_addr.S_un.S_un_b.s_b4 = 1;
    return address;
}

/* Closes s after a failed step without losing that step's error code. */
static inline void close_keeping_error(SOCKET s)
{
    int error = WSAGetLastError();

    /* Its result cannot change what is reported: the failure being reported came first. */
    (void)closesocket(s);
    WSASetLastError(error);
}

/* A listening TCP socket on 127.0.0.1 at a port the system chose; *bound receives the
 * address to connect to. */
static inline SOCKET open_listener(struct sockaddr_in *bound)
{
    struct sockaddr_in any_port = loopback_address(0);
    int length = (int)sizeof *bound;
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);

    if (s == INVALID_SOCKET)
        return INVALID_SOCKET;
    if (bind(s, (const struct sockaddr *)&any_port, (int)sizeof any_port) == SOCKET_ERROR
        || getsockname(s, (struct sockaddr *)bound, &length) == SOCKET_ERROR
        || listen(s, 4) == SOCKET_ERROR) {
        close_keeping_error(s);
        return INVALID_SOCKET;
    }
    return s;
}

/* A blocking TCP client connected to *to. */
static inline SOCKET open_client(const struct sockaddr_in *to)
{
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);

    if (s == INVALID_SOCKET)
        return INVALID_SOCKET;
    if (connect(s, (const struct sockaddr *)to, (int)sizeof *to) == SOCKET_ERROR) {
        close_keeping_error(s);
        return INVALID_SOCKET;
    }
    return s;
}

/* A connected loopback TCP pair: *client connected to a fresh listener, *server accepted
 * from it, the listener closed. *server is INVALID_SOCKET (the cause in WSAGetLastError())
 * when a step failed. */
static inline void open_pair(SOCKET *client, SOCKET *server)
{
    struct sockaddr_in bound;
    SOCKET listener = open_listener(&bound);

    *client = listener == INVALID_SOCKET ? INVALID_SOCKET : open_client(&bound);
    *server = *client == INVALID_SOCKET ? INVALID_SOCKET : accept(listener, NULL, NULL);
    if (listener != INVALID_SOCKET)
        close_keeping_error(listener);
}

/* One non-overlapped WSASend of size bytes of text: the count sent, or -1. */
static inline int send_text(SOCKET s, const char *text, unsigned long size)
{
    WSABUF wsabuf;
    DWORD sent = 0;

    wsabuf.len = size;
    wsabuf.buf = (char *)text;
    return WSASend(s, &wsabuf, 1, &sent, 0, NULL, NULL) == 0 ? (int)sent : -1;
}

static inline int setup_error(int succeeded)
{
    return succeeded ? 0 : WSAGetLastError();
}

#endif /* WS2CORE_LOOPBACK_H */
