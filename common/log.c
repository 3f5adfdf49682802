/* SPDX-License-Identifier: ISC */
/*
 * Logging for droverd and drover. Owns stderr formatting only; it never
 * exits except through fatal()/fatalx().
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *log_progname = "drover";
static enum log_level log_level = LOG_LEVEL_INFO;
static int log_journal = -1; /* -1 = not yet checked */

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

/* sd-daemon(3) priorities: err=3, warning=4, info=6, debug=7. */
static const int journal_priorities[] = {3, 4, 6, 7};

/* JOURNAL_STREAM is "dev:ino" of the stream journald connected us to. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
        return 0;
    if (fstat(2, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *progname, enum log_level level)
{
    log_progname = progname;
    log_level = level;
    log_journal = stderr_is_journal();
}

void log_set_level(enum log_level level)
{
    log_level = level;
}

enum log_level log_get_level(void)
{
    return log_level;
}

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return level_names[level];
}

static void log_vwrite(enum log_level level, const char *fmt, va_list ap, int with_errno)
{
    int saved_errno = errno;
    char msg[2048];
    char stamp[32] = "";

    if (level > log_level) {
        errno = saved_errno;
        return;
    }
    if (log_journal < 0)
        log_journal = stderr_is_journal();

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (log_journal) {
        if (with_errno)
            fprintf(stderr, "<%d>%s: %s\n", journal_priorities[level], msg, strerror(saved_errno));
        else
            fprintf(stderr, "<%d>%s\n", journal_priorities[level], msg);
    } else {
        struct timespec ts;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(stamp + n, sizeof(stamp) - n, ".%03ld", ts.tv_nsec / 1000000);
        if (with_errno)
            fprintf(stderr, "%s %s %s: %s: %s\n", stamp, log_progname, level_names[level], msg,
                    strerror(saved_errno));
        else
            fprintf(stderr, "%s %s %s: %s\n", stamp, log_progname, level_names[level], msg);
    }
    errno = saved_errno;
}

#define LOG_FN(name, level, with_errno)                                                            \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_vwrite(level, fmt, ap, with_errno);                                                    \
        va_end(ap);                                                                                \
    }

LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)

/*
 * Fuzz builds define DROVER_FATAL_ABORTS so that every reachable fatal path is
 * reported by the fuzzer as a crash instead of a quiet exit.
 */
static noreturn void fatal_exit(void)
{
#ifdef DROVER_FATAL_ABORTS
    abort();
#else
    exit(1);
#endif
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(LOG_LEVEL_ERROR, fmt, ap, 1);
    va_end(ap);
    fatal_exit();
}

void fatalx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(LOG_LEVEL_ERROR, fmt, ap, 0);
    va_end(ap);
    fatal_exit();
}
