/* Loops of cheap calls for the host to time (benchmarks/test_bench_adapter.py): what one
 * guest call costs under an emulator, with ws2core behind its Winsock and without.
 *
 *     call_costs <iterations> <setup> <loop>...
 *
 * <setup> is "pair" (a connected loopback pair, as the other programs open one: needs
 * ws2core, whose getsockname and accept are real) or "plain" (two sockets from socket(),
 * unconnected: Speakeasy's own Winsock fakes every call on them, and lacks getsockname).
 * Each <loop> runs <iterations> times, after OutputDebugStringA(<loop>) and before the next
 * marker ("end" after the last): the host hooks that call and times each loop between two
 * markers. The program times nothing itself. The loops:
 *
 *   empty                a loop without a call (the guest's own loop overhead)
 *   GetCurrentProcessId  a kernel32 call that the emulator answers itself
 *   GetLastError         the same for the last error (what WSAGetLastError is on Windows)
 *   WSAGetLastError
 *   select               a zero timeout on a read set of both sockets (nothing to read)
 *   send_recv            4 bytes sent on one socket, then 4 received on the other
 *
 * It prints "UNEXPECTED <loop> <count>" for each loop whose calls returned other than a
 * working Winsock returns (a pair's select 0, send and recv 4): 0 under ws2core. */
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <string.h>

#include "loopback.h"

static SOCKET sockets[2] = {INVALID_SOCKET, INVALID_SOCKET};

static unsigned long parse_count(const char *text)
{
    unsigned long value = 0;

    while (*text >= '0' && *text <= '9')
        value = value * 10 + (unsigned long)(*text++ - '0');
    return value;
}

/* The calls of one loop that returned the unexpected; -1 for a name it does not know. */
static long run_loop(const char *name, unsigned long iterations)
{
    volatile unsigned long sink = 0;
    struct timeval zero = {0, 0};
    char data[4] = {'p', 'i', 'n', 'g'};
    long unexpected = 0;
    unsigned long i;
    fd_set readable;

    if (strcmp(name, "empty") == 0) {
        for (i = 0; i < iterations; i++)
            sink += i;
    } else if (strcmp(name, "GetCurrentProcessId") == 0) {
        for (i = 0; i < iterations; i++)
            sink += GetCurrentProcessId();
    } else if (strcmp(name, "GetLastError") == 0) {
        for (i = 0; i < iterations; i++)
            sink += GetLastError();
    } else if (strcmp(name, "WSAGetLastError") == 0) {
        for (i = 0; i < iterations; i++)
            sink += (unsigned long)WSAGetLastError();
    } else if (strcmp(name, "select") == 0) {
        for (i = 0; i < iterations; i++) {
            FD_ZERO(&readable);
            FD_SET(sockets[0], &readable);
            FD_SET(sockets[1], &readable);
            unexpected += select(0, &readable, NULL, NULL, &zero) != 0;
        }
    } else if (strcmp(name, "send_recv") == 0) {
        for (i = 0; i < iterations; i++) {
            unexpected += send(sockets[0], data, (int)sizeof data, 0) != (int)sizeof data;
            unexpected += recv(sockets[1], data, (int)sizeof data, 0) != (int)sizeof data;
        }
    } else {
        return -1;
    }
    return unexpected;
}

int main(int argc, char **argv)
{
    WSADATA wsa;
    unsigned long iterations;
    long unexpected[16];
    int loops, k;

    if (argc < 3 || argc - 3 > 16) {
        printf("usage: call_costs <iterations> pair|plain <loop>... (at most 16)\n");
        return 2;
    }
    iterations = parse_count(argv[1]);
    loops = argc - 3;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
        printf("SETUP WSAStartup failed\n");
        return 1;
    }
    if (strcmp(argv[2], "pair") == 0) {
        open_pair(&sockets[0], &sockets[1]);
    } else {
        sockets[0] = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        sockets[1] = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    }
    if (sockets[0] == INVALID_SOCKET || sockets[1] == INVALID_SOCKET) {
        printf("SETUP sockets failed: %d\n", WSAGetLastError());
        return 1;
    }
    for (k = 0; k < loops; k++) {
        OutputDebugStringA(argv[3 + k]);
        unexpected[k] = run_loop(argv[3 + k], iterations);
    }
    OutputDebugStringA("end");
    closesocket(sockets[0]);
    closesocket(sockets[1]);
    WSACleanup();
    for (k = 0; k < loops; k++)
        printf("UNEXPECTED %s %ld\n", argv[3 + k], unexpected[k]);
    return 0;
}
