/* User APCs and alertable waits: QueueUserAPC to the current thread, delivered in queue order
 * with their argument by SleepEx, WaitForSingleObjectEx and WSAWaitForMultipleEvents when
 * alertable (WAIT_IO_COMPLETION), never by a wait that is not; an event already signalled wins
 * over a pending APC; an APC may call Winsock itself.  The program's own registers come
 * through every delivery (the running sums live in them at -O1). */
#include <winsock2.h>
#include <windows.h>

#include "checks.h"

static ULONG_PTR ran[16];
static int ran_count;
static int winsock_error_seen;
static SOCKET apc_socket = INVALID_SOCKET;

static VOID CALLBACK record(ULONG_PTR data)
{
    if (ran_count < 16)
        ran[ran_count] = data;
    ran_count++;
}

/* Re-enters the emulator's hooks from inside the delivering wait. */
static VOID CALLBACK use_winsock(ULONG_PTR data)
{
    WSASetLastError((int)data);
    winsock_error_seen = WSAGetLastError();
    apc_socket = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    record(data);
}

static int queue(PAPCFUNC function, HANDLE thread, ULONG_PTR data)
{
    return QueueUserAPC(function, thread, data) != 0;
}

int main(void)
{
    WSADATA wsa;
    WSAEVENT event;
    HANDLE self = GetCurrentThread();
    volatile long long kept = 0x1122334455667788LL;
    int i;

    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();

    /* --- SleepEx: in queue order, with their arguments. */
    check("queue_three", queue(record, self, 11) + queue(record, self, 12) + queue(record, self, 13), 3);
    check("sleepex_alertable", SleepEx(0, TRUE), WAIT_IO_COMPLETION);
    check("sleepex_ran_all", ran_count, 3);
    check("sleepex_first", (long long)ran[0], 11);
    check("sleepex_second", (long long)ran[1], 12);
    check("sleepex_third", (long long)ran[2], 13);
    check("sleepex_none_left", SleepEx(0, TRUE), 0);

    /* --- A wait that is not alertable runs none. */
    ran_count = 0;
    queue(record, self, 21);
    check("sleepex_not_alertable", SleepEx(0, FALSE), 0);
    check("sleepex_not_alertable_ran_none", ran_count, 0);

    /* --- WaitForSingleObjectEx on a WSA event. */
    event = WSACreateEvent();
    check("wait_not_alertable", WaitForSingleObjectEx(event, 0, FALSE), WAIT_TIMEOUT);
    check("wait_not_alertable_ran_none", ran_count, 0);
    check("wait_alertable", WaitForSingleObjectEx(event, 0, TRUE), WAIT_IO_COMPLETION);
    check("wait_alertable_ran", ran_count, 1);
    check("wait_alertable_argument", (long long)ran[0], 21);

    /* --- An event already signalled wins over a pending APC, which stays queued. */
    ran_count = 0;
    WSASetEvent(event);
    queue(record, self, 31);
    check("signalled_wins", WaitForSingleObjectEx(event, 0, TRUE), WAIT_OBJECT_0);
    check("signalled_wins_ran_none", ran_count, 0);
    WSAResetEvent(event);

    /* --- WSAWaitForMultipleEvents. */
    check("wsawait_not_alertable", WSAWaitForMultipleEvents(1, &event, FALSE, 0, FALSE),
          WSA_WAIT_TIMEOUT);
    check("wsawait_not_alertable_ran_none", ran_count, 0);
    check("wsawait_alertable", WSAWaitForMultipleEvents(1, &event, FALSE, 0, TRUE),
          WSA_WAIT_IO_COMPLETION);
    check("wsawait_alertable_ran", ran_count, 1);
    check("wsawait_alertable_argument", (long long)ran[0], 31);

    /* --- WaitForMultipleObjectsEx, and an APC that calls Winsock itself. */
    ran_count = 0;
    queue(use_winsock, self, 10054);
    check("multiple_alertable", WaitForMultipleObjectsEx(1, &event, FALSE, 0, TRUE),
          WAIT_IO_COMPLETION);
    check("winsock_in_apc_ran", ran_count, 1);
    check("winsock_in_apc_last_error", winsock_error_seen, 10054);
    check("winsock_in_apc_socket", apc_socket != INVALID_SOCKET, 1);
    check("winsock_in_apc_closes", closesocket(apc_socket), 0);

    /* --- The program's own state came through every delivery. */
    for (i = 0; i < 3; i++)
        kept += i;
    check("registers_kept", kept == 0x1122334455667788LL + 3, 1);

    WSACloseEvent(event);
    WSACleanup();
    return checks_finish();
}
