/* Address and host-name functions: gethostname and GetHostNameW, inet_addr, inet_pton and
 * InetPtonW, inet_ntop and InetNtopW, WSAAddressToStringA/W, WSAStringToAddressA/W and the
 * byte-order functions, with right and wrong arguments; and iphlpapi's GetAdaptersAddresses
 * and GetAdaptersInfo (errors, sizes, the loopback adapter every machine has; the x_ checks:
 * this machine as ws2core's policy shows it, with the loopback adapter alone). No socket is
 * opened: every address is text to convert (loopback, and the all-zero and all-one
 * addresses), nothing is sent.
 *
 * The facts are Wine's conformance tests, which run on Windows (dlls/ws2_32/tests/
 * protocol.c: test_inet_addr, test_inet_pton, test_addr_to_print, test_WSAAddressToString,
 * test_WSAStringToAddress), and the functions' documentation pages. Strings are compared by
 * hand and buffers filled by hand: strcmp and memset would be imports outside the short list
 * the emulator serves. */
#define _WIN32_WINNT 0x0A00
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>

#include "checks.h"

#define STATUS_INVALID_PARAMETER_CODE ((int)0xC000000D)

/* 0 when the NUL-terminated strings are equal, else 1 (a check's value). */
static int differs(const char *got, const char *want)
{
    if (got == NULL)
        return 1;
    while (*got != '\0' && *got == *want) {
        got++;
        want++;
    }
    return *got != *want;
}

static int differs_wide(const WCHAR *got, const char *want)
{
    if (got == NULL)
        return 1;
    while (*got != 0 && *got == (WCHAR)(unsigned char)*want) {
        got++;
        want++;
    }
    return *got != (WCHAR)(unsigned char)*want;
}

static void fill(void *buffer, int value, size_t size)
{
    volatile unsigned char *bytes = buffer;
    size_t i;

    for (i = 0; i < size; i++)
        bytes[i] = (unsigned char)value;
}

static void widen(WCHAR *out, const char *text)
{
    while ((*out++ = (WCHAR)(unsigned char)*text++) != 0)
        ;
}

/* The address bytes as one number, first byte highest: 127.0.0.1 is 0x7f000001. */
static long long address_value(const void *address, int size)
{
    const unsigned char *bytes = address;
    long long value = 0;
    int i;

    for (i = 0; i < size; i++)
        value = value * 256 + bytes[i];
    return value;
}

static int port_of(const void *sockaddr)
{
    const unsigned char *bytes = sockaddr;
    return bytes[2] * 256 + bytes[3];
}

/* The byte-order functions called through a pointer whose parameter is wider than the C
 * type's: the bits above it are garbage that Windows ignores. */
typedef u_long(WINAPI *wide_short_function)(u_long);
typedef ULONG_PTR(WINAPI *wide_long_function)(ULONG_PTR);

static void inet_addr_checks(void)
{
    static const struct {
        const char *name;
        const char *text;
        u_long want;
    } cases[] = {
        {"inet_addr_dotted", "127.0.0.1", 0x0100007f},
        {"inet_addr_three_parts", "1.2.3", 0x03000201},
        {"inet_addr_two_parts", "1.2", 0x02000001},
        {"inet_addr_one_part", "203569230", 0x4e38220c},
        {"inet_addr_hex", "0x7f.1", 0x0100007f},
        {"inet_addr_hex_whole", "0x00010203", 0x03020100},
        {"inet_addr_octal", "0177.0.0.01", 0x0100007f},
        {"inet_addr_octal_whole", "017700000001", 0x0100007f},
        {"inet_addr_trailing_space", "127.0.0.1 ", 0x0100007f},
        {"inet_addr_space_then_junk", "127.0.0.1  junk", 0x0100007f},
        {"inet_addr_space_splits", "1 2 3 4", 0x01000000},
        {"inet_addr_lone_space", " ", 0x00000000},
        {"inet_addr_broadcast", "255.255.255.255", 0xffffffff},
        {"inet_addr_leading_space", " 127.0.0.1", 0xffffffff},
        {"inet_addr_empty", "", 0xffffffff},
        {"inet_addr_five_parts", "3.4.5.6.7", 0xffffffff},
        {"inet_addr_part_too_big", "127.0.0.256", 0xffffffff},
        {"inet_addr_port", "127.0.0.1:80", 0xffffffff},
        {"inet_addr_bad_octal", "1.2.3.0a", 0xffffffff},
        {"inet_addr_empty_hex", "1.1.1.0x", 0xffffffff},
        {"inet_addr_trailing_dot", "1.2.3.", 0xffffffff},
        {"inet_addr_ipv6", "::1", 0xffffffff},
        {"inet_addr_brackets", "[127.0.0.1]", 0xffffffff},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        WSASetLastError(1234);
        check(cases[i].name, (long long)inet_addr(cases[i].text), (long long)cases[i].want);
    }
    check("inet_addr_leaves_last_error", WSAGetLastError(), 1234);
    CHECK_FAILS("inet_addr_null", inet_addr(NULL), (long long)INADDR_NONE, WSAEFAULT);
}

static void inet_pton_checks(void)
{
    unsigned char address[16];
    WCHAR wide[64];
    int result;

    fill(address, 0xab, sizeof address);
    WSASetLastError(1234);
    check("pton4", inet_pton(AF_INET, "127.0.0.1", address), 1);
    check("pton4_address", address_value(address, 4), 0x7f000001);
    check("pton4_leaves_last_error", WSAGetLastError(), 1234);

    fill(address, 0xab, sizeof address);
    check("pton4_short_form", inet_pton(AF_INET, "127.1", address), 0);
    check("pton4_short_form_untouched", address_value(address, 4), 0xabababab);
    check("pton4_short_form_last_error", WSAGetLastError(), 1234);
    check("pton4_leading_zero", inet_pton(AF_INET, "127.0.0.01", address), 0);
    check("pton4_hex", inet_pton(AF_INET, "127.0.0.0x1", address), 0);
    check("pton4_bad_untouched", address_value(address, 4), 0xabababab);
    /* The four parts make an address, written out; the space after them is refused. */
    check("pton4_trailing_space", inet_pton(AF_INET, "127.0.0.2 ", address), 0);
    check("pton4_trailing_space_address", address_value(address, 4), 0x7f000002);

    fill(address, 0xab, sizeof address);
    check("pton6_loopback", inet_pton(AF_INET6, "::1", address), 1);
    check("pton6_loopback_high", address_value(address, 8), 0);
    check("pton6_loopback_low", address_value(address + 8, 8), 1);
    check("pton6_v4_tail", inet_pton(AF_INET6, "::ffff:127.0.0.1", address), 1);
    check("pton6_v4_tail_low", address_value(address + 8, 8), 0xffff7f000001LL);
    check("pton6_full", inet_pton(AF_INET6, "1:2:3:4:5:6:7:8", address), 1);
    check("pton6_full_low", address_value(address + 12, 4), 0x00070008);
    check("pton6_two_gaps", inet_pton(AF_INET6, "1::2::3", address), 0);
    check("pton6_trailing_colon", inet_pton(AF_INET6, "1111::5555:", address), 0);
    check("pton6_five_digits", inet_pton(AF_INET6, "::12345", address), 0);
    check("pton6_brackets", inet_pton(AF_INET6, "[::1]", address), 0);
    check("pton6_scope", inet_pton(AF_INET6, "::1%1", address), 0);
    check("pton6_gap_then_seven", inet_pton(AF_INET6, "::0:a:b:c:d:e:f", address), 0);
    check("pton6_v4_on_v6", inet_pton(AF_INET6, "127.0.0.1", address), 0);
    check("pton4_v6_on_v4", inet_pton(AF_INET, "::1", address), 0);

    CHECK_FAILS("pton_unspec", inet_pton(AF_UNSPEC, "127.0.0.1", address), -1, WSAEAFNOSUPPORT);
    CHECK_FAILS("pton_null_string", inet_pton(AF_INET, NULL, address), -1, WSAEFAULT);
    CHECK_FAILS("pton_null_string_unspec", inet_pton(AF_UNSPEC, NULL, address), -1, WSAEFAULT);

    widen(wide, "::1");
    fill(address, 0xab, sizeof address);
    WSASetLastError(1234);
    check("ptonw", InetPtonW(AF_INET6, wide, address), 1);
    check("ptonw_low", address_value(address + 8, 8), 1);
    check("ptonw_leaves_last_error", WSAGetLastError(), 1234);
    widen(wide, "127.0.0.256");
    result = InetPtonW(AF_INET, wide, address);
    check_failed("ptonw_bad", result, 0, WSAEINVAL);
    CHECK_FAILS("ptonw_null", InetPtonW(AF_INET, NULL, address), -1, WSAEFAULT);
}

static void inet_ntop_checks(void)
{
    static const struct {
        const char *name;
        unsigned char address[16];
        const char *want;
    } six[] = {
        {"ntop6_loopback", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "::1"},
        {"ntop6_zero", {0}, "::"},
        {"ntop6_mapped", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1},
         "::ffff:127.0.0.1"},
        {"ntop6_compatible", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xcc, 0x98, 0xbd, 0x74},
         "::204.152.189.116"},
        {"ntop6_prefix", {0x20, 0x30, 0xa4, 0xb1}, "2030:a4b1::"},
        {"ntop6_not_mapped", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0xcc, 0x98, 0xbd, 0x74},
         "::fffe:cc98:bd74"},
        {"ntop6_single_zero", {0, 1, 0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7}, "1:0:2:3:4:5:6:7"},
        {"ntop6_first_longest", {0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4}, "1::2:0:0:3:4"},
    };
    unsigned char loopback[4] = {127, 0, 0, 1};
    char text[64];
    WCHAR wide[64];
    const char *result;
    size_t i;

    WSASetLastError(1234);
    result = inet_ntop(AF_INET, loopback, text, sizeof text);
    check("ntop4_result_is_buffer", result == text, 1);
    check("ntop4_text", differs(text, "127.0.0.1"), 0);
    check("ntop4_leaves_last_error", WSAGetLastError(), 1234);
    check("ntop4_exact_size", inet_ntop(AF_INET, loopback, text, 10) == text, 1);
    CHECK_FAILS("ntop4_one_short", inet_ntop(AF_INET, loopback, text, 9) == NULL, 1,
                STATUS_INVALID_PARAMETER_CODE);
    CHECK_FAILS("ntop4_null_buffer", inet_ntop(AF_INET, loopback, NULL, 64) == NULL, 1,
                STATUS_INVALID_PARAMETER_CODE);
    CHECK_FAILS("ntop4_zero_size", inet_ntop(AF_INET, loopback, text, 0) == NULL, 1,
                STATUS_INVALID_PARAMETER_CODE);
    CHECK_FAILS("ntop_bad_family", inet_ntop(1, loopback, text, sizeof text) == NULL, 1,
                WSAEAFNOSUPPORT);

    for (i = 0; i < sizeof six / sizeof six[0]; i++) {
        fill(text, '#', sizeof text);
        inet_ntop(AF_INET6, (void *)six[i].address, text, sizeof text);
        check(six[i].name, differs(text, six[i].want), 0);
    }
    CHECK_FAILS("ntop6_one_short", inet_ntop(AF_INET6, (void *)six[0].address, text, 3) == NULL,
                1, STATUS_INVALID_PARAMETER_CODE);

    check("ntopw_result_is_buffer",
          InetNtopW(AF_INET6, (void *)six[2].address, wide, 64) == wide, 1);
    check("ntopw_text", differs_wide(wide, "::ffff:127.0.0.1"), 0);
    /* No test or page says which code InetNtopW's short buffer sets. */
    check("ntopw_one_short", InetNtopW(AF_INET, loopback, wide, 9) == NULL, 1);
}

static void address_to_string_checks(void)
{
    struct sockaddr_in in = {0};
    struct sockaddr_in6 in6 = {0};
    char text[64];
    WCHAR wide[64];
    DWORD length;

    in.sin_family = AF_INET;
    in.sin_addr.s_addr = 0x0100007f;
    length = sizeof text;
    check("a2s4", WSAAddressToStringA((struct sockaddr *)&in, sizeof in, NULL, text, &length), 0);
    check("a2s4_text", differs(text, "127.0.0.1"), 0);
    check("a2s4_length", length, 10);

    in.sin_port = 0x5000; /* 80 in network order */
    length = sizeof text;
    check("a2s4_port",
          WSAAddressToStringA((struct sockaddr *)&in, sizeof in, NULL, text, &length), 0);
    check("a2s4_port_text", differs(text, "127.0.0.1:80"), 0);
    check("a2s4_port_length", length, 13);

    length = 12;
    CHECK_FAILS("a2s4_short_buffer",
                WSAAddressToStringA((struct sockaddr *)&in, sizeof in, NULL, text, &length),
                SOCKET_ERROR, WSAEFAULT);
    check("a2s4_short_buffer_length", length, 13);
    /* As Wine's test_WSAAddressToString calls it: no buffer, length 0. */
    length = 0;
    CHECK_FAILS("a2sw_null_buffer",
                WSAAddressToStringW((struct sockaddr *)&in, sizeof in, NULL, NULL, &length),
                SOCKET_ERROR, WSAEFAULT);
    check("a2sw_null_buffer_length", length, 13);
    /* NULL lpsaAddress or lpdwAddressStringLength, or a dwAddressLength of 0: WSAEINVAL
     * (the function's page). */
    CHECK_FAILS("a2s4_null_length",
                WSAAddressToStringA((struct sockaddr *)&in, sizeof in, NULL, text, NULL),
                SOCKET_ERROR, WSAEINVAL);
    length = sizeof text;
    CHECK_FAILS("a2s4_null_address", WSAAddressToStringA(NULL, sizeof in, NULL, text, &length),
                SOCKET_ERROR, WSAEINVAL);
    length = sizeof text;
    CHECK_FAILS("a2s4_zero_address_length",
                WSAAddressToStringA((struct sockaddr *)&in, 0, NULL, text, &length),
                SOCKET_ERROR, WSAEINVAL);
    /* A sockaddr shorter than its family's fails; no page says with which code. */
    length = sizeof text;
    check("a2s4_short_address",
          WSAAddressToStringA((struct sockaddr *)&in, sizeof in - 1, NULL, text, &length),
          SOCKET_ERROR);
    in.sin_family = AF_UNIX;
    length = sizeof text;
    CHECK_FAILS("a2s_bad_family",
                WSAAddressToStringA((struct sockaddr *)&in, sizeof in, NULL, text, &length),
                SOCKET_ERROR, WSAEINVAL);

    in6.sin6_family = AF_INET6;
    in6.sin6_addr.s6_addr[15] = 1;
    length = sizeof text;
    check("a2s6", WSAAddressToStringA((struct sockaddr *)&in6, sizeof in6, NULL, text, &length), 0);
    check("a2s6_text", differs(text, "::1"), 0);
    check("a2s6_length", length, 4);
    in6.sin6_port = 0x5000;
    in6.sin6_scope_id = 3;
    length = sizeof text;
    check("a2s6_port_scope",
          WSAAddressToStringA((struct sockaddr *)&in6, sizeof in6, NULL, text, &length), 0);
    check("a2s6_port_scope_text", differs(text, "[::1%3]:80"), 0);
    check("a2s6_port_scope_length", length, 11);

    length = 64;
    check("a2sw", WSAAddressToStringW((struct sockaddr *)&in6, sizeof in6, NULL, wide, &length), 0);
    check("a2sw_text", differs_wide(wide, "[::1%3]:80"), 0);
    check("a2sw_length", length, 11);
    length = 5;
    CHECK_FAILS("a2sw_short_buffer",
                WSAAddressToStringW((struct sockaddr *)&in6, sizeof in6, NULL, wide, &length),
                SOCKET_ERROR, WSAEFAULT);
    check("a2sw_short_buffer_length", length, 11);
}

static void string_to_address_checks(void)
{
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    WCHAR wide[64];
    int length;

    fill(&in, 0xab, sizeof in);
    length = sizeof in + 10;
    check("s2a4", WSAStringToAddressA("127.0.0.1:80", AF_INET, NULL, (struct sockaddr *)&in,
                                      &length), 0);
    check("s2a4_family", in.sin_family, AF_INET);
    check("s2a4_address", address_value(&in.sin_addr, 4), 0x7f000001);
    check("s2a4_port", port_of(&in), 80);
    check("s2a4_length", length, sizeof in);

    length = sizeof in;
    check("s2a4_short_form", WSAStringToAddressA("127.1", AF_INET, NULL, (struct sockaddr *)&in,
                                                 &length), 0);
    check("s2a4_short_form_address", address_value(&in.sin_addr, 4), 0x7f000001);
    check("s2a4_short_form_port", port_of(&in), 0);
    length = sizeof in;
    check("s2a4_hex_port", WSAStringToAddressA("127.0.0.1:0x50", AF_INET, NULL,
                                               (struct sockaddr *)&in, &length), 0);
    check("s2a4_hex_port_port", port_of(&in), 80);

    fill(&in, 0xab, sizeof in);
    length = sizeof in + 10;
    CHECK_FAILS("s2a4_port_zero", WSAStringToAddressA("127.0.0.1:0", AF_INET, NULL,
                                                      (struct sockaddr *)&in, &length),
                SOCKET_ERROR, WSAEINVAL);
    check("s2a4_port_zero_family", in.sin_family, 0);
    check("s2a4_port_zero_length", length, sizeof in + 10);
    length = sizeof in;
    CHECK_FAILS("s2a4_port_too_big", WSAStringToAddressA("127.0.0.1:65536", AF_INET, NULL,
                                                         (struct sockaddr *)&in, &length),
                SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("s2a4_bad", WSAStringToAddressA("127.0.0.256", AF_INET, NULL,
                                                (struct sockaddr *)&in, &length),
                SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("s2a4_trailing_space", WSAStringToAddressA("127.0.0.1 ", AF_INET, NULL,
                                                           (struct sockaddr *)&in, &length),
                SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("s2a4_ipv6", WSAStringToAddressA("::1", AF_INET, NULL, (struct sockaddr *)&in,
                                                 &length),
                SOCKET_ERROR, WSAEINVAL);
    length = 0;
    CHECK_FAILS("s2a4_short", WSAStringToAddressA("127.0.0.1", AF_INET, NULL,
                                                  (struct sockaddr *)&in, &length),
                SOCKET_ERROR, WSAEFAULT);
    check("s2a4_short_length", length, sizeof in);
    length = sizeof in6;
    CHECK_FAILS("s2a_bad_family", WSAStringToAddressA("127.0.0.1", AF_UNIX, NULL,
                                                      (struct sockaddr *)&in, &length),
                SOCKET_ERROR, WSAEINVAL);

    fill(&in6, 0xab, sizeof in6);
    length = sizeof in6;
    check("s2a6", WSAStringToAddressA("[::1%3]:80", AF_INET6, NULL, (struct sockaddr *)&in6,
                                      &length), 0);
    check("s2a6_family", in6.sin6_family, AF_INET6);
    check("s2a6_low", address_value(&in6.sin6_addr.s6_addr[8], 8), 1);
    check("s2a6_port", port_of(&in6), 80);
    check("s2a6_scope", in6.sin6_scope_id, 3);
    check("s2a6_flowinfo", in6.sin6_flowinfo, 0);
    check("s2a6_length", length, sizeof in6);
    length = sizeof in6;
    check("s2a6_no_brackets", WSAStringToAddressA("::1", AF_INET6, NULL,
                                                  (struct sockaddr *)&in6, &length), 0);
    check("s2a6_no_brackets_port", port_of(&in6), 0);
    check("s2a6_no_brackets_scope", in6.sin6_scope_id, 0);
    CHECK_FAILS("s2a6_open_bracket", WSAStringToAddressA("[::1", AF_INET6, NULL,
                                                         (struct sockaddr *)&in6, &length),
                SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("s2a6_close_bracket", WSAStringToAddressA("::1]:80", AF_INET6, NULL,
                                                          (struct sockaddr *)&in6, &length),
                SOCKET_ERROR, WSAEINVAL);
    CHECK_FAILS("s2a6_ipv4", WSAStringToAddressA("127.0.0.1", AF_INET6, NULL,
                                                 (struct sockaddr *)&in6, &length),
                SOCKET_ERROR, WSAEINVAL);
    length = sizeof in;
    CHECK_FAILS("s2a6_short", WSAStringToAddressA("::1", AF_INET6, NULL,
                                                  (struct sockaddr *)&in6, &length),
                SOCKET_ERROR, WSAEFAULT);
    check("s2a6_short_length", length, sizeof in6);

    widen(wide, "[::1]:443");
    length = sizeof in6;
    check("s2aw", WSAStringToAddressW(wide, AF_INET6, NULL, (struct sockaddr *)&in6, &length), 0);
    check("s2aw_port", port_of(&in6), 443);
    widen(wide, "127.0.0.1:x");
    length = sizeof in;
    CHECK_FAILS("s2aw_bad", WSAStringToAddressW(wide, AF_INET, NULL, (struct sockaddr *)&in,
                                                &length),
                SOCKET_ERROR, WSAEINVAL);
}

static void host_name_checks(void)
{
    char name[256];
    WCHAR wide[256];
    int length = 0;

    fill(name, 0, sizeof name);
    check("gethostname", gethostname(name, sizeof name), 0);
    while (name[length] != '\0')
        length++;
    check("gethostname_not_empty", length > 0, 1);
    check("x_gethostname_policy", differs(name, "DESKTOP-WS2CORE"), 0);
    CHECK_FAILS("gethostname_short", gethostname(name, length), SOCKET_ERROR, WSAEFAULT);
    check("gethostname_exact", gethostname(name, length + 1), 0);
    CHECK_FAILS("gethostname_null", gethostname(NULL, sizeof name), SOCKET_ERROR, WSAEFAULT);

    check("gethostnamew", GetHostNameW(wide, 256), 0);
    check("gethostnamew_same", differs_wide(wide, name), 0);
    CHECK_FAILS("gethostnamew_short", GetHostNameW(wide, length), SOCKET_ERROR, WSAEFAULT);
}

/* Whether the adapter has a unicast address of the family whose bytes are these. */
static int has_unicast(IP_ADAPTER_ADDRESSES *adapter, int family, const void *want, int size)
{
    IP_ADAPTER_UNICAST_ADDRESS *unicast;
    const unsigned char *sockaddr;

    for (unicast = adapter->FirstUnicastAddress; unicast != NULL; unicast = unicast->Next) {
        if (unicast->Address.lpSockaddr->sa_family != family)
            continue;
        /* sin_addr is 4 bytes in, sin6_addr 8 */
        sockaddr = (const unsigned char *)unicast->Address.lpSockaddr;
        if (address_value(sockaddr + (family == AF_INET ? 4 : 8), size) ==
            address_value(want, size))
            return 1;
    }
    return 0;
}

/* The loopback adapter of the list, and how many adapters it has. */
static IP_ADAPTER_ADDRESSES *loopback_adapter(IP_ADAPTER_ADDRESSES *list, int *count)
{
    IP_ADAPTER_ADDRESSES *found = NULL;

    for (*count = 0; list != NULL; list = list->Next, ++*count)
        if (list->IfType == IF_TYPE_SOFTWARE_LOOPBACK && found == NULL)
            found = list;
    return found;
}

/* Whether every unicast address of every adapter is of the family. */
static int only_family(IP_ADAPTER_ADDRESSES *list, int family)
{
    IP_ADAPTER_UNICAST_ADDRESS *unicast;

    for (; list != NULL; list = list->Next)
        for (unicast = list->FirstUnicastAddress; unicast != NULL; unicast = unicast->Next)
            if (unicast->Address.lpSockaddr->sa_family != family)
                return 0;
    return 1;
}

static void adapter_checks(void)
{
    static ULONGLONG storage[4096]; /* 32 KB, 8-aligned */
    IP_ADAPTER_ADDRESSES *list = (IP_ADAPTER_ADDRESSES *)storage;
    IP_ADAPTER_ADDRESSES *loopback;
    unsigned char v4[4] = {127, 0, 0, 1};
    unsigned char v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    ULONG size, needed;
    int count;

    check("gaa_null_size", GetAdaptersAddresses(AF_UNSPEC, 0, NULL, list, NULL),
          ERROR_INVALID_PARAMETER);
    size = 0x7fffffff; /* no buffer: the size is the one needed, whatever it said */
    check("gaa_null_buffer", GetAdaptersAddresses(AF_UNSPEC, 0, NULL, NULL, &size),
          ERROR_BUFFER_OVERFLOW);
    check("gaa_null_buffer_size", size > sizeof(IP_ADAPTER_ADDRESSES) && size < 0x7fffffff, 1);
    needed = size;
    size = 1;
    check("gaa_short", GetAdaptersAddresses(AF_UNSPEC, 0, NULL, list, &size),
          ERROR_BUFFER_OVERFLOW);
    check("gaa_short_size", size == needed, 1);
    size = sizeof storage;
    check("gaa_bad_family", GetAdaptersAddresses(AF_UNIX, 0, NULL, list, &size),
          ERROR_INVALID_PARAMETER);

    size = sizeof storage;
    if (!check("gaa", GetAdaptersAddresses(AF_UNSPEC, 0, NULL, list, &size), NO_ERROR))
        return;
    loopback = loopback_adapter(list, &count);
    check("x_gaa_one_adapter", count, 1);
    if (!check("gaa_loopback", loopback != NULL, 1))
        return;
    check("gaa_loopback_length", loopback->Length, sizeof(IP_ADAPTER_ADDRESSES));
    check("gaa_loopback_up", loopback->OperStatus, IfOperStatusUp);
    check("gaa_loopback_v4", has_unicast(loopback, AF_INET, v4, 4), 1);
    check("gaa_loopback_v6", has_unicast(loopback, AF_INET6, v6, 16), 1);
    check("gaa_unicast_length", loopback->FirstUnicastAddress->Length,
          sizeof(IP_ADAPTER_UNICAST_ADDRESS));
    check("gaa_friendly_name", loopback->FriendlyName[0] != 0, 1);

    size = sizeof storage;
    check("gaa_inet", GetAdaptersAddresses(AF_INET, 0, NULL, list, &size), NO_ERROR);
    check("gaa_inet_only", only_family(list, AF_INET), 1);
    loopback = loopback_adapter(list, &count);
    check("gaa_inet_loopback_v4", loopback != NULL && has_unicast(loopback, AF_INET, v4, 4), 1);
    /* Without DNS servers: Wine 8 fails AF_INET6 where the host has no IPv6 one (9852,
     * DNS_ERROR_NO_DNS_SERVERS), which is no Windows behaviour. */
    size = sizeof storage;
    check("gaa_inet6", GetAdaptersAddresses(AF_INET6, GAA_FLAG_SKIP_DNS_SERVER, NULL, list, &size),
          NO_ERROR);
    check("gaa_inet6_only", only_family(list, AF_INET6), 1);
    size = sizeof storage;
    check("gaa_skip_unicast", GetAdaptersAddresses(AF_UNSPEC, GAA_FLAG_SKIP_UNICAST, NULL, list,
                                                   &size), NO_ERROR);
    loopback = loopback_adapter(list, &count);
    check("gaa_skip_unicast_none", loopback != NULL && loopback->FirstUnicastAddress == NULL, 1);

    check("gai_null_size", GetAdaptersInfo(NULL, NULL), ERROR_INVALID_PARAMETER);
    size = 0; /* GetAdaptersInfo leaves loopback out: the policy's machine has no adapter */
    check("x_gai_no_data", GetAdaptersInfo(NULL, &size), ERROR_NO_DATA);
}

int main(void)
{
    WSADATA wsa;
    struct sockaddr_in in = {0};
    char text[64];
    DWORD text_length = sizeof text;
    int length = sizeof in;
    wide_short_function wide_htons = (wide_short_function)(void (*)(void))htons;
    wide_short_function wide_ntohs = (wide_short_function)(void (*)(void))ntohs;
    wide_long_function wide_htonl = (wide_long_function)(void (*)(void))htonl;
    wide_long_function wide_ntohl = (wide_long_function)(void (*)(void))ntohl;
    /* Bits above a u_long, where a pointer-sized slot has them (x64); none on x86. */
    ULONG_PTR high = (ULONG_PTR)0xabcd << 16 << 16;
    char name[64];

    /* The conversions need no WSAStartup; the catalog's functions do. */
    check("htons", htons(0x1234), 0x3412);
    check("ntohs", ntohs(0x3412), 0x1234);
    check("htonl", (long long)htonl(0x12345678), 0x78563412);
    check("ntohl", (long long)ntohl(0x78563412), 0x12345678);
    check("htons_high_bits", wide_htons(0xabcd1234) & 0xffff, 0x3412);
    check("ntohs_high_bits", wide_ntohs(0xabcd3412) & 0xffff, 0x1234);
    check("htonl_high_bits", (long long)(wide_htonl(high | 0x12345678) & 0xffffffff), 0x78563412);
    check("ntohl_high_bits", (long long)(wide_ntohl(high | 0x78563412) & 0xffffffff), 0x12345678);
    check("inet_addr_unstarted", (long long)inet_addr("127.0.0.1"), 0x0100007f);

    in.sin_family = AF_INET;
    CHECK_FAILS("gethostname_unstarted", gethostname(name, sizeof name), SOCKET_ERROR,
                WSANOTINITIALISED);
    CHECK_FAILS("a2s_unstarted",
                WSAAddressToStringA((struct sockaddr *)&in, sizeof in, NULL, text, &text_length),
                SOCKET_ERROR, WSANOTINITIALISED);
    CHECK_FAILS("s2a_unstarted",
                WSAStringToAddressA("127.0.0.1", AF_INET, NULL, (struct sockaddr *)&in, &length),
                SOCKET_ERROR, WSANOTINITIALISED);

    if (!check("startup", WSAStartup(MAKEWORD(2, 2), &wsa), 0))
        return checks_finish();
    inet_addr_checks();
    inet_pton_checks();
    inet_ntop_checks();
    address_to_string_checks();
    string_to_address_checks();
    host_name_checks();
    adapter_checks();
    check("cleanup", WSACleanup(), 0);
    return checks_finish();
}
