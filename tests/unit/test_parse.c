/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/parse.c: every value parser with its error paths,
 * the formatters, the shell-like splitters, path resolution and "did you
 * mean". Error texts are compared exactly: they are what operators read.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"
#include "xmalloc.h"

#define SEC  USEC_PER_SEC
#define MSEC USEC_PER_MSEC

/* --- helpers ------------------------------------------------------------ */

static void duration_ok(const char *s, uint64_t want)
{
    uint64_t v = 777;
    char err[PARSE_ERR_MAX] = "";

    if (parse_duration(s, &v, err, sizeof(err)) != 0)
        fail_msg("parse_duration(\"%s\") failed: %s", s, err);
    if (v != want)
        fail_msg("parse_duration(\"%s\") = %llu, want %llu", s, (unsigned long long)v,
                 (unsigned long long)want);
}

static void duration_bad(const char *s, const char *msg)
{
    uint64_t v = 777;
    char err[PARSE_ERR_MAX] = "";

    assert_int_equal(parse_duration(s, &v, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
    assert_int_equal(v, 777); /* the output is untouched on error */
}

static void size_ok(const char *s, uint64_t want)
{
    uint64_t v = 777;
    char err[PARSE_ERR_MAX] = "";

    if (parse_size(s, &v, err, sizeof(err)) != 0)
        fail_msg("parse_size(\"%s\") failed: %s", s, err);
    assert_int_equal(v, want);
}

static void size_bad(const char *s, const char *msg)
{
    uint64_t v = 777;
    char err[PARSE_ERR_MAX] = "";

    assert_int_equal(parse_size(s, &v, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
    assert_int_equal(v, 777);
}

static void uint_bad(const char *s, uint64_t min, uint64_t max, const char *msg)
{
    uint64_t v = 777;
    char err[PARSE_ERR_MAX] = "";

    assert_int_equal(parse_uint(s, min, max, &v, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
    assert_int_equal(v, 777);
}

static void mode_bad(const char *s, const char *msg)
{
    mode_t m = 0123;
    char err[PARSE_ERR_MAX] = "";

    assert_int_equal(parse_mode(s, &m, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
    assert_int_equal(m, 0123);
}

static void signal_ok(const char *s, int want)
{
    int sig = -1;
    char err[PARSE_ERR_MAX] = "";

    if (parse_signal(s, &sig, err, sizeof(err)) != 0)
        fail_msg("parse_signal(\"%s\") failed: %s", s, err);
    assert_int_equal(sig, want);
}

static void signal_bad(const char *s, const char *msg)
{
    int sig = -1;
    char err[PARSE_ERR_MAX] = "";

    assert_int_equal(parse_signal(s, &sig, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
    assert_int_equal(sig, -1);
}

static void workers_bad(const char *s, const char *msg)
{
    struct workers_spec w;
    char err[PARSE_ERR_MAX] = "";

    assert_int_equal(parse_workers(s, &w, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
}

static void crash_bad(const char *s, const char *msg)
{
    unsigned count = 77;
    uint64_t window = 77;
    char err[PARSE_ERR_MAX] = "";

    assert_int_equal(parse_crash_limit(s, &count, &window, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
    assert_int_equal(count, 77);
}

/* Split s and compare with the expected words (a NULL-terminated list). */
static void argv_is(const char *s, ...)
{
    char **argv = NULL;
    char err[PARSE_ERR_MAX] = "";
    va_list ap;
    size_t i = 0;

    if (argv_split(s, &argv, err, sizeof(err)) != 0)
        fail_msg("argv_split(\"%s\") failed: %s", s, err);
    va_start(ap, s);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++) {
        if (argv[i] == NULL)
            fail_msg("argv_split(\"%s\"): only %zu words, want \"%s\" next", s, i, want);
        assert_string_equal(argv[i], want);
    }
    va_end(ap);
    if (argv[i] != NULL)
        fail_msg("argv_split(\"%s\"): extra word \"%s\"", s, argv[i]);
    free_strv(argv);
}

static void argv_bad(const char *s, const char *msg)
{
    char **argv = (char **)&argv; /* must stay untouched */
    char err[PARSE_ERR_MAX] = "";

    assert_int_equal(argv_split(s, &argv, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
    assert_ptr_equal(argv, (char **)&argv);
}

static void env_is(const char *s, ...)
{
    char **env = NULL;
    char err[PARSE_ERR_MAX] = "";
    va_list ap;
    size_t i = 0;

    if (env_split(s, &env, err, sizeof(err)) != 0)
        fail_msg("env_split(\"%s\") failed: %s", s, err);
    assert_non_null(env);
    va_start(ap, s);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++) {
        if (env[i] == NULL)
            fail_msg("env_split(\"%s\"): only %zu entries, want \"%s\" next", s, i, want);
        assert_string_equal(env[i], want);
    }
    va_end(ap);
    if (env[i] != NULL)
        fail_msg("env_split(\"%s\"): extra entry \"%s\"", s, env[i]);
    free_strv(env);
}

static void env_bad(const char *s, const char *msg)
{
    char **env = (char **)&env;
    char err[PARSE_ERR_MAX] = "";

    assert_int_equal(env_split(s, &env, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
    assert_ptr_equal(env, (char **)&env);
}

static void path_is(const char *base, const char *rel, const char *want)
{
    char *got = path_resolve(base, rel);

    if (strcmp(got, want) != 0)
        fail_msg("path_resolve(\"%s\", \"%s\") = \"%s\", want \"%s\"", base ? base : "(null)", rel,
                 got, want);
    free(got);
}

static const char *fmt_duration(uint64_t us)
{
    static char buf[64];
    format_duration(us, buf, sizeof(buf));
    return buf;
}

static const char *fmt_duration_short(uint64_t us)
{
    static char buf[64];
    format_duration_short(us, buf, sizeof(buf));
    return buf;
}

static const char *fmt_size(uint64_t n)
{
    static char buf[64];
    format_size(n, buf, sizeof(buf));
    return buf;
}

/* --- parse_error -------------------------------------------------------- */

static void test_parse_error(void **state)
{
    char err[8];

    (void)state;
    assert_int_equal(parse_error(err, sizeof(err), "%s", "a long message"), -1);
    assert_string_equal(err, "a long "); /* truncated, NUL-terminated */
    assert_int_equal(parse_error(NULL, 0, "ignored %d", 1), -1);
    assert_int_equal(parse_error(err, 0, "ignored"), -1);
}

/* --- durations ---------------------------------------------------------- */

static void test_duration_units(void **state)
{
    (void)state;
    duration_ok("0", 0);
    duration_ok("250us", 250);
    duration_ok("100ms", 100 * MSEC);
    duration_ok("10s", 10 * SEC);
    duration_ok("5m", 300 * SEC);
    duration_ok("5min", 300 * SEC);
    duration_ok("2h", 7200 * SEC);
    duration_ok("1d", 86400 * SEC);
    duration_ok("0s", 0);
    duration_ok("0ms", 0);
    duration_ok("007s", 7 * SEC);
}

static void test_duration_sums(void **state)
{
    (void)state;
    duration_ok("1m30s", 90 * SEC);
    duration_ok("1h30m15s", 5415 * SEC);
    duration_ok("1s500ms", 1500 * MSEC);
    duration_ok("1min30s", 90 * SEC);
    duration_ok("1d1us", 86400 * SEC + 1);
    duration_ok("1m1ms", 60 * SEC + MSEC); /* "m" then "1ms", not "m1" */
    duration_ok("2s2s", 4 * SEC);
}

static void test_duration_errors(void **state)
{
    (void)state;
    duration_bad("", "empty duration");
    duration_bad("10", "duration '10' needs a unit (us, ms, s, m, h, d)");
    duration_bad("1m30", "duration '1m30' needs a unit (us, ms, s, m, h, d)");
    duration_bad("00", "duration '00' needs a unit (us, ms, s, m, h, d)");
    duration_bad("10x", "invalid duration '10x': unknown unit at 'x'");
    duration_bad("10sec", "invalid duration '10sec': unknown unit at 'sec'");
    duration_bad("5mins", "invalid duration '5mins': unknown unit at 'mins'");
    duration_bad("5M", "invalid duration '5M': unknown unit at 'M'");
    duration_bad("1.5s", "invalid duration '1.5s': unknown unit at '.5s'");
    duration_bad("10 s", "invalid duration '10 s': unknown unit at ' s'");
    duration_bad("s", "invalid duration 's' (expected a number and a unit, like 100ms, 10s, 5m)");
    duration_bad("-1s",
                 "invalid duration '-1s' (expected a number and a unit, like 100ms, 10s, 5m)");
    duration_bad(" 1s",
                 "invalid duration ' 1s' (expected a number and a unit, like 100ms, 10s, 5m)");
    duration_bad("1s ", "invalid duration '1s ' (expected a number and a unit, like 100ms, "
                        "10s, 5m)");
    duration_bad("1sm", "invalid duration '1sm': unknown unit at 'sm'");
}

static void test_duration_overflow(void **state)
{
    (void)state;
    /* The number itself does not fit in 64 bits. */
    duration_bad("99999999999999999999us", "duration '99999999999999999999us' is too large");
    /* The number fits, times the unit does not. */
    duration_bad("213503983d", "duration '213503983d' is too large");
    /* Each part fits, the sum does not. */
    duration_bad("213503982d213503982d", "duration '213503982d213503982d' is too large");
    duration_bad("18446744073709551615us1us", "duration '18446744073709551615us1us' is too large");
    /* It fits in 64 bits, but now plus it would wrap: longer than 100 years is refused. */
    duration_ok("36500d", PARSE_DURATION_MAX_US);
    duration_ok("36499d23h59m59s999ms1000us", PARSE_DURATION_MAX_US);
    duration_bad("36500d1us", "duration '36500d1us' is too large (at most 36500d, 100 years)");
    duration_bad("213503982d8h",
                 "duration '213503982d8h' is too large (at most 36500d, 100 years)");
    duration_bad("18446744073709551615us",
                 "duration '18446744073709551615us' is too large (at most 36500d, 100 years)");
}

static void test_format_duration(void **state)
{
    (void)state;
    assert_string_equal(fmt_duration(0), "0");
    assert_string_equal(fmt_duration(1), "1us");
    assert_string_equal(fmt_duration(100 * MSEC), "100ms");
    assert_string_equal(fmt_duration(10 * SEC), "10s");
    assert_string_equal(fmt_duration(90 * SEC), "1m30s");
    assert_string_equal(fmt_duration(1500 * MSEC), "1s500ms");
    assert_string_equal(fmt_duration(3600 * SEC), "1h");
    assert_string_equal(fmt_duration(86400 * SEC + 1), "1d1us");
    assert_string_equal(
        fmt_duration(2 * 86400 * SEC + 3 * 3600 * SEC + 4 * 60 * SEC + 5 * SEC + 6 * MSEC + 7),
        "2d3h4m5s6ms7us");
}

static void test_format_duration_round_trip(void **state)
{
    static const uint64_t values[] = {1,
                                      999,
                                      MSEC,
                                      1001,
                                      100 * MSEC,
                                      SEC,
                                      1500 * MSEC,
                                      59 * SEC,
                                      61 * SEC,
                                      3599 * SEC,
                                      86400 * SEC,
                                      86401 * SEC + 1,
                                      PARSE_DURATION_MAX_US};
    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char buf[64], err[PARSE_ERR_MAX];
        uint64_t back = 0;
        format_duration(values[i], buf, sizeof(buf));
        if (parse_duration(buf, &back, err, sizeof(err)) != 0)
            fail_msg("format_duration(%llu) = \"%s\" does not parse: %s",
                     (unsigned long long)values[i], buf, err);
        assert_int_equal(back, values[i]);
    }
}

static void test_format_duration_small_buffer(void **state)
{
    char buf[4];

    (void)state;
    memset(buf, 'X', sizeof(buf));
    format_duration(90 * SEC, buf, sizeof(buf));
    assert_string_equal(buf, "1m3"); /* truncated, never overrun */
}

static void test_format_duration_short(void **state)
{
    (void)state;
    assert_string_equal(fmt_duration_short(0), "0us");
    assert_string_equal(fmt_duration_short(999), "999us");
    assert_string_equal(fmt_duration_short(MSEC), "1ms");
    assert_string_equal(fmt_duration_short(820 * MSEC + 999), "820ms");
    assert_string_equal(fmt_duration_short(SEC), "1.0s");
    assert_string_equal(fmt_duration_short(1500 * MSEC), "1.5s");
    assert_string_equal(fmt_duration_short(9999 * MSEC), "9.9s");
    assert_string_equal(fmt_duration_short(10 * SEC), "10s");
    assert_string_equal(fmt_duration_short(59 * SEC + 999 * MSEC), "59s");
    assert_string_equal(fmt_duration_short(60 * SEC), "1m0s");
    assert_string_equal(fmt_duration_short(182 * SEC), "3m2s");
    assert_string_equal(fmt_duration_short(3600 * SEC), "1h0m");
    assert_string_equal(fmt_duration_short(3600 * SEC + 61 * SEC), "1h1m");
    assert_string_equal(fmt_duration_short(90061 * SEC), "1d1h");
}

/* --- sizes -------------------------------------------------------------- */

static void test_size(void **state)
{
    (void)state;
    size_ok("0", 0);
    size_ok("4096", 4096);
    size_ok("512K", 512 * 1024);
    size_ok("512k", 512 * 1024);
    size_ok("10M", 10 * 1024 * 1024);
    size_ok("10m", 10 * 1024 * 1024);
    size_ok("1G", 1024ULL * 1024 * 1024);
    size_ok("1g", 1024ULL * 1024 * 1024);
    size_ok("17179869183G", UINT64_MAX - (1024ULL * 1024 * 1024 - 1));
    size_ok("18446744073709551615", UINT64_MAX);
}

static void test_size_errors(void **state)
{
    (void)state;
    size_bad("", "invalid size '' (expected bytes, or a number with K, M or G)");
    size_bad("K", "invalid size 'K' (expected bytes, or a number with K, M or G)");
    size_bad("-1", "invalid size '-1' (expected bytes, or a number with K, M or G)");
    size_bad("10MB", "invalid size '10MB': trailing 'B'");
    size_bad("10KK", "invalid size '10KK': trailing 'K'");
    size_bad("10T", "invalid size '10T': unknown suffix 'T' (use K, M or G)");
    size_bad("10 K", "invalid size '10 K': unknown suffix ' K' (use K, M or G)");
    size_bad("1.5M", "invalid size '1.5M': unknown suffix '.5M' (use K, M or G)");
    size_bad("99999999999999999999", "size '99999999999999999999' is too large");
    size_bad("17179869184G", "size '17179869184G' is too large");
    size_bad("18014398509481984K", "size '18014398509481984K' is too large");
}

static void test_format_size(void **state)
{
    (void)state;
    assert_string_equal(fmt_size(0), "0B");
    assert_string_equal(fmt_size(1023), "1023B");
    assert_string_equal(fmt_size(1024), "1.0K");
    assert_string_equal(fmt_size(1536), "1.5K");
    assert_string_equal(fmt_size(10 * 1024), "10K");
    assert_string_equal(fmt_size(10 * 1024 * 1024), "10M");
    assert_string_equal(fmt_size(1200 * 1024), "1.2M");
    assert_string_equal(fmt_size(1024ULL * 1024 * 1024), "1.0G");
    assert_string_equal(fmt_size(1024ULL * 1024 * 1024 * 1024), "1.0T");
    assert_string_equal(fmt_size(1ULL << 60), "1048576T"); /* T is the largest suffix */
}

/* --- whole numbers, modes ----------------------------------------------- */

static void test_uint(void **state)
{
    uint64_t v = 0;
    char err[PARSE_ERR_MAX];

    (void)state;
    assert_int_equal(parse_uint("0", 0, 10, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_uint("10", 0, 10, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 10);
    assert_int_equal(parse_uint("007", 1, 10, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 7);
    assert_int_equal(parse_uint("18446744073709551615", 0, UINT64_MAX, &v, err, sizeof(err)), 0);
    assert_int_equal(v, UINT64_MAX);
    /* No error buffer: still fails cleanly. */
    assert_int_equal(parse_uint("x", 0, 10, &v, NULL, 0), -1);
}

static void test_uint_errors(void **state)
{
    (void)state;
    uint_bad("11", 0, 10, "11 is out of range (0 to 10)");
    uint_bad("0", 1, 10, "0 is out of range (1 to 10)");
    uint_bad("", 0, 10, "'' is not a whole number");
    uint_bad("abc", 0, 10, "'abc' is not a whole number");
    uint_bad("12x", 0, 100, "'12x' is not a whole number");
    uint_bad("-1", 0, 10, "'-1' is not a whole number");
    uint_bad("+1", 0, 10, "'+1' is not a whole number");
    uint_bad(" 1", 0, 10, "' 1' is not a whole number");
    uint_bad("1 ", 0, 10, "'1 ' is not a whole number");
    uint_bad("1.0", 0, 10, "'1.0' is not a whole number");
    /* Past 64 bits: the number is well-formed, just too large. */
    uint_bad("18446744073709551616", 0, 10, "'18446744073709551616' is too large (at most 10)");
    uint_bad("99999999999999999999", 0, UINT64_MAX,
             "'99999999999999999999' is too large (at most 18446744073709551615)");
}

static void test_mode(void **state)
{
    mode_t m = 0;
    char err[PARSE_ERR_MAX];

    (void)state;
    assert_int_equal(parse_mode("0660", &m, err, sizeof(err)), 0);
    assert_int_equal(m, 0660);
    assert_int_equal(parse_mode("660", &m, err, sizeof(err)), 0);
    assert_int_equal(m, 0660);
    assert_int_equal(parse_mode("0", &m, err, sizeof(err)), 0);
    assert_int_equal(m, 0);
    assert_int_equal(parse_mode("7777", &m, err, sizeof(err)), 0);
    assert_int_equal(m, 07777);
    assert_int_equal(parse_mode("000000644", &m, err, sizeof(err)), 0);
    assert_int_equal(m, 0644);
}

static void test_mode_errors(void **state)
{
    (void)state;
    mode_bad("", "empty file mode");
    mode_bad("0668", "invalid file mode '0668' (expected octal, like 0660)");
    mode_bad("rw-r--r--", "invalid file mode 'rw-r--r--' (expected octal, like 0660)");
    mode_bad("0x1ff", "invalid file mode '0x1ff' (expected octal, like 0660)");
    mode_bad("-660", "invalid file mode '-660' (expected octal, like 0660)");
    mode_bad("17777", "file mode '17777' is out of range (at most 07777)");
    mode_bad("77777777777777777777777", "file mode '77777777777777777777777' is out of range "
                                        "(at most 07777)");
}

/* --- signals ------------------------------------------------------------ */

static void test_signal_names(void **state)
{
    (void)state;
    signal_ok("TERM", SIGTERM);
    signal_ok("SIGTERM", SIGTERM);
    signal_ok("sigterm", SIGTERM);
    signal_ok("term", SIGTERM);
    signal_ok("Kill", SIGKILL);
    signal_ok("SigHup", SIGHUP);
    signal_ok("USR1", SIGUSR1);
    signal_ok("usr2", SIGUSR2);
    signal_ok("WINCH", SIGWINCH);
    signal_ok("STKFLT", SIGSTKFLT);
    signal_ok("SYS", SIGSYS);
}

static void test_signal_numbers(void **state)
{
    (void)state;
    signal_ok("1", 1);
    signal_ok("9", SIGKILL);
    signal_ok("15", SIGTERM);
    signal_ok("37", 37);
    signal_ok("64", 64);
}

/* Real-time signals by the names systemd's KillSignal= and kill(1) take. */
static void test_signal_realtime(void **state)
{
    char msg[128];

    (void)state;
    signal_ok("RTMIN", SIGRTMIN);
    signal_ok("SIGRTMIN", SIGRTMIN);
    signal_ok("rtmin+0", SIGRTMIN);
    signal_ok("RTMIN+2", SIGRTMIN + 2);
    signal_ok("SIGRTMIN+3", SIGRTMIN + 3);
    signal_ok("RTMAX", SIGRTMAX);
    signal_ok("sigrtmax-1", SIGRTMAX - 1);
    snprintf(msg, sizeof(msg), "RTMIN+%d", SIGRTMAX - SIGRTMIN);
    signal_ok(msg, SIGRTMAX);
    snprintf(msg, sizeof(msg), "RTMAX-%d", SIGRTMAX - SIGRTMIN);
    signal_ok(msg, SIGRTMIN);
}

static void test_signal_realtime_errors(void **state)
{
    static const char *const bad[] = {
        "RTMIN+",   "RTMIN-1", "RTMAX+1", "RTMIN+x", "RTMIN++1", "RTMIN+-1",
        "RTMIN+ 1", "RTMAX-",  "RTMINX",  "RTMIN2",  "RTMIN+1x", "RTMIN+99999999999999999999"};
    char want[160], over[32];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(want, sizeof(want),
                 "invalid real-time signal '%s' (RTMIN+0 to RTMIN+%d, or RTMAX-0 to RTMAX-%d)",
                 bad[i], SIGRTMAX - SIGRTMIN, SIGRTMAX - SIGRTMIN);
        signal_bad(bad[i], want);
    }
    /* One past the other end, both ways. */
    snprintf(over, sizeof(over), "RTMIN+%d", SIGRTMAX - SIGRTMIN + 1);
    snprintf(want, sizeof(want),
             "invalid real-time signal '%s' (RTMIN+0 to RTMIN+%d, or RTMAX-0 to RTMAX-%d)", over,
             SIGRTMAX - SIGRTMIN, SIGRTMAX - SIGRTMIN);
    signal_bad(over, want);
    snprintf(over, sizeof(over), "SIGRTMAX-%d", SIGRTMAX - SIGRTMIN + 1);
    snprintf(want, sizeof(want),
             "invalid real-time signal '%s' (RTMIN+0 to RTMIN+%d, or RTMAX-0 to RTMAX-%d)", over,
             SIGRTMAX - SIGRTMIN, SIGRTMAX - SIGRTMIN);
    signal_bad(over, want);
}

static void test_signal_errors(void **state)
{
    (void)state;
    signal_bad("0", "invalid signal number '0' (1 to 64)");
    signal_bad("65", "invalid signal number '65' (1 to 64)");
    signal_bad("9x", "invalid signal number '9x' (1 to 64)");
    signal_bad("99999999999999999999", "invalid signal number '99999999999999999999' (1 to 64)");
    signal_bad("", "unknown signal '' (use a name like TERM or a number)");
    signal_bad("SIG", "unknown signal 'SIG' (use a name like TERM or a number)");
    signal_bad("FOO", "unknown signal 'FOO' (use a name like TERM or a number)");
    signal_bad("SIGSIGTERM", "unknown signal 'SIGSIGTERM' (use a name like TERM or a number)");
    signal_bad("-9", "unknown signal '-9' (use a name like TERM or a number)");
    signal_bad("TERM ", "unknown signal 'TERM ' (use a name like TERM or a number)");
}

static void test_signal_name(void **state)
{
    (void)state;
    assert_string_equal(signal_name(SIGTERM), "TERM");
    assert_string_equal(signal_name(SIGKILL), "KILL");
    assert_string_equal(signal_name(SIGHUP), "HUP");
    assert_string_equal(signal_name(37), "SIG37");
    assert_string_equal(signal_name(0), "SIG0");
    /* Every classic signal has a name that parses back to it. */
    for (int sig = 1; sig < 32; sig++) {
        int back = -1;
        char err[PARSE_ERR_MAX];
        const char *name = signal_name(sig);
        if (parse_signal(name, &back, err, sizeof(err)) != 0)
            fail_msg("signal_name(%d) = \"%s\" does not parse: %s", sig, name, err);
        assert_int_equal(back, sig);
    }
}

/* --- workers ------------------------------------------------------------ */

static void test_workers(void **state)
{
    struct workers_spec w;
    char err[PARSE_ERR_MAX];

    (void)state;
    assert_int_equal(parse_workers("auto", &w, err, sizeof(err)), 0);
    assert_true(w.is_auto);
    assert_int_equal(w.multiplier, 1);
    assert_int_equal(parse_workers("auto*2", &w, err, sizeof(err)), 0);
    assert_true(w.is_auto);
    assert_int_equal(w.multiplier, 2);
    assert_int_equal(parse_workers("auto*64", &w, err, sizeof(err)), 0);
    assert_int_equal(w.multiplier, 64);
    assert_int_equal(parse_workers("4", &w, err, sizeof(err)), 0);
    assert_false(w.is_auto);
    assert_int_equal(w.count, 4);
    assert_int_equal(parse_workers("0", &w, err, sizeof(err)), 0);
    assert_false(w.is_auto);
    assert_int_equal(w.count, 0);
    assert_int_equal(parse_workers("4096", &w, err, sizeof(err)), 0);
    assert_int_equal(w.count, WORKERS_MAX);
}

static void test_workers_errors(void **state)
{
    static const char *const autos[] = {"auto*0", "auto*65", "auto*",   "autox",
                                        "auto2",  "auto*-1", "auto*2x", "auto * 2"};
    static const char *const numbers[] = {"4097", "", "-1", "AUTO", "four", "1.5", " 4"};
    (void)state;
    for (size_t i = 0; i < sizeof(autos) / sizeof(autos[0]); i++) {
        char msg[PARSE_ERR_MAX];
        snprintf(msg, sizeof(msg),
                 "invalid workers '%s' (expected N, auto, or auto*K with K 1 to 64)", autos[i]);
        workers_bad(autos[i], msg);
    }
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        char msg[PARSE_ERR_MAX];
        snprintf(msg, sizeof(msg), "invalid workers '%s' (expected 0 to 4096, auto, or auto*K)",
                 numbers[i]);
        workers_bad(numbers[i], msg);
    }
}

static void test_workers_resolve(void **state)
{
    struct workers_spec auto1 = {.is_auto = true, .multiplier = 1};
    struct workers_spec auto2 = {.is_auto = true, .multiplier = 2};
    struct workers_spec auto64 = {.is_auto = true, .multiplier = 64};
    struct workers_spec three = {.is_auto = false, .count = 3, .multiplier = 1};
    struct workers_spec zero = {.is_auto = false, .count = 0, .multiplier = 1};

    (void)state;
    assert_int_equal(workers_resolve(&auto1, 4), 4);
    assert_int_equal(workers_resolve(&auto2, 4), 8);
    assert_int_equal(workers_resolve(&auto1, 0), 1); /* auto is never 0 workers */
    assert_int_equal(workers_resolve(&three, 64), 3);
    assert_int_equal(workers_resolve(&three, 0), 3);
    assert_int_equal(workers_resolve(&zero, 8), 0); /* an explicit 0 is kept */
    assert_int_equal(workers_resolve(&auto64, 64), 4096);
    assert_int_equal(workers_resolve(&auto64, 65), WORKERS_MAX);
    assert_int_equal(workers_resolve(&auto64, 0xFFFFFFFFu), WORKERS_MAX); /* no overflow */
}

/* --- crash_limit -------------------------------------------------------- */

static void test_crash_limit(void **state)
{
    unsigned count = 77;
    uint64_t window = 77;
    char err[PARSE_ERR_MAX];

    (void)state;
    assert_int_equal(parse_crash_limit("10/60s", &count, &window, err, sizeof(err)), 0);
    assert_int_equal(count, 10);
    assert_int_equal(window, 60 * SEC);
    assert_int_equal(parse_crash_limit("1/1ms", &count, &window, err, sizeof(err)), 0);
    assert_int_equal(count, 1);
    assert_int_equal(window, MSEC);
    assert_int_equal(parse_crash_limit("1000/1m30s", &count, &window, err, sizeof(err)), 0);
    assert_int_equal(count, 1000);
    assert_int_equal(window, 90 * SEC);
    assert_int_equal(parse_crash_limit("none", &count, &window, err, sizeof(err)), 0);
    assert_int_equal(count, 0);
    assert_int_equal(window, 0);
    count = 5;
    window = 5;
    assert_int_equal(parse_crash_limit("0", &count, &window, err, sizeof(err)), 0);
    assert_int_equal(count, 0);
    assert_int_equal(window, 0);
}

static void test_crash_limit_errors(void **state)
{
    (void)state;
    crash_bad("10", "invalid crash_limit '10' (expected COUNT/WINDOW like 10/60s, or none)");
    crash_bad("", "invalid crash_limit '' (expected COUNT/WINDOW like 10/60s, or none)");
    crash_bad("None", "invalid crash_limit 'None' (expected COUNT/WINDOW like 10/60s, or none)");
    crash_bad("000000000000000000000000000000001/60s",
              "invalid crash_limit '000000000000000000000000000000001/60s' (expected "
              "COUNT/WINDOW like 10/60s, or none)");
    crash_bad("0/60s", "invalid crash_limit '0/60s': count: 0 is out of range (1 to 1000)");
    crash_bad("1001/60s",
              "invalid crash_limit '1001/60s': count: 1001 is out of range (1 to 1000)");
    crash_bad("/60s", "invalid crash_limit '/60s': count: '' is not a whole number");
    crash_bad("x/60s", "invalid crash_limit 'x/60s': count: 'x' is not a whole number");
    crash_bad("10/", "invalid crash_limit '10/': window: empty duration");
    crash_bad(
        "10/60",
        "invalid crash_limit '10/60': window: duration '60' needs a unit (us, ms, s, m, h, d)");
    crash_bad("10/60s/2",
              "invalid crash_limit '10/60s/2': window: invalid duration '60s/2' (expected a "
              "number and a unit, like 100ms, 10s, 5m)");
    crash_bad("10/0", "invalid crash_limit '10/0': the window must be longer than 0");
    crash_bad("10/0s", "invalid crash_limit '10/0s': the window must be longer than 0");
}

/* --- argv_split --------------------------------------------------------- */

static void test_argv_words(void **state)
{
    (void)state;
    argv_is("prog", "prog", NULL);
    argv_is("a b  c", "a", "b", "c", NULL);
    argv_is("  \tleading\ttabs\r\n", "leading", "tabs", NULL);
    argv_is("/usr/lib/thumbs/worker --quality 80", "/usr/lib/thumbs/worker", "--quality", "80",
            NULL);
    argv_is("x *.txt ~ # {a,b} ? !", "x", "*.txt", "~", "#", "{a,b}", "?", "!", NULL);
}

static void test_argv_quotes(void **state)
{
    (void)state;
    argv_is("'a b' c", "a b", "c", NULL);
    argv_is("\"a b\" c", "a b", "c", NULL);
    argv_is("a'b'c", "abc", NULL);
    argv_is("a\"b\"'c'd", "abcd", NULL);
    argv_is("''", "", NULL);
    argv_is("\"\"", "", NULL);
    argv_is("a '' b \"\"", "a", "", "b", "", NULL);
    /* Single quotes are literal: shell syntax and backslashes included. */
    argv_is("sh -c 'exec $0 | cat; echo \\n'", "sh", "-c", "exec $0 | cat; echo \\n", NULL);
    /* Double quotes: \" \\ \$ \` are escapes, other backslashes stay. */
    argv_is("\"a\\\"b\"", "a\"b", NULL);
    argv_is("\"a\\\\b\"", "a\\b", NULL);
    argv_is("\"\\$HOME\"", "$HOME", NULL);
    argv_is("\"\\`x\\`\"", "`x`", NULL);
    argv_is("\"a\\nb\"", "a\\nb", NULL);
    argv_is("\"it's\"", "it's", NULL);
    argv_is("'say \"hi\"'", "say \"hi\"", NULL);
    argv_is("\"a|b;c&d<e>f(g)\"", "a|b;c&d<e>f(g)", NULL);
}

static void test_argv_backslash(void **state)
{
    (void)state;
    argv_is("a\\ b", "a b", NULL);
    argv_is("\\|", "|", NULL);
    argv_is("\\$HOME", "$HOME", NULL);
    argv_is("a\\\\b", "a\\b", NULL);
    argv_is("\\'x", "'x", NULL);
}

static void test_argv_shell_operators(void **state)
{
    static const char ops[] = "|&;<>()`$";

    (void)state;
    for (const char *op = ops; *op != '\0'; op++) {
        char cmd[32], msg[PARSE_ERR_MAX];
        snprintf(cmd, sizeof(cmd), "prog a%cb", *op);
        snprintf(msg, sizeof(msg),
                 "'%c' is shell syntax, but drover runs the command directly without a shell "
                 "(quote it, or use: sh -c '...')",
                 *op);
        argv_bad(cmd, msg);
    }
    argv_bad("prog a b | grep x", "'|' is shell syntax, but drover runs the command directly "
                                  "without a shell (quote it, or use: sh -c '...')");
    argv_bad("prog > out.log", "'>' is shell syntax, but drover runs the command directly "
                               "without a shell (quote it, or use: sh -c '...')");
    argv_bad("prog \"$HOME\"", "'$' inside \"...\" would need a shell; drover runs the command "
                               "directly (escape it as \\$, or use '...')");
    argv_bad("prog \"`date`\"", "'`' inside \"...\" would need a shell; drover runs the command "
                                "directly (escape it as \\`, or use '...')");
}

static void test_argv_errors(void **state)
{
    (void)state;
    argv_bad("", "empty command");
    argv_bad("   \t ", "empty command");
    argv_bad("'abc", "unterminated quote in command");
    argv_bad("a 'b", "unterminated quote in command");
    argv_bad("\"abc", "unterminated quote in command");
    argv_bad("\"abc\\\"", "unterminated quote in command");
    argv_bad("\"abc\\", "unterminated quote in command");
    argv_bad("abc\\", "command ends with a lone backslash");
    argv_bad("a b \\", "command ends with a lone backslash");
}

/* --- environment -------------------------------------------------------- */

static void test_env(void **state)
{
    (void)state;
    env_is("", NULL);
    env_is("   ", NULL);
    env_is("A=1", "A=1", NULL);
    env_is("A=1, B=2", "A=1", "B=2", NULL);
    env_is("A=1,B=2,", "A=1", "B=2", NULL);
    env_is("MODE=prod, CACHE=\"/var/cache/thumbs\"", "MODE=prod", "CACHE=/var/cache/thumbs", NULL);
    env_is("A=\"x, y\",B=2", "A=x, y", "B=2", NULL);
    env_is("A=\"x, y\" , B=2", "A=x, y", "B=2", NULL);
    env_is("A=\"say \\\"hi\\\" \\\\\"", "A=say \"hi\" \\", NULL);
    env_is("A=\"a\\nb\"", "A=a\\nb", NULL); /* only \" and \\ are escapes */
    env_is("A=", "A=", NULL);
    env_is("A=  ,B=", "A=", "B=", NULL);
    env_is("A=\"\"", "A=", NULL);
    env_is("A=x y", "A=x y", NULL);
    env_is("A=1 , B=2", "A=1", "B=2", NULL);
    env_is("A= 1", "A=1", NULL);
    env_is("A=b=c", "A=b=c", NULL);
    env_is("_x=1, x_1=2", "_x=1", "x_1=2", NULL);
    env_is("A=it's", "A=it's", NULL);
}

static void test_env_errors(void **state)
{
    (void)state;
    env_bad("1A=x", "invalid environment entry '1A' (expected NAME=VALUE, with NAME made of "
                    "letters, digits and _)");
    env_bad("A", "invalid environment entry 'A' (expected NAME=VALUE, with NAME made of "
                 "letters, digits and _)");
    env_bad("=x", "invalid environment entry '' (expected NAME=VALUE, with NAME made of "
                  "letters, digits and _)");
    env_bad("A-B=1", "invalid environment entry 'A-B' (expected NAME=VALUE, with NAME made of "
                     "letters, digits and _)");
    env_bad("A =1", "invalid environment entry 'A ' (expected NAME=VALUE, with NAME made of "
                    "letters, digits and _)");
    env_bad("A=1, B", "invalid environment entry 'B' (expected NAME=VALUE, with NAME made of "
                      "letters, digits and _)");
    env_bad("A=1, B, C=2", "invalid environment entry 'B' (expected NAME=VALUE, with NAME made "
                           "of letters, digits and _)");
    env_bad("A=\"x", "unterminated quote in environment");
    env_bad("A=1, B=\"x\\\"", "unterminated quote in environment");
    env_bad("A=\"x\" y", "unexpected text after a quoted value in environment: 'y'");
    env_bad("A=\"x\"y, B=1", "unexpected text after a quoted value in environment: 'y, B=1'");
}

static void test_env_name_valid(void **state)
{
    (void)state;
    assert_true(env_name_valid("A", 1));
    assert_true(env_name_valid("_x", 2));
    assert_true(env_name_valid("A1", 2));
    assert_true(env_name_valid("a_b_C", 5));
    assert_true(env_name_valid("ABC=1", 3)); /* only len bytes count */
    assert_false(env_name_valid("", 0));
    assert_false(env_name_valid("A", 0));
    assert_false(env_name_valid("1A", 2));
    assert_false(env_name_valid("A-B", 3));
    assert_false(env_name_valid("A B", 3));
    assert_false(env_name_valid("A=", 2));
    assert_false(env_name_valid("\xc3\xa9", 2));
}

/* --- suggest_nearest ---------------------------------------------------- */

static void test_suggest(void **state)
{
    static const char *const keys[] = {"command", "workers", "restart", "restart_delay",
                                       "status",  "stop",    NULL};
    static const char *const none[] = {NULL};
    char longword[80];

    (void)state;
    assert_string_equal(suggest_nearest("comand", keys), "command");
    assert_string_equal(suggest_nearest("commandd", keys), "command");
    assert_string_equal(suggest_nearest("COMMAND", keys), "command"); /* case-insensitive */
    assert_string_equal(suggest_nearest("worker", keys), "workers");
    assert_string_equal(suggest_nearest("restrat", keys), "restart");
    assert_string_equal(suggest_nearest("restart_dealy", keys), "restart_delay");
    assert_string_equal(suggest_nearest("stats", keys), "status");
    assert_string_equal(suggest_nearest("stp", keys), "stop");
    assert_string_equal(suggest_nearest("stop", keys), "stop");
    assert_null(suggest_nearest("xyz", keys));
    assert_null(suggest_nearest("stat", keys)); /* two edits from both: too far for 4 letters */
    assert_null(suggest_nearest("environment", keys));
    assert_null(suggest_nearest("", keys));
    assert_null(suggest_nearest("command", none));
    memset(longword, 'a', sizeof(longword) - 1);
    longword[sizeof(longword) - 1] = '\0';
    assert_null(suggest_nearest(longword, keys));
}

/* --- path_resolve ------------------------------------------------------- */

static void test_path_resolve(void **state)
{
    (void)state;
    path_is("/etc/drover", "conf.d/x.ini", "/etc/drover/conf.d/x.ini");
    path_is("/etc/drover", "/abs/path", "/abs/path");
    path_is("/etc/drover", "../x", "/etc/x");
    path_is("/etc/drover", "./a/./b", "/etc/drover/a/b");
    path_is("/etc//drover/", "a//b/", "/etc/drover/a/b");
    path_is("/etc/drover", ".", "/etc/drover");
    path_is("/etc/drover", "..", "/etc");
    path_is("/", "..", "/");
    path_is("/a", "../../..", "/");
    path_is("/", "/", "/");
    path_is("/etc/drover", "//run///x.sock", "/run/x.sock");
    path_is("/a/b", "c/../../d", "/a/d");
    path_is(NULL, "a/b", "a/b");
    path_is(NULL, "/a/../b", "/b");
    path_is(NULL, "a/../..", "..");
    path_is(NULL, "../../a", "../../a");
    path_is(NULL, "./a/", "a");
    path_is(NULL, ".", ".");
    path_is(NULL, "a/..", ".");
    path_is("rel", "../../x", "../x");
    path_is("rel/dir", "x", "rel/dir/x");
    path_is(".", "x", "x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_duration_units),
        cmocka_unit_test(test_duration_sums),
        cmocka_unit_test(test_duration_errors),
        cmocka_unit_test(test_duration_overflow),
        cmocka_unit_test(test_format_duration),
        cmocka_unit_test(test_format_duration_round_trip),
        cmocka_unit_test(test_format_duration_small_buffer),
        cmocka_unit_test(test_format_duration_short),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_size_errors),
        cmocka_unit_test(test_format_size),
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_uint_errors),
        cmocka_unit_test(test_mode),
        cmocka_unit_test(test_mode_errors),
        cmocka_unit_test(test_signal_names),
        cmocka_unit_test(test_signal_numbers),
        cmocka_unit_test(test_signal_realtime),
        cmocka_unit_test(test_signal_realtime_errors),
        cmocka_unit_test(test_signal_errors),
        cmocka_unit_test(test_signal_name),
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_workers_errors),
        cmocka_unit_test(test_workers_resolve),
        cmocka_unit_test(test_crash_limit),
        cmocka_unit_test(test_crash_limit_errors),
        cmocka_unit_test(test_argv_words),
        cmocka_unit_test(test_argv_quotes),
        cmocka_unit_test(test_argv_backslash),
        cmocka_unit_test(test_argv_shell_operators),
        cmocka_unit_test(test_argv_errors),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_env_name_valid),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_path_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
