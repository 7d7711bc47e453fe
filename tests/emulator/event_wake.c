/* An event set from outside the program: it prints "EVENT <handle value>" and then waits up
 * to 5 s on that event. Under ws2core the test sets the event from a host thread, through
 * the same handle table, once it has read the line; the wait must end with
 * WSA_WAIT_EVENT_0 well before the timeout.
 *
 * The wake-up is ws2core's: nothing in a Windows process (or under Wine) sets the event, so
 * there the wait times out, and the check carries the "x_" prefix that comparisons leave
 * out. (A real C runtime also buffers stdout on a pipe until exit, so no outside reader
 * could see the line in time; the emulated printf writes it at once.) */
#include <winsock2.h>

#include "checks.h"

int main(void)
{
    WSADATA wsa;
    WSAEVENT event;
    char value[32];
    char *end;

    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();
    event = WSACreateEvent();
    if (!check("create_event", event != WSA_INVALID_EVENT ? 0 : WSAGetLastError(), 0))
        return checks_finish();

    /* Handle values fit in 32 bits (the kernel's handle tables, and ws2core's, never grow
     * past that), so the signed 64-bit formatter shows them exactly. */
    end = checks_append_int(value, value + sizeof value - 1, (long long)(ULONG_PTR)event);
    *end = '\0';
    printf("EVENT %s\n", value);

    check("x_woken_by_host", WSAWaitForMultipleEvents(1, &event, FALSE, 5000, FALSE),
          WSA_WAIT_EVENT_0);
    check("close_event", WSACloseEvent(event), TRUE);
    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
