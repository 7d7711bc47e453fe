/* The output protocol of the programs in this folder, read by programs.parse_checks:
 *
 *     CHECK <name> <got> <want> ok|FAIL     one line per check, got and want in decimal
 *     RESULT <passed>/<total>               the last line; the exit status is 0 iff all passed
 *
 * Names have no spaces and are unique within a program. A name that begins with "x_" checks
 * a place where ws2core deliberately goes beyond Windows (DESIGN.md section 1); comparisons
 * against Windows or Wine leave those checks out.
 *
 * Numbers are formatted here and printed with "%s": the programs also run under an emulator
 * whose printf is a partial reimplementation (its %d prints a negative int as an unsigned
 * 32-bit value, so SOCKET_ERROR would read 4294967295), and %s is the conversion every printf
 * gets right. The formats keep their keyword and newline around the "%s": GCC compiles
 * printf("%s\n", s) into puts(s), an import outside the short list the emulator implements.
 */
#ifndef WS2CORE_CHECKS_H
#define WS2CORE_CHECKS_H

#include <stdio.h>
#include <winsock2.h>

static int checks_passed;
static int checks_total;

static inline char *checks_append_text(char *out, const char *end, const char *text)
{
    while (*text != '\0' && out < end)
        *out++ = *text++;
    return out;
}

static inline char *checks_append_int(char *out, const char *end, long long value)
{
    char digits[24];
    int count = 0;
    /* Negating LLONG_MIN overflows; the unsigned negation is defined for every value. */
    unsigned long long magnitude =
        value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;

    do {
        digits[count++] = (char)('0' + (int)(magnitude % 10));
        magnitude /= 10;
    } while (magnitude != 0);
    if (value < 0 && out < end)
        *out++ = '-';
    while (count > 0 && out < end)
        *out++ = digits[--count];
    return out;
}

/* Prints one CHECK line; returns nonzero when got == want, so a program can stop early when
 * a later check depends on this one. */
static inline int check(const char *name, long long got, long long want)
{
    char line[256];
    const char *end = line + sizeof line - 1;
    char *out = line;
    int ok = got == want;

    out = checks_append_text(out, end, name);
    out = checks_append_text(out, end, " ");
    out = checks_append_int(out, end, got);
    out = checks_append_text(out, end, " ");
    out = checks_append_int(out, end, want);
    out = checks_append_text(out, end, ok ? " ok" : " FAIL");
    *out = '\0';
    printf("CHECK %s\n", line);
    checks_total++;
    if (ok)
        checks_passed++;
    return ok;
}

/* Prints the RESULT line; main returns what this returns. */
static inline int checks_finish(void)
{
    char line[64];
    const char *end = line + sizeof line - 1;
    char *out = line;

    out = checks_append_int(out, end, checks_passed);
    out = checks_append_text(out, end, "/");
    out = checks_append_int(out, end, checks_total);
    *out = '\0';
    printf("RESULT %s\n", line);
    return checks_passed == checks_total ? 0 : 1;
}

/* Whether the first n bytes at a and b are equal: memcmp without importing it (a program
 * imports only what the emulator implements, programs.ALLOWED_IMPORTS). */
static inline int same_bytes(const void *a, const void *b, unsigned n)
{
    const unsigned char *left = a, *right = b;

    while (n > 0 && *left == *right) {
        left++;
        right++;
        n--;
    }
    return n == 0;
}

/* Two checks for a call that must fail: its result, and the error WSAGetLastError() gives
 * right after it (read before anything is printed, since printing may touch the thread's last
 * error). The second check is named <name>_error. */
static inline void check_failed(const char *name, long long got, long long want,
                                long long want_error)
{
    int error = WSAGetLastError();
    char error_name[128];
    char *end = checks_append_text(error_name, error_name + sizeof error_name - 1, name);

    end = checks_append_text(end, error_name + sizeof error_name - 1, "_error");
    *end = '\0';
    check(name, got, want);
    check(error_name, error, want_error);
}

/* Clears the last error first, so that a code left by an earlier call cannot pass for this
 * call's. */
#define CHECK_FAILS(name, call, want, want_error)                 \
    do {                                                          \
        WSASetLastError(0);                                       \
        check_failed(name, (long long)(call), want, want_error); \
    } while (0)

#endif /* WS2CORE_CHECKS_H */
