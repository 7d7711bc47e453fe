/* The protocol catalog as an application sees it: WSAEnumProtocolsA and WSAEnumProtocolsW,
 * the size query (a NULL buffer: WSAENOBUFS with the bytes needed), a short buffer, the
 * lpiProtocols filter (one protocol, one that matches nothing), and the base
 * provider's entries for TCP and UDP over IPv4 and IPv6: their family, type, protocol,
 * flags, chain, sizes, provider GUID and names, the same in both character sets. The
 * catalog may hold more than those four (a machine's other providers): the checks look for
 * them, whatever the order and the count. (No NULL lpdwBufferLength: WSAEFAULT by the
 * documentation, Wine 8 writes through it and crashes; tests/test_ws2_32.py has it.) */
#include <winsock2.h>
#include <ws2tcpip.h>

#include "checks.h"

#define MAX_ENTRIES 64

static WSAPROTOCOL_INFOW wide[MAX_ENTRIES];
static WSAPROTOCOL_INFOA narrow[MAX_ENTRIES];

/* The 0-based index of the base provider's entry for (family, type, protocol), or -1. */
static int find_wide(int count, int family, int type, int protocol)
{
    int i;

    for (i = 0; i < count; i++)
        if (wide[i].iAddressFamily == family && wide[i].iSocketType == type
            && wide[i].iProtocol == protocol && wide[i].ProtocolChain.ChainLen == BASE_PROTOCOL)
            return i;
    return -1;
}

static int find_narrow(int count, DWORD catalog_id)
{
    int i;

    for (i = 0; i < count; i++)
        if (narrow[i].dwCatalogEntryId == catalog_id)
            return i;
    return -1;
}

/* Whether the wide name and the narrow one are the same ASCII text. */
static int same_name(const WCHAR *w, const char *a)
{
    while (*w != 0 && *a != '\0') {
        if (*w != (unsigned char)*a)
            return 0;
        w++;
        a++;
    }
    return *w == 0 && *a == '\0';
}

/* prefix and suffix in out (the C run-time's string functions are more imports). */
static const char *joined(char *out, size_t size, const char *prefix, const char *suffix)
{
    size_t n = 0;

    while (*prefix != '\0' && n + 1 < size)
        out[n++] = *prefix++;
    while (*suffix != '\0' && n + 1 < size)
        out[n++] = *suffix++;
    out[n] = '\0';
    return out;
}

/* Whether two GUIDs are the same, byte for byte. */
static int same_guid(const GUID *a, const GUID *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    size_t i;

    for (i = 0; i < sizeof *a; i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

static void entry_checks(const char *prefix, int count, int family, int type, int protocol,
                         DWORD provider_data1, int address_size)
{
    char name[96];
    int i = find_wide(count, family, type, protocol), j;
    const WSAPROTOCOL_INFOW *info;
    DWORD stream_flags = XP1_GUARANTEED_DELIVERY | XP1_GUARANTEED_ORDER | XP1_GRACEFUL_CLOSE
                         | XP1_EXPEDITED_DATA | XP1_IFS_HANDLES;
    DWORD datagram_flags = XP1_CONNECTIONLESS | XP1_MESSAGE_ORIENTED | XP1_SUPPORT_BROADCAST
                           | XP1_SUPPORT_MULTIPOINT | XP1_IFS_HANDLES;

#define NAMED(suffix) joined(name, sizeof name, prefix, suffix)
    if (!check(NAMED("_listed"), i >= 0, 1))
        return;
    info = &wide[i];
    check(NAMED("_provider"), info->ProviderId.Data1, provider_data1);
    check(NAMED("_version"), info->iVersion, 2);
    check(NAMED("_min_sockaddr"), info->iMinSockAddr, address_size);
    check(NAMED("_max_sockaddr"), info->iMaxSockAddr, address_size);
    check(NAMED("_byte_order"), info->iNetworkByteOrder, BIGENDIAN);
    check(NAMED("_matches_zero"), (info->dwProviderFlags & PFL_MATCHES_PROTOCOL_ZERO) != 0, 1);
    if (type == SOCK_STREAM) {
        check(NAMED("_flags"), info->dwServiceFlags1 & ~(DWORD)XP1_QOS_SUPPORTED, stream_flags);
        check(NAMED("_message_size"), info->dwMessageSize, 0);
    } else {
        check(NAMED("_flags"), info->dwServiceFlags1 & ~(DWORD)XP1_QOS_SUPPORTED,
              datagram_flags);
        check(NAMED("_message_size"), info->dwMessageSize, 0xFFBB);
    }
    check(NAMED("_named"), info->szProtocol[0] != 0, 1);
    j = find_narrow(count, info->dwCatalogEntryId);
    if (check(NAMED("_in_ansi"), j >= 0, 1)) {
        check(NAMED("_ansi_family"), narrow[j].iAddressFamily, family);
        check(NAMED("_ansi_protocol"), narrow[j].iProtocol, protocol);
        check(NAMED("_ansi_same_name"), same_name(info->szProtocol, narrow[j].szProtocol), 1);
        check(NAMED("_ansi_provider"), same_guid(&narrow[j].ProviderId, &info->ProviderId), 1);
    }
#undef NAMED
}

static void filters(void)
{
    int udp_only[] = {IPPROTO_UDP, 0}, nothing[] = {9999, 0}, result, i, all_udp = 1;
    DWORD length = sizeof wide;

    result = WSAEnumProtocolsW(udp_only, wide, &length);
    check("udp_filter_some", result >= 2, 1);
    for (i = 0; i < result; i++)
        if (wide[i].iProtocol != IPPROTO_UDP)
            all_udp = 0;
    check("udp_filter_only_udp", all_udp, 1);
    check("udp_filter_length_kept", length, sizeof wide);

    length = sizeof wide;
    result = WSAEnumProtocolsW(nothing, wide, &length);
    check("no_match_count", result, 0);
}

int main(void)
{
    WSADATA data;
    DWORD length = 0, needed;
    int count, narrow_count, result;

    result = WSAEnumProtocolsW(NULL, NULL, &length);
    check("before_startup", result, SOCKET_ERROR);
    check("before_startup_error", WSAGetLastError(), WSANOTINITIALISED);

    if (!check("wsastartup", WSAStartup(MAKEWORD(2, 2), &data), 0))
        return checks_finish();

    /* The size query: no buffer, the bytes needed written back. */
    length = 0;
    result = WSAEnumProtocolsW(NULL, NULL, &length);
    check("size_query", result, SOCKET_ERROR);
    check("size_query_error", WSAGetLastError(), WSAENOBUFS);
    check("size_query_whole_entries", length > 0 && length % sizeof(WSAPROTOCOL_INFOW) == 0, 1);
    needed = length;

    /* One entry's room: too short, the same answer. */
    length = sizeof(WSAPROTOCOL_INFOW);
    result = WSAEnumProtocolsW(NULL, wide, &length);
    check("short_buffer", result, SOCKET_ERROR);
    check("short_buffer_error", WSAGetLastError(), WSAENOBUFS);
    check("short_buffer_needed", length == needed, 1);

    length = 0;
    result = WSAEnumProtocolsA(NULL, NULL, &length);
    check("ansi_size_query_error", WSAGetLastError(), WSAENOBUFS);
    check("ansi_size_in_ansi_entries", length % sizeof(WSAPROTOCOL_INFOA) == 0
          && length / sizeof(WSAPROTOCOL_INFOA) == needed / sizeof(WSAPROTOCOL_INFOW), 1);

    if (needed > sizeof wide)
        needed = sizeof wide;   /* a machine with more than MAX_ENTRIES: the first ones */
    length = sizeof wide;
    WSASetLastError(WSAEINTR);
    count = WSAEnumProtocolsW(NULL, wide, &length);
    check("enumerate_count", count > 0 && (DWORD)count * sizeof(WSAPROTOCOL_INFOW) == needed, 1);
    check("enumerate_length_kept", length, sizeof wide);
    length = sizeof narrow;
    narrow_count = WSAEnumProtocolsA(NULL, narrow, &length);
    check("ansi_same_count", narrow_count == count, 1);

    entry_checks("tcp4", count, AF_INET, SOCK_STREAM, IPPROTO_TCP, 0xE70F1AA0,
                 sizeof(struct sockaddr_in));
    entry_checks("udp4", count, AF_INET, SOCK_DGRAM, IPPROTO_UDP, 0xE70F1AA0,
                 sizeof(struct sockaddr_in));
    entry_checks("tcp6", count, AF_INET6, SOCK_STREAM, IPPROTO_TCP, 0xF9EAB0C0,
                 sizeof(struct sockaddr_in6));
    entry_checks("udp6", count, AF_INET6, SOCK_DGRAM, IPPROTO_UDP, 0xF9EAB0C0,
                 sizeof(struct sockaddr_in6));
    filters();

    check("wsacleanup", WSACleanup(), 0);
    length = sizeof wide;
    result = WSAEnumProtocolsW(NULL, wide, &length);
    check("after_cleanup", result, SOCKET_ERROR);
    check("after_cleanup_error", WSAGetLastError(), WSANOTINITIALISED);
    return checks_finish();
}
