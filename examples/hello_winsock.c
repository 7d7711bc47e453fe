/* hello_winsock.c: a Windows program that talks to itself over TCP on 127.0.0.1.
 *
 * Build it with mingw-w64 (Debian: apt-get install gcc-mingw-w64-x86-64-win32) and run it under
 * Speakeasy with ws2core behind its Winsock, or under Wine, or on Windows:
 *
 *     x86_64-w64-mingw32-gcc -O2 -o hello_winsock.exe examples/hello_winsock.c -lws2_32
 *     python -m ws2core run hello_winsock.exe 3
 *
 * It listens on a port the system picks, connects to it, and sends a greeting through the
 * connection as many times as its argument says (1 by default), printing what comes back.
 */
#include <winsock2.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what)
{
    printf("%s failed: error %d\n", what, WSAGetLastError());
    return 1;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 1;
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return fail("WSAStartup");

    SOCKET listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in address = {0};
    int length = sizeof address;
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);      /* 127.0.0.1, port 0: any free one */
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) != 0 ||
        listen(listener, 1) != 0)
        return fail("listening");
    printf("listening on 127.0.0.1:%d\n", ntohs(address.sin_port));

    SOCKET client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (connect(client, (struct sockaddr *)&address, sizeof address) != 0)
        return fail("connect");
    SOCKET server = accept(listener, NULL, NULL);
    if (server == INVALID_SOCKET)
        return fail("accept");

    for (int round = 1; round <= rounds; round++) {
        char message[64], echoed[64];
        int sent = snprintf(message, sizeof message, "hello %d from the guest", round);
        if (send(client, message, sent, 0) != sent)
            return fail("send");
        int got = recv(server, echoed, sizeof echoed - 1, 0);
        if (got <= 0)
            return fail("recv");
        echoed[got] = '\0';
        printf("round %d: the server got %d bytes: %s\n", round, got, echoed);
    }

    closesocket(server);
    closesocket(client);
    closesocket(listener);
    WSACleanup();
    printf("done\n");
    return 0;
}
