/* SPDX-License-Identifier: ISC */
/*
 * Pure parsers for the values drover reads from config files, the command
 * line and the control protocol. None of them logs: each returns 0 on
 * success or -1 with a one-line reason written into the caller's buffer.
 */
#ifndef DROVER_PARSE_H
#define DROVER_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PARSE_ERR_MAX 256

/* Durations are kept in microseconds everywhere. */
#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC  1000000ULL
/*
 * The longest duration any key or option takes: 100 years. A deadline is
 * now plus a duration, and this keeps that sum far from wrapping around (a
 * longer one read as "at once").
 */
#define PARSE_DURATION_MAX_US (36500ULL * 86400 * USEC_PER_SEC)

/* Write a formatted reason into err (errsz bytes); always returns -1. */
int parse_error(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * "250us", "100ms", "10s", "5m", "2h", "1d", or a sum like "1m30s"; "0" alone
 * needs no unit. Integers only; a missing unit is an error; at most
 * PARSE_DURATION_MAX_US (36500d).
 */
int parse_duration(const char *s, uint64_t *out_us, char *err, size_t errsz);
/* Shortest exact text for a duration: "100ms", "1m30s", "0". */
void format_duration(uint64_t us, char *buf, size_t bufsz);
/* Human display rounded to two significant units: "3m2s", "1.5s", "820ms". */
void format_duration_short(uint64_t us, char *buf, size_t bufsz);

/* Bytes: "4096", "512K", "10M", "1G" (powers of 1024; k/m/g accepted). */
int parse_size(const char *s, uint64_t *out, char *err, size_t errsz);
/* "1.2M"-style display of a byte count. */
void format_size(uint64_t bytes, char *buf, size_t bufsz);

/* Unsigned decimal in [min, max]. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errsz);

/* File mode in octal: "0660", "660". */
int parse_mode(const char *s, mode_t *out, char *err, size_t errsz);

/* Signal by name ("TERM", "SIGTERM", case-insensitive) or number 1..64. */
int parse_signal(const char *s, int *out, char *err, size_t errsz);
/* "TERM", "KILL", ... or "SIG37" for one without a name. */
const char *signal_name(int sig);

/* workers = N | auto | auto*K */
struct workers_spec {
    bool is_auto;
    unsigned count;      /* N, when !is_auto */
    unsigned multiplier; /* K, when is_auto (1 for plain "auto") */
};
#define WORKERS_MAX 4096
int parse_workers(const char *s, struct workers_spec *out, char *err, size_t errsz);
/* Resolve against the number of usable CPUs; capped at WORKERS_MAX. */
unsigned workers_resolve(const struct workers_spec *spec, unsigned ncpu);

/* crash_limit = N/DURATION ("10/60s"), or "0" / "none" for no limit. */
#define CRASH_LIMIT_MAX 1000
int parse_crash_limit(const char *s, unsigned *count, uint64_t *window_us, char *err, size_t errsz);

/*
 * Shell-like split of a command line, without a shell: whitespace separates
 * words; '...' is literal; "..." allows \" \\ \$ \`; a backslash outside
 * quotes escapes the next character. Unquoted shell operators (| & ; < > ( )
 * ` $) are refused, because nothing would interpret them. On success *argv_out
 * is a NULL-terminated array (free with free_strv) with at least one word.
 */
int argv_split(const char *s, char ***argv_out, char *err, size_t errsz);

/*
 * environment = NAME=VALUE, NAME2="quoted, with comma" ... Values may be
 * quoted with "..." (allowing \" and \\) to contain commas or spaces. Output
 * is a NULL-terminated array of "NAME=VALUE" strings.
 */
int env_split(const char *s, char ***env_out, char *err, size_t errsz);

/* True if name is a valid environment variable name. */
bool env_name_valid(const char *name, size_t len);

/*
 * base/rel (or rel alone when absolute), with "." and ".." resolved
 * lexically and duplicate slashes removed. Caller frees.
 */
char *path_resolve(const char *base, const char *rel);

/*
 * Among candidates (NULL-terminated), the one closest to word by edit
 * distance, if it is close enough to be a plausible typo; else NULL.
 */
const char *suggest_nearest(const char *word, const char *const *candidates);

#endif
