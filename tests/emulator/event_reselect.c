/* What WSAEventSelect records for what happened before it, and what a second WSAEventSelect
 * records. A network event already reported stays held across a new selection until its
 * re-enabling call (recv for FD_READ, accept for FD_ACCEPT); an event that happened while
 * nobody wanted it (FD_CONNECT of a finished connect, FD_WRITE of an accepted socket) is
 * recorded by the first selection that wants it; FD_CLOSE waits until the data is read.
 * Each selection gets a fresh event, so a signal left by one step cannot pass for the next
 * step's; the steps that must record nothing wait SILENCE_MS before they enumerate. */
#include <winsock2.h>

#include "checks.h"
#include "loopback.h"

#define PATIENCE_MS 5000
#define SILENCE_MS 200
#define MAX_SELECTIONS 16

static WSAEVENT selections[MAX_SELECTIONS];
static int selection_count;

/* Associates a fresh event with `mask` on s; WSA_INVALID_EVENT if that failed. */
static WSAEVENT select_fresh(SOCKET s, long mask)
{
    WSAEVENT event;

    if (selection_count == MAX_SELECTIONS)
        return WSA_INVALID_EVENT;
    event = WSACreateEvent();
    if (event == WSA_INVALID_EVENT)
        return WSA_INVALID_EVENT;
    selections[selection_count++] = event;
    if (WSAEventSelect(s, event, mask) == SOCKET_ERROR)
        return WSA_INVALID_EVENT;
    return event;
}

/* The network events recorded for s on `event` once it is signalled, or after `wait_ms` if
 * it is not; -1 when a call failed. */
static long recorded(SOCKET s, WSAEVENT event, DWORD wait_ms)
{
    WSANETWORKEVENTS seen;

    if (event == WSA_INVALID_EVENT)
        return -1;
    if (WSAWaitForMultipleEvents(1, &event, FALSE, wait_ms, FALSE) == WSA_WAIT_FAILED)
        return -1;
    if (WSAEnumNetworkEvents(s, event, &seen) == SOCKET_ERROR)
        return -1;
    return seen.lNetworkEvents;
}

int main(void)
{
    WSADATA wsa;
    struct sockaddr_in address;
    SOCKET listener, client, server, second_client, second_server;
    WSAEVENT reading;
    char buffer[4];
    int i;

    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();
    listener = open_listener(&address);
    if (!check("listener_open", setup_error(listener != INVALID_SOCKET), 0))
        return checks_finish();
    client = open_client(&address);
    if (!check("client_connect", setup_error(client != INVALID_SOCKET), 0))
        return checks_finish();
    server = accept(listener, NULL, NULL);
    if (!check("server_accept", setup_error(server != INVALID_SOCKET), 0))
        return checks_finish();

    /* The connect finished before any selection: its FD_CONNECT and FD_WRITE are recorded
     * by the first one, and not again by the next. An accepted socket never connected. */
    check("connected_first_select",
          recorded(client, select_fresh(client, FD_CONNECT | FD_WRITE), PATIENCE_MS),
          FD_CONNECT | FD_WRITE);
    check("connected_reselect",
          recorded(client, select_fresh(client, FD_CONNECT | FD_WRITE), SILENCE_MS), 0);
    check("accepted_first_select",
          recorded(server, select_fresh(server, FD_CONNECT | FD_WRITE), PATIENCE_MS), FD_WRITE);

    /* A selection that does not want FD_CONNECT leaves it owed to the next that does. */
    second_client = open_client(&address);
    if (!check("second_client_connect", setup_error(second_client != INVALID_SOCKET), 0))
        return checks_finish();
    check("connect_not_wanted",
          recorded(second_client, select_fresh(second_client, FD_READ), SILENCE_MS), 0);
    check("connect_owed",
          recorded(second_client, select_fresh(second_client, FD_CONNECT), PATIENCE_MS),
          FD_CONNECT);

    /* FD_ACCEPT for the pending connection, held across a new selection until accept. */
    check("accept_first_select",
          recorded(listener, select_fresh(listener, FD_ACCEPT), PATIENCE_MS), FD_ACCEPT);
    check("accept_reselect",
          recorded(listener, select_fresh(listener, FD_ACCEPT), SILENCE_MS), 0);
    second_server = accept(listener, NULL, NULL);
    if (!check("second_server_accept", setup_error(second_server != INVALID_SOCKET), 0))
        return checks_finish();

    /* FD_READ, held across a new selection until recv, which records it again while data
     * remains. */
    check("server_send", send(server, "xy", 2, 0), 2);
    check("read_first_select",
          recorded(client, select_fresh(client, FD_READ), PATIENCE_MS), FD_READ);
    reading = select_fresh(client, FD_READ);
    check("read_reselect", recorded(client, reading, SILENCE_MS), 0);
    check("recv_one", recv(client, buffer, 1, 0), 1);
    check("read_again_after_recv", recorded(client, reading, PATIENCE_MS), FD_READ);

    /* The peer closes with a byte unread: FD_CLOSE only once it is read, then never again. */
    check("server_close", closesocket(server), 0);
    reading = select_fresh(client, FD_READ | FD_CLOSE);
    check("close_waits_for_data", recorded(client, reading, SILENCE_MS), 0);
    check("recv_rest", recv(client, buffer, (int)sizeof buffer, 0), 1);
    check("close_after_data", recorded(client, reading, PATIENCE_MS), FD_CLOSE);
    check("close_reselect", recorded(client, select_fresh(client, FD_CLOSE), SILENCE_MS), 0);
    check("recv_end", recv(client, buffer, (int)sizeof buffer, 0), 0);

    check("client_close", closesocket(client), 0);
    check("second_client_close", closesocket(second_client), 0);
    check("second_server_close", closesocket(second_server), 0);
    check("listener_close", closesocket(listener), 0);
    for (i = 0; i < selection_count; i++) {
        if (!WSACloseEvent(selections[i]))
            break;
    }
    check("events_closed", i, selection_count);
    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
