/* SPDX-License-Identifier: ISC */
/*
 * The daemon's and the CLI's own log: one line per event on stderr, with a
 * level. Under journald (JOURNAL_STREAM names our stderr) each line carries the
 * sd-daemon priority prefix instead of a timestamp, so `journalctl -p` works.
 * errno is preserved across every call. fatal()/fatalx() are for start-up
 * errors and broken invariants only.
 */
#ifndef DROVER_LOG_H
#define DROVER_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Set the program name shown in lines and the most verbose level written. */
void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* "error", "warn", "info", "debug" <-> level; -1 on an unknown name. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
