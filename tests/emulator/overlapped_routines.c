/* Overlapped I/O completed by completion routine, over a loopback TCP connection in one
 * thread: an echo whose WSARecv goes pending until the peer sends, its routine run only in an
 * alertable wait (SleepEx, WSAWaitForMultipleEvents, WaitForSingleObjectEx: never in one that
 * is not), with the error, the count, the caller's WSAOVERLAPPED and the flags, the received
 * bytes already in the buffer; a WSASend that completes at once still reported through its
 * routine; several receives completing in call order; hEvent left alone (the program's to
 * use); and a pending receive that closesocket cancels, its routine given
 * WSA_OPERATION_ABORTED. */
#include <winsock2.h>
#include <windows.h>

#include "checks.h"
#include "loopback.h"

#define RUNS 8

struct run {
    DWORD error;
    DWORD count;
    LPWSAOVERLAPPED overlapped;
    DWORD flags;
    char first;           /* the first byte of the buffer when the routine ran */
};

static struct run runs[RUNS];
static int run_count;
static char buffers[4][8];

static void record(DWORD error, DWORD count, LPWSAOVERLAPPED overlapped, DWORD flags,
                   char first)
{
    if (run_count < RUNS) {
        runs[run_count].error = error;
        runs[run_count].count = count;
        runs[run_count].overlapped = overlapped;
        runs[run_count].flags = flags;
        runs[run_count].first = first;
    }
    run_count++;
}

/* Which buffer an operation reads into rides in the structure's hEvent, which a completion
 * routine leaves to the program. */
static void CALLBACK received(DWORD error, DWORD count, LPWSAOVERLAPPED overlapped, DWORD flags)
{
    record(error, count, overlapped, flags, buffers[(INT_PTR)overlapped->hEvent][0]);
}

static void CALLBACK sent(DWORD error, DWORD count, LPWSAOVERLAPPED overlapped, DWORD flags)
{
    record(error, count, overlapped, flags, 's');
}

static void clear(WSAOVERLAPPED *overlapped, INT_PTR tag)
{
    char *bytes = (char *)overlapped;
    unsigned i;

    for (i = 0; i < sizeof *overlapped; i++)
        bytes[i] = 0;
    overlapped->hEvent = (WSAEVENT)tag;
}

static int start_receive(SOCKET s, int which, WSAOVERLAPPED *overlapped)
{
    WSABUF wsabuf;
    DWORD flags = 0;
    unsigned i;

    for (i = 0; i < sizeof buffers[which]; i++)
        buffers[which][i] = 0;
    clear(overlapped, which);
    wsabuf.len = sizeof buffers[which];
    wsabuf.buf = buffers[which];
    return WSARecv(s, &wsabuf, 1, NULL, &flags, overlapped, received);
}

int main(void)
{
    WSADATA data;
    SOCKET client, server;
    WSAOVERLAPPED overlapped, send_overlapped, several[3], cancelled;
    WSAEVENT idle;
    WSABUF out;
    DWORD count = 0;
    int i;

    if (!check("startup", WSAStartup(MAKEWORD(2, 2), &data), 0))
        return checks_finish();
    open_pair(&client, &server);
    if (!check("setup", setup_error(server != INVALID_SOCKET), 0))
        return checks_finish();
    idle = WSACreateEvent();

    /* Pending until the peer sends; the routine waits for an alertable wait. */
    WSASetLastError(0);
    check_failed("recv_pending", start_receive(server, 0, &overlapped), SOCKET_ERROR,
                 WSA_IO_PENDING);
    check("send_plain", send_text(client, "routine", 7), 7);
    check("sleep_not_alertable", (long long)SleepEx(200, FALSE), 0);
    check("not_alertable_runs_none", run_count, 0);
    check("wait_not_alertable", WSAWaitForMultipleEvents(1, &idle, FALSE, 0, FALSE),
          WSA_WAIT_TIMEOUT);
    check("wait_not_alertable_runs_none", run_count, 0);
    check("sleep_alertable", (long long)SleepEx(5000, TRUE), WAIT_IO_COMPLETION);
    check("routine_ran_once", run_count, 1);
    check("routine_error", runs[0].error, 0);
    check("routine_count", runs[0].count, 7);
    check("routine_overlapped", runs[0].overlapped == &overlapped, 1);
    check("routine_flags", runs[0].flags, 0);
    check("routine_saw_the_bytes", runs[0].first, 'r');
    check("structure_internal", (long long)overlapped.Internal, 0);
    check("structure_count", (long long)overlapped.InternalHigh, 7);
    check("hevent_left_alone", (long long)(INT_PTR)overlapped.hEvent, 0);
    check("sleep_nothing_left", (long long)SleepEx(0, TRUE), 0);

    /* A send that completes at once: 0, and its routine all the same, at the next
     * alertable wait (here WSAWaitForMultipleEvents). */
    clear(&send_overlapped, 9);
    out.len = 4;
    out.buf = "back";
    check("send_at_once", WSASend(server, &out, 1, &count, 0, &send_overlapped, sent), 0);
    check("send_at_once_count", count, 4);
    check("send_routine_not_yet", run_count, 1);
    check("wait_alertable", WSAWaitForMultipleEvents(1, &idle, FALSE, 5000, TRUE),
          WSA_WAIT_IO_COMPLETION);
    check("send_routine_ran", run_count, 2);
    check("send_routine_count", runs[1].count, 4);
    check("send_routine_overlapped", runs[1].overlapped == &send_overlapped, 1);
    check("send_routine_first", runs[1].first, 's');

    /* Three receives outstanding, one send of three parts' worth: routines in call order,
     * run by WaitForSingleObjectEx. */
    for (i = 0; i < 3; i++) {
        WSABUF part;
        DWORD flags = 0;

        clear(&several[i], i + 1);
        for (count = 0; count < sizeof buffers[i + 1]; count++)
            buffers[i + 1][count] = 0;
        part.len = 2;
        part.buf = buffers[i + 1];
        WSASetLastError(0);
        check_failed(i == 0 ? "several_pending_0" : i == 1 ? "several_pending_1"
                     : "several_pending_2",
                     WSARecv(server, &part, 1, NULL, &flags, &several[i], received),
                     SOCKET_ERROR, WSA_IO_PENDING);
    }
    check("send_several", send_text(client, "aabbcc", 6), 6);
    SleepEx(200, FALSE);   /* all three complete, so that one alertable wait runs them all */
    check("wait_single_alertable", (long long)WaitForSingleObjectEx(idle, 5000, TRUE),
          WAIT_IO_COMPLETION);
    check("several_ran", run_count, 5);
    check("several_order",
          runs[2].overlapped == &several[0] && runs[3].overlapped == &several[1]
              && runs[4].overlapped == &several[2], 1);
    check("several_bytes", runs[2].first == 'a' && runs[3].first == 'b' && runs[4].first == 'c',
          1);

    /* A pending receive cancelled by closesocket: its routine gets WSA_OPERATION_ABORTED. */
    WSASetLastError(0);
    check_failed("cancel_pending", start_receive(server, 0, &cancelled), SOCKET_ERROR,
                 WSA_IO_PENDING);
    check("cancel_close", closesocket(server), 0);
    check("cancel_sleep_alertable", (long long)SleepEx(5000, TRUE), WAIT_IO_COMPLETION);
    check("cancel_ran", run_count, 6);
    check("cancel_error", runs[5].error, WSA_OPERATION_ABORTED);
    check("cancel_count", runs[5].count, 0);
    check("cancel_overlapped", runs[5].overlapped == &cancelled, 1);

    WSACloseEvent(idle);
    closesocket(client);
    check("cleanup", WSACleanup(), 0);
    return checks_finish();
}
