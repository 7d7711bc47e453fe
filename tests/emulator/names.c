/* Name lookups that need no network: "localhost", numeric hosts, and calls made wrong on
 * purpose. gethostbyname, gethostbyaddr, getaddrinfo, GetAddrInfoW, freeaddrinfo,
 * FreeAddrInfoW, getnameinfo, GetNameInfoW and inet_ntoa, each result and error code
 * checked.
 *
 * Under Wine localhost comes from the host's /etc/hosts, which may or may not map it to ::1,
 * and in either order: the checks look for 127.0.0.1 among the answers and require every
 * answer to be 127.0.0.1 or ::1, whatever their number and order. A name that does not
 * exist would be a DNS query under Wine (a packet off this machine): that is net_policy's,
 * run in a network namespace; here an unknown name is asked for with AI_NUMERICHOST, which
 * makes no lookup anywhere. A reverse lookup is only asked of 127.0.0.1 (in every hosts
 * file), and of nothing else without NI_NUMERICHOST, for the same reason. */
#include <winsock2.h>
#include <ws2tcpip.h>

#include "checks.h"

static int same_text(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static int same_wide(const WCHAR *a, const char *b)
{
    while (*a != 0 && *a == (WCHAR)(unsigned char)*b) {
        a++;
        b++;
    }
    return *a == (WCHAR)(unsigned char)*b;
}

static int is_loopback4(const struct sockaddr *address)
{
    const struct sockaddr_in *in = (const struct sockaddr_in *)address;
    return in->sin_family == AF_INET && in->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
}

static int is_loopback6(const struct sockaddr *address)
{
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)address;
    int i;

    if (in6->sin6_family != AF_INET6)
        return 0;
    for (i = 0; i < 15; i++)
        if (in6->sin6_addr.s6_addr[i] != 0)
            return 0;
    return in6->sin6_addr.s6_addr[15] == 1;
}

static int is_any(const struct sockaddr *address)
{
    const unsigned char *bytes = (const unsigned char *)address;
    int start = address->sa_family == AF_INET6 ? 8 : 4;
    int end = address->sa_family == AF_INET6 ? 24 : 8;
    int i;

    for (i = start; i < end; i++)
        if (bytes[i] != 0)
            return 0;
    return 1;
}

static unsigned short port_of(const struct sockaddr *address)
{
    return ntohs(((const struct sockaddr_in *)address)->sin_port);
}

/* The number of entries, of entries for 127.0.0.1, and of entries that are neither it nor
 * ::1 (a chain of getaddrinfo). */
static void count_loopback(const ADDRINFOA *list, int *total, int *four, int *other)
{
    *total = *four = *other = 0;
    for (; list != NULL; list = list->ai_next) {
        (*total)++;
        if (is_loopback4(list->ai_addr))
            (*four)++;
        else if (!is_loopback6(list->ai_addr))
            (*other)++;
    }
}

static ADDRINFOA hints_of(int flags, int family, int socktype, int protocol)
{
    ADDRINFOA hints;
    hints.ai_flags = flags;
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_protocol = protocol;
    hints.ai_addrlen = 0;
    hints.ai_canonname = NULL;
    hints.ai_addr = NULL;
    hints.ai_next = NULL;
    return hints;
}

static void check_lookup_fails(const char *name, const char *node, const char *service,
                               const ADDRINFOA *hints, int want)
{
    char error_name[64];
    char *end = checks_append_text(error_name, error_name + sizeof error_name - 8, name);
    ADDRINFOA *result = (ADDRINFOA *)1;
    int code, error;

    WSASetLastError(0);
    code = getaddrinfo(node, service, hints, &result);
    error = WSAGetLastError();
    check(name, code, want);
    checks_append_text(end, error_name + sizeof error_name - 1, "_error");
    end[6] = '\0';
    check(error_name, error, want);
    checks_append_text(end, error_name + sizeof error_name - 1, "_null");
    end[5] = '\0';
    check(error_name, result == NULL, 1);
}

static void hostent_checks(void)
{
    struct hostent *host, *again;
    char **aliases;
    unsigned char loopback_2[4] = {127, 0, 0, 2};

    host = gethostbyname("localhost");
    if (check("gethostbyname_localhost", host != NULL, 1)) {
        check("gethostbyname_localhost_type", host->h_addrtype, AF_INET);
        check("gethostbyname_localhost_length", host->h_length, 4);
        check("gethostbyname_localhost_address",
              *(u_long *)host->h_addr_list[0] == htonl(INADDR_LOOPBACK), 1);
        /* Windows' layout (Wine's test_dns): the aliases right after the hostent, the
         * address list after the aliases' NULL, the first address after the list's. */
        aliases = (char **)(host + 1);
        check("gethostbyname_aliases_follow", host->h_aliases == aliases, 1);
        while (*aliases != NULL)
            aliases++;
        check("gethostbyname_addresses_follow", host->h_addr_list == aliases + 1, 1);
    }

    host = gethostbyname("127.0.0.1");
    if (check("gethostbyname_numeric", host != NULL, 1)) {
        check("gethostbyname_numeric_name", same_text(host->h_name, "127.0.0.1"), 1);
        check("gethostbyname_numeric_address",
              *(u_long *)host->h_addr_list[0] == htonl(INADDR_LOOPBACK), 1);
        check("gethostbyname_numeric_one", host->h_addr_list[1] == NULL, 1);
        /* One hostent per thread: the next call overwrites it. */
        again = gethostbyname("127.0.0.2");
        if (check("gethostbyname_again", again != NULL, 1))
            check("gethostbyname_overwritten",
                  *(u_long *)host->h_addr_list[0] == *(u_long *)loopback_2, 1);
    }

    host = gethostbyname(NULL);
    if (check("gethostbyname_null_is_local", host != NULL, 1))
        check("gethostbyname_null_type", host->h_addrtype, AF_INET);
    host = gethostbyname("");
    if (check("gethostbyname_empty_is_local", host != NULL, 1))
        check("gethostbyname_empty_type", host->h_addrtype, AF_INET);

    {
        u_long loopback = htonl(INADDR_LOOPBACK);
        host = gethostbyaddr((const char *)&loopback, 4, AF_INET);
        if (check("gethostbyaddr_loopback", host != NULL, 1)) {
            check("gethostbyaddr_type", host->h_addrtype, AF_INET);
            check("gethostbyaddr_length", host->h_length, 4);
            check("gethostbyaddr_address", *(u_long *)host->h_addr_list[0] == loopback, 1);
            check("gethostbyaddr_named", host->h_name != NULL && host->h_name[0] != '\0', 1);
            check("x_gethostbyaddr_localhost", same_text(host->h_name, "localhost"), 1);
        }
        CHECK_FAILS("gethostbyaddr_short", gethostbyaddr((const char *)&loopback, 3, AF_INET)
                    != NULL, 0, WSAEFAULT);
        CHECK_FAILS("gethostbyaddr_family", gethostbyaddr((const char *)&loopback, 4, 99)
                    != NULL, 0, WSAEAFNOSUPPORT);
    }
}

static void addrinfo_checks(void)
{
    ADDRINFOA hints, *result;
    ADDRINFOW hints_w, *result_w;
    WCHAR localhost_w[] = {'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0};
    WCHAR port_w[] = {'8', '0', 0};
    int total, four, other, code;

    check_lookup_fails("getaddrinfo_nothing", NULL, NULL, NULL, WSAHOST_NOT_FOUND);

    result = NULL;
    WSASetLastError(12345);
    code = getaddrinfo("localhost", "80", NULL, &result);
    check("getaddrinfo_localhost_error", WSAGetLastError(), 0);
    if (check("getaddrinfo_localhost", code, 0)) {
        count_loopback(result, &total, &four, &other);
        check("getaddrinfo_localhost_has_127", four, 1);
        check("getaddrinfo_localhost_only_loopback", other, 0);
        check("getaddrinfo_localhost_socktype", result->ai_socktype, 0);
        check("getaddrinfo_localhost_protocol", result->ai_protocol, 0);
        check("getaddrinfo_localhost_port", port_of(result->ai_addr), 80);
        freeaddrinfo(result);
    }

    hints = hints_of(0, AF_INET, SOCK_STREAM, IPPROTO_TCP);
    result = NULL;
    if (check("getaddrinfo_inet_stream", getaddrinfo("localhost", NULL, &hints, &result), 0)) {
        count_loopback(result, &total, &four, &other);
        check("getaddrinfo_inet_stream_count", total, 1);
        check("getaddrinfo_inet_stream_address", four, 1);
        check("getaddrinfo_inet_stream_family", result->ai_family, AF_INET);
        check("getaddrinfo_inet_stream_socktype", result->ai_socktype, SOCK_STREAM);
        check("getaddrinfo_inet_stream_protocol", result->ai_protocol, IPPROTO_TCP);
        check("getaddrinfo_inet_stream_addrlen", (int)result->ai_addrlen, 16);
        check("getaddrinfo_inet_stream_next", result->ai_next == NULL, 1);
        freeaddrinfo(result);
    }

    /* The hints' socket type and protocol come back as they were given. */
    hints = hints_of(0, AF_INET, SOCK_DGRAM, 999);
    result = NULL;
    if (check("getaddrinfo_protocol_as_given", getaddrinfo("127.0.0.1", "53", &hints, &result), 0)) {
        check("getaddrinfo_protocol_as_given_value", result->ai_protocol, 999);
        check("getaddrinfo_protocol_as_given_port", port_of(result->ai_addr), 53);
        freeaddrinfo(result);
    }
    hints = hints_of(0, AF_INET, SOCK_STREAM, 0);
    result = NULL;
    if (check("getaddrinfo_service_name", getaddrinfo("127.0.0.1", "http", &hints, &result), 0)) {
        check("getaddrinfo_service_name_port", port_of(result->ai_addr), 80);
        freeaddrinfo(result);
    }

    hints = hints_of(AI_NUMERICHOST, AF_INET6, 0, 0);
    result = NULL;
    if (check("getaddrinfo_numeric6", getaddrinfo("::1", "443", &hints, &result), 0)) {
        check("getaddrinfo_numeric6_family", result->ai_family, AF_INET6);
        check("getaddrinfo_numeric6_addrlen", (int)result->ai_addrlen, 28);
        check("getaddrinfo_numeric6_address", is_loopback6(result->ai_addr), 1);
        check("getaddrinfo_numeric6_port", port_of(result->ai_addr), 443);
        freeaddrinfo(result);
    }

    hints = hints_of(0, AF_INET6, 0, 0);
    result = NULL;
    if (check("getaddrinfo_brackets", getaddrinfo("[::1]", NULL, &hints, &result), 0)) {
        check("getaddrinfo_brackets_address", is_loopback6(result->ai_addr), 1);
        freeaddrinfo(result);
    }

    hints = hints_of(AI_PASSIVE, AF_INET, 0, 0);
    result = NULL;
    if (check("getaddrinfo_passive4", getaddrinfo(NULL, "8080", &hints, &result), 0)) {
        check("getaddrinfo_passive4_any", is_any(result->ai_addr), 1);
        check("getaddrinfo_passive4_port", port_of(result->ai_addr), 8080);
        check("getaddrinfo_passive4_one", result->ai_next == NULL, 1);
        freeaddrinfo(result);
    }
    hints = hints_of(AI_PASSIVE, AF_INET6, 0, 0);
    result = NULL;
    if (check("getaddrinfo_passive6", getaddrinfo(NULL, "0", &hints, &result), 0)) {
        check("getaddrinfo_passive6_family", result->ai_family, AF_INET6);
        check("getaddrinfo_passive6_any", is_any(result->ai_addr), 1);
        freeaddrinfo(result);
    }
    hints = hints_of(0, AF_INET, 0, 0);
    result = NULL;
    if (check("getaddrinfo_no_node", getaddrinfo(NULL, "0", &hints, &result), 0)) {
        check("getaddrinfo_no_node_loopback", is_loopback4(result->ai_addr), 1);
        freeaddrinfo(result);
    }

    hints = hints_of(AI_CANONNAME, AF_INET, 0, 0);
    result = NULL;
    if (check("getaddrinfo_canonname", getaddrinfo("localhost", NULL, &hints, &result), 0)) {
        check("getaddrinfo_canonname_set", result->ai_canonname != NULL, 1);
        freeaddrinfo(result);
    }

    hints = hints_of(AI_NUMERICHOST, AF_UNSPEC, 0, 0);
    check_lookup_fails("getaddrinfo_numerichost_name", "localhost", "80", &hints,
                       WSAHOST_NOT_FOUND);
    check_lookup_fails("getaddrinfo_numerichost_unknown", "nonexistent.invalid", NULL, &hints,
                       WSAHOST_NOT_FOUND);
    hints = hints_of(AI_NUMERICHOST, AF_INET, 0, 0);
    check_lookup_fails("getaddrinfo_wrong_family", "[::1]", NULL, &hints, WSAHOST_NOT_FOUND);
    hints = hints_of(0, 99, 0, 0);
    check_lookup_fails("getaddrinfo_bad_family", "localhost", NULL, &hints, WSAEAFNOSUPPORT);
    hints = hints_of(0, AF_INET, 999, 0);
    check_lookup_fails("getaddrinfo_bad_socktype", "localhost", NULL, &hints,
                       WSAESOCKTNOSUPPORT);
    check_lookup_fails("getaddrinfo_bad_service", NULL, "nonexistentservice", NULL,
                       WSATYPE_NOT_FOUND);
    freeaddrinfo(NULL); /* harmless */

    hints_w.ai_flags = AI_CANONNAME;
    hints_w.ai_family = AF_INET;
    hints_w.ai_socktype = SOCK_STREAM;
    hints_w.ai_protocol = 0;
    hints_w.ai_addrlen = 0;
    hints_w.ai_canonname = NULL;
    hints_w.ai_addr = NULL;
    hints_w.ai_next = NULL;
    result_w = NULL;
    WSASetLastError(12345);
    code = GetAddrInfoW(localhost_w, port_w, &hints_w, &result_w);
    check("getaddrinfow_error", WSAGetLastError(), 0);
    if (check("getaddrinfow", code, 0)) {
        check("getaddrinfow_address", is_loopback4(result_w->ai_addr), 1);
        check("getaddrinfow_port", port_of(result_w->ai_addr), 80);
        check("getaddrinfow_socktype", result_w->ai_socktype, SOCK_STREAM);
        check("getaddrinfow_canonname", result_w->ai_canonname != NULL, 1);
        FreeAddrInfoW(result_w);
    }
    result_w = (ADDRINFOW *)1;
    WSASetLastError(0);
    code = GetAddrInfoW(NULL, NULL, NULL, &result_w);
    check_failed("getaddrinfow_nothing", code, WSAHOST_NOT_FOUND, WSAHOST_NOT_FOUND);
    check("getaddrinfow_nothing_null", result_w == NULL, 1);
    FreeAddrInfoW(NULL);
}

static void nameinfo_checks(void)
{
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    char host[NI_MAXHOST], service[NI_MAXSERV];
    WCHAR host_w[NI_MAXHOST], service_w[NI_MAXSERV];
    int i, code;

    in.sin_family = AF_INET;
    in.sin_port = htons(80);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (i = 0; i < 8; i++)
        in.sin_zero[i] = 0;
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(443);
    in6.sin6_flowinfo = 0;
    for (i = 0; i < 16; i++)
        in6.sin6_addr.s6_addr[i] = (unsigned char)(i == 15);
    in6.sin6_scope_id = 0;

    code = getnameinfo((struct sockaddr *)&in, sizeof in, host, sizeof host, service,
                       sizeof service, NI_NUMERICHOST | NI_NUMERICSERV);
    if (check("getnameinfo_numeric", code, 0)) {
        check("getnameinfo_numeric_host", same_text(host, "127.0.0.1"), 1);
        check("getnameinfo_numeric_service", same_text(service, "80"), 1);
    }
    code = getnameinfo((struct sockaddr *)&in, sizeof in, host, sizeof host, NULL, 0,
                       NI_NAMEREQD);
    if (check("getnameinfo_loopback_name", code, 0))
        check("getnameinfo_loopback_named", host[0] != '\0', 1);
    code = getnameinfo((struct sockaddr *)&in6, sizeof in6, host, sizeof host, service,
                       sizeof service, NI_NUMERICHOST | NI_NUMERICSERV);
    if (check("getnameinfo_numeric6", code, 0)) {
        check("getnameinfo_numeric6_host", same_text(host, "::1"), 1);
        check("getnameinfo_numeric6_service", same_text(service, "443"), 1);
    }
    code = GetNameInfoW((struct sockaddr *)&in, sizeof in, host_w, NI_MAXHOST, service_w,
                        NI_MAXSERV, NI_NUMERICHOST | NI_NUMERICSERV);
    if (check("getnameinfow_numeric", code, 0)) {
        check("getnameinfow_numeric_host", same_wide(host_w, "127.0.0.1"), 1);
        check("getnameinfow_numeric_service", same_wide(service_w, "80"), 1);
    }
    in.sin_family = 99;
    WSASetLastError(0);
    code = getnameinfo((struct sockaddr *)&in, sizeof in, host, sizeof host, NULL, 0,
                       NI_NUMERICHOST);
    check_failed("getnameinfo_bad_family", code, WSAEAFNOSUPPORT, WSAEAFNOSUPPORT);
}

static void ntoa_checks(void)
{
    struct in_addr address;
    char *text, *again;

    address.s_addr = htonl(INADDR_LOOPBACK);
    text = inet_ntoa(address);
    if (check("inet_ntoa", text != NULL, 1))
        check("inet_ntoa_text", same_text(text, "127.0.0.1"), 1);
    address.s_addr = htonl(0xC0A80AFFu);
    again = inet_ntoa(address);
    if (check("inet_ntoa_again", again != NULL, 1)) {
        check("inet_ntoa_again_text", same_text(again, "192.168.10.255"), 1);
        check("inet_ntoa_one_buffer", text == again, 1);
    }
}

int main(void)
{
    WSADATA wsa;
    ADDRINFOA *result = (ADDRINFOA *)1;
    int code;

    CHECK_FAILS("gethostbyname_before_startup", gethostbyname("localhost") != NULL, 0,
                WSANOTINITIALISED);
    WSASetLastError(0);
    code = getaddrinfo("localhost", NULL, NULL, &result);
    check_failed("getaddrinfo_before_startup", code, WSANOTINITIALISED, WSANOTINITIALISED);
    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();

    hostent_checks();
    addrinfo_checks();
    nameinfo_checks();
    ntoa_checks();

    check("wsacleanup", WSACleanup(), 0);
    return checks_finish();
}
