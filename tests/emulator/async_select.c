/* WSAAsyncSelect through a message-only window (HWND_MESSAGE): the window class and window
 * calls a program makes for it, FD_ACCEPT on the listener, FD_WRITE, FD_READ (and its
 * re-enabling rule: no second FD_READ until a recv, one after a recv that leaves data) and
 * FD_CLOSE on the accepted socket, each message read with GetMessage or PeekMessage (never
 * DispatchMessage: an emulator may not run the window procedure); the non-blocking mode
 * WSAAsyncSelect puts a socket in, and the cancel (lEvent 0) that lets it block again; a
 * window that is no window (WSAEINVAL); the program's own PostMessage and PostQuitMessage. */
#include <winsock2.h>
#include <windows.h>

#include "checks.h"
#include "loopback.h"

#define WM_SOCKET (WM_USER + 1)
#define WM_OWN (WM_USER + 5)
#define CLASS_NAME "ws2core_async_select"

static LRESULT CALLBACK window_procedure(HWND window, UINT message, WPARAM wParam,
                                         LPARAM lParam)
{
    return DefWindowProcA(window, message, wParam, lParam);
}

/* Lets the peer's traffic reach the socket: a select on a socket with nothing to read, for
 * `milliseconds` (a real wait in every emulator, where Sleep may return at once). */
static void pause_on(SOCKET idle, long milliseconds)
{
    fd_set readable;
    struct timeval timeout;

    timeout.tv_sec = 0;
    timeout.tv_usec = milliseconds * 1000;
    FD_ZERO(&readable);
    FD_SET(idle, &readable);
    (void)select(0, &readable, NULL, NULL, &timeout);
}

/* The next WM_SOCKET message of `window`: its event (WSAGETSELECTEVENT), with the socket in
 * *socket_out and the error in *error; -1 when GetMessage failed. */
static long next_event(HWND window, SOCKET *socket_out, int *error)
{
    MSG msg;

    if (GetMessageA(&msg, window, WM_SOCKET, WM_SOCKET) != 1)
        return -1;
    *socket_out = (SOCKET)msg.wParam;
    *error = WSAGETSELECTERROR(msg.lParam);
    return msg.message == WM_SOCKET && msg.hwnd == window ? WSAGETSELECTEVENT(msg.lParam) : -2;
}

int main(void)
{
    WSADATA wsa;
    WNDCLASSEXA window_class = {0};
    struct sockaddr_in address;
    SOCKET listener, client, server, other, from = INVALID_SOCKET;
    HWND window;
    MSG msg;
    u_long blocking = 0;
    int error = -1;
    long event;
    char buffer[4];

    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();

    window_class.cbSize = sizeof window_class;
    window_class.lpfnWndProc = window_procedure;
    window_class.lpszClassName = CLASS_NAME;
    if (!check("register_class", RegisterClassExA(&window_class) != 0, 1))
        return checks_finish();
    check("register_class_twice", RegisterClassExA(&window_class), 0);
    check("register_class_twice_error", (long long)GetLastError(), ERROR_CLASS_ALREADY_EXISTS);
    window_class.cbSize = sizeof window_class - 1;
    window_class.lpszClassName = "ws2core_bad_size";
    check("register_class_bad_size", RegisterClassExA(&window_class), 0);
    check("register_class_bad_size_error", (long long)GetLastError(), ERROR_INVALID_PARAMETER);

    check("create_unknown_class",
          CreateWindowExA(0, "ws2core_no_such_class", "", 0, 0, 0, 0, 0, HWND_MESSAGE, NULL,
                          NULL, NULL) == NULL, 1);
    check("create_unknown_class_error", (long long)GetLastError(), ERROR_CANNOT_FIND_WND_CLASS);
    window = CreateWindowExA(0, CLASS_NAME, "", 0, 0, 0, 0, 0, HWND_MESSAGE, NULL, NULL, NULL);
    if (!check("create_window", window != NULL, 1))
        return checks_finish();
    check("is_window", IsWindow(window), 1);

    /* The program's own message: PM_NOREMOVE leaves it, PM_REMOVE takes it. */
    check("post_message", PostMessageA(window, WM_OWN, 7, -9), 1);
    check("peek_noremove", PeekMessageA(&msg, window, WM_OWN, WM_OWN, PM_NOREMOVE), 1);
    check("peek_remove", PeekMessageA(&msg, window, WM_OWN, WM_OWN, PM_REMOVE), 1);
    check("peek_message", msg.message, WM_OWN);
    check("peek_window", msg.hwnd == window, 1);
    check("peek_wparam", (long long)msg.wParam, 7);
    check("peek_lparam", (long long)msg.lParam, -9);
    check("peek_empty", PeekMessageA(&msg, window, 0, 0, PM_REMOVE), 0);
    check("translate_message", TranslateMessage(&msg), 0);

    listener = open_listener(&address);
    if (!check("listener", setup_error(listener != INVALID_SOCKET), 0))
        return checks_finish();
    check("select_accept", WSAAsyncSelect(listener, window, WM_SOCKET, FD_ACCEPT), 0);
    check("blocking_refused", ioctlsocket(listener, FIONBIO, &blocking), SOCKET_ERROR);
    check("blocking_refused_error", WSAGetLastError(), WSAEINVAL);

    client = open_client(&address);
    if (!check("client", setup_error(client != INVALID_SOCKET), 0))
        return checks_finish();
    event = next_event(window, &from, &error);
    check("accept_event", event, FD_ACCEPT);
    check("accept_socket", from == listener, 1);
    check("accept_error", error, 0);
    server = accept(listener, NULL, NULL);
    if (!check("accept", setup_error(server != INVALID_SOCKET), 0))
        return checks_finish();

    check("select_server",
          WSAAsyncSelect(server, window, WM_SOCKET, FD_READ | FD_WRITE | FD_CLOSE), 0);
    event = next_event(window, &from, &error);
    check("write_event", event, FD_WRITE);
    check("write_socket", from == server, 1);
    check("write_error", error, 0);

    check("send", send(client, "pingpong", 8, 0), 8);
    event = next_event(window, &from, &error);
    check("read_event", event, FD_READ);
    check("read_socket", from == server, 1);
    check("read_error", error, 0);
    /* No second FD_READ before a recv, however much more arrives. */
    check("send_more", send(client, "more", 4, 0), 4);
    pause_on(client, 300);
    check("no_second_read", PeekMessageA(&msg, window, WM_SOCKET, WM_SOCKET, PM_REMOVE), 0);
    /* A recv that leaves data re-enables FD_READ and the data left posts it again. */
    check("recv_part", recv(server, buffer, sizeof buffer, 0), 4);
    event = next_event(window, &from, &error);
    check("read_again_event", event, FD_READ);
    check("recv_rest", recv(server, buffer, sizeof buffer, 0), 4);
    event = next_event(window, &from, &error);
    check("read_third_event", event, FD_READ);
    check("recv_last", recv(server, buffer, sizeof buffer, 0), 4);
    pause_on(client, 300);
    check("drained_no_read", PeekMessageA(&msg, window, WM_SOCKET, WM_SOCKET, PM_REMOVE), 0);

    check("client_close", closesocket(client), 0);
    event = next_event(window, &from, &error);
    check("close_event", event, FD_CLOSE);
    check("close_socket", from == server, 1);
    check("close_error", error, 0);

    /* lEvent 0 cancels: no more messages, and the socket may block again. */
    check("cancel", WSAAsyncSelect(listener, window, 0, 0), 0);
    client = open_client(&address);
    check("client_after_cancel", setup_error(client != INVALID_SOCKET), 0);
    pause_on(listener, 300);
    check("cancelled_no_message", PeekMessageA(&msg, window, 0, 0, PM_REMOVE), 0);
    check("blocking_after_cancel", ioctlsocket(listener, FIONBIO, &blocking), 0);

    /* A window that is no window. */
    other = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    check("other", setup_error(other != INVALID_SOCKET), 0);
    check("destroy_window", DestroyWindow(window), 1);
    check("destroyed_is_window", IsWindow(window), 0);
    check("destroy_twice", DestroyWindow(window), 0);
    check("destroy_twice_error", (long long)GetLastError(), ERROR_INVALID_WINDOW_HANDLE);
    check("select_bad_window", WSAAsyncSelect(other, window, WM_SOCKET, FD_READ),
          SOCKET_ERROR);
    check("select_bad_window_error", WSAGetLastError(), WSAEINVAL);
    check("get_bad_window", GetMessageA(&msg, window, 0, 0), -1);
    check("get_bad_window_error", (long long)GetLastError(), ERROR_INVALID_WINDOW_HANDLE);
    check("unregister_class", UnregisterClassA(CLASS_NAME, NULL), 1);
    check("unregister_twice", UnregisterClassA(CLASS_NAME, NULL), 0);
    check("unregister_twice_error", (long long)GetLastError(), ERROR_CLASS_DOES_NOT_EXIST);

    /* WM_QUIT ends GetMessage with 0 and the exit code in wParam. */
    PostQuitMessage(3);
    check("get_quit", GetMessageA(&msg, NULL, 0, 0), 0);
    check("quit_message", msg.message, WM_QUIT);
    check("quit_code", (long long)msg.wParam, 3);

    closesocket(other);
    closesocket(client);
    closesocket(server);
    closesocket(listener);
    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
