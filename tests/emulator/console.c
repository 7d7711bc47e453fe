/* console.c: the C run-time a console program uses before and beside its sockets: its
 * command line, its environment, the printf family and the other console output, exit.
 *
 * Built twice: with mingw's own printf (its default) and with msvcrt's
 * (-D__USE_MINGW_ANSI_STDIO=0), and run with the arguments "one" "two words" and the
 * variable WS2CORE_GREETING=hello. Its output must be the same under Wine and under
 * Speakeasy with ws2core's run-time, byte for byte; it exits with 7 through exit().
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

static void environment(void)
{
    const char *set = getenv("WS2CORE_GREETING");
    const char *folded = getenv("ws2core_greeting");
    const char *unset = getenv("WS2CORE_UNSET");
    printf("getenv: %s %s %s\n", set ? set : "NULL", folded ? folded : "NULL",
           unset ? unset : "NULL");

    char narrow[32] = "untouched";
    DWORD got = GetEnvironmentVariableA("WS2CORE_GREETING", narrow, sizeof narrow);
    printf("GetEnvironmentVariableA fits: %lu %s\n", got, narrow);
    char small[3] = "ab";
    got = GetEnvironmentVariableA("WS2CORE_GREETING", small, sizeof small);
    printf("GetEnvironmentVariableA too small: %lu\n", got);
    SetLastError(0);
    got = GetEnvironmentVariableA("WS2CORE_UNSET", narrow, sizeof narrow);
    printf("GetEnvironmentVariableA unset: %lu %lu\n", got, GetLastError());

    WCHAR wide[32];
    got = GetEnvironmentVariableW(L"WS2CORE_GREETING", wide, 32);
    printf("GetEnvironmentVariableW fits: %lu %ls\n", got, wide);
    got = GetEnvironmentVariableW(L"WS2CORE_GREETING", wide, 5);
    printf("GetEnvironmentVariableW too small: %lu\n", got);
}

static void formats(void)
{
    printf("[%d|%i|%u|%o|%x|%X|%c|%%]\n", -42, 42, 3000000000u, 8, 255, 255, 'A');
    printf("[%5d|%-5d|%05d|%+d|% d|%.3d|%8.3d|%-+6d|%x]\n", 42, 42, 42, 42, 42, 7, -7, 3, 0);
    printf("[%#o|%#x|%#X|%#x|%.0d|%5.0d]\n", 8, 255, 255, 0, 0, 0);
    printf("[%hd|%hu|%hhd|%ld|%lu|%lld|%llu|%I64d|%I64x]\n", (short)-2, (unsigned short)65535,
           (signed char)-3, -100000L, 100000UL, -1234567890123LL, 18446744073709551615ULL,
           -9876543210LL, 0x123456789abcLL);
    printf("[%s|%10s|%-10s|%.3s|%10.2s|%c%c]\n", "text", "right", "left", "truncate", "ab",
           'o', 'k');
    printf("[%*d|%-*d|%.*d|%*.*s]\n", 6, 1, 6, 2, 4, 3, 7, 2, "stars");
    printf("[%ls|%S]\n", L"wide", L"Wide");
    printf("[%f|%.2f|%10.3f|%-10.1f|%+.1f|%e|%.3E|%g|%G|%g|%g]\n", 3.14159, 2.5, -1.0, 0.25,
           7.0, 12345.678, 0.000123, 0.0001, 1e20, 100000.0, 1e-5);
    printf("[%.0f|%.0e|%#.0f|%#g|%g]\n", 2.5, 15.0, 3.0, 1.5, 0.0);
    printf("[%.0f|%.20f|%.2f|%.3e]\n", 18446744073709551616.0, 0.1, 0.125, 1e300);

    volatile double zero = 0.0;
    double infinity = 1.0 / zero, indefinite = zero / zero;
    printf("[%f|%e|%g|%.2f|%E|%f|%e|%g|%f]\n", infinity, infinity, infinity, infinity, -infinity,
           indefinite, indefinite, indefinite, -indefinite);
    printf("[%04c|%04s|%-4s|%b|%5y|tail %%]\n", '1', "foo", "ab");  /* %p: width is the ABI's */
}

static void output(void)
{
    fprintf(stderr, "to stderr: %d\n", 1);
    fputs("fputs line\n", stdout);
    fputc('c', stdout);
    putchar('\n');
    fwrite("fwrite 12345", 1, 9, stdout);
    putchar('\n');
    puts("puts line");

    char buffer[16];
    int n = sprintf(buffer, "%s-%d", "sprintf", 12);
    printf("sprintf: %d %s\n", n, buffer);
    memset(buffer, '#', sizeof buffer);
    n = _snprintf(buffer, 4, "%s", "abcdef");
    printf("_snprintf over: %d %.6s\n", n, buffer);
    n = _snprintf(buffer, 4, "%s", "ab");
    printf("_snprintf fits: %d %s\n", n, buffer);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    printf("argc %d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d] %s\n", i, argv[i]);
    environment();
    formats();
    output();
    exit(7);
}
