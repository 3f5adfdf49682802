/* SPDX-License-Identifier: ISC */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmalloc.h"

int parse_error(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errsz > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Read a run of decimal digits; -1 on none or overflow. */
static int read_digits(const char **pp, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;

    if (!isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        p++;
    }
    *pp = p;
    *out = v;
    return 0;
}

static const struct duration_unit {
    const char *name;
    uint64_t us;
} duration_units[] = {
    /* Longest names first so "ms" is not read as "m" followed by "s". */
    {"min", 60 * USEC_PER_SEC},  {"us", 1},
    {"ms", USEC_PER_MSEC},       {"s", USEC_PER_SEC},
    {"m", 60 * USEC_PER_SEC},    {"h", 3600 * USEC_PER_SEC},
    {"d", 86400 * USEC_PER_SEC},
};

int parse_duration(const char *s, uint64_t *out_us, char *err, size_t errsz)
{
    const char *p = s;
    uint64_t total = 0;

    if (*s == '\0')
        return parse_error(err, errsz, "empty duration");
    if (strcmp(s, "0") == 0) {
        *out_us = 0;
        return 0;
    }
    while (*p != '\0') {
        uint64_t n;
        const struct duration_unit *unit = NULL;

        if (read_digits(&p, &n) != 0) {
            if (isdigit((unsigned char)*p))
                return parse_error(err, errsz, "duration '%s' is too large", s);
            return parse_error(err, errsz,
                               "invalid duration '%s' (expected a number and a unit, "
                               "like 100ms, 10s, 5m)",
                               s);
        }
        for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
            size_t len = strlen(duration_units[i].name);
            if (strncmp(p, duration_units[i].name, len) == 0 && !isalpha((unsigned char)p[len])) {
                unit = &duration_units[i];
                p += len;
                break;
            }
        }
        if (unit == NULL) {
            if (*p == '\0')
                return parse_error(err, errsz, "duration '%s' needs a unit (us, ms, s, m, h, d)",
                                   s);
            return parse_error(err, errsz, "invalid duration '%s': unknown unit at '%s'", s, p);
        }
        if (n > UINT64_MAX / unit->us || total > UINT64_MAX - n * unit->us)
            return parse_error(err, errsz, "duration '%s' is too large", s);
        total += n * unit->us;
    }
    if (total > PARSE_DURATION_MAX_US)
        return parse_error(err, errsz, "duration '%s' is too large (at most 36500d, 100 years)", s);
    *out_us = total;
    return 0;
}

void format_duration(uint64_t us, char *buf, size_t bufsz)
{
    static const struct {
        const char *name;
        uint64_t us;
    } parts[] = {{"d", 86400 * USEC_PER_SEC}, {"h", 3600 * USEC_PER_SEC}, {"m", 60 * USEC_PER_SEC},
                 {"s", USEC_PER_SEC},         {"ms", USEC_PER_MSEC},      {"us", 1}};
    size_t off = 0;

    if (us == 0) {
        snprintf(buf, bufsz, "0");
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && off < bufsz; i++) {
        if (us >= parts[i].us) {
            uint64_t n = us / parts[i].us;
            us -= n * parts[i].us;
            off += (size_t)snprintf(buf + off, bufsz - off, "%llu%s", (unsigned long long)n,
                                    parts[i].name);
        }
    }
}

void format_duration_short(uint64_t us, char *buf, size_t bufsz)
{
    uint64_t s = us / USEC_PER_SEC;

    if (us < USEC_PER_MSEC)
        snprintf(buf, bufsz, "%lluus", (unsigned long long)us);
    else if (us < USEC_PER_SEC)
        snprintf(buf, bufsz, "%llums", (unsigned long long)(us / USEC_PER_MSEC));
    else if (us < 10 * USEC_PER_SEC)
        snprintf(buf, bufsz, "%llu.%llus", (unsigned long long)s,
                 (unsigned long long)(us % USEC_PER_SEC / 100000));
    else if (s < 60)
        snprintf(buf, bufsz, "%llus", (unsigned long long)s);
    else if (s < 3600)
        snprintf(buf, bufsz, "%llum%llus", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, bufsz, "%lluh%llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
    else
        snprintf(buf, bufsz, "%llud%lluh", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600));
}

int parse_size(const char *s, uint64_t *out, char *err, size_t errsz)
{
    const char *p = s;
    uint64_t n, mult = 1;

    if (read_digits(&p, &n) != 0) {
        if (isdigit((unsigned char)*p))
            return parse_error(err, errsz, "size '%s' is too large", s);
        return parse_error(err, errsz,
                           "invalid size '%s' (expected bytes, or a number with K, M or G)", s);
    }
    switch (*p) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mult = 1ULL << 10;
        p++;
        break;
    case 'm':
    case 'M':
        mult = 1ULL << 20;
        p++;
        break;
    case 'g':
    case 'G':
        mult = 1ULL << 30;
        p++;
        break;
    default:
        return parse_error(err, errsz, "invalid size '%s': unknown suffix '%s' (use K, M or G)", s,
                           p);
    }
    if (*p != '\0')
        return parse_error(err, errsz, "invalid size '%s': trailing '%s'", s, p);
    if (n > UINT64_MAX / mult)
        return parse_error(err, errsz, "size '%s' is too large", s);
    *out = n * mult;
    return 0;
}

void format_size(uint64_t bytes, char *buf, size_t bufsz)
{
    static const char suffix[] = "KMGT";

    if (bytes < 1024) {
        snprintf(buf, bufsz, "%lluB", (unsigned long long)bytes);
        return;
    }
    double v = (double)bytes;
    int i = -1;
    while (v >= 1024 && i < 3) {
        v /= 1024;
        i++;
    }
    if (v < 10)
        snprintf(buf, bufsz, "%.1f%c", v, suffix[i]);
    else
        snprintf(buf, bufsz, "%.0f%c", v, suffix[i]);
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errsz)
{
    const char *p = s;
    uint64_t n;

    if (read_digits(&p, &n) != 0 || *p != '\0') {
        /* All digits, yet read_digits failed: it overflowed (p was not advanced). */
        if (*s != '\0' && s[strspn(s, "0123456789")] == '\0')
            return parse_error(err, errsz, "'%s' is too large (at most %llu)", s,
                               (unsigned long long)max);
        return parse_error(err, errsz, "'%s' is not a whole number", s);
    }
    if (n < min || n > max)
        return parse_error(err, errsz, "%llu is out of range (%llu to %llu)", (unsigned long long)n,
                           (unsigned long long)min, (unsigned long long)max);
    *out = n;
    return 0;
}

int parse_mode(const char *s, mode_t *out, char *err, size_t errsz)
{
    const char *p = s;
    unsigned v = 0;

    if (*p == '\0')
        return parse_error(err, errsz, "empty file mode");
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '7')
            return parse_error(err, errsz, "invalid file mode '%s' (expected octal, like 0660)", s);
        v = v * 8 + (unsigned)(*p - '0');
        if (v > 07777)
            return parse_error(err, errsz, "file mode '%s' is out of range (at most 07777)", s);
    }
    *out = (mode_t)v;
    return 0;
}

static const struct signal_entry {
    const char *name;
    int number;
} signal_table[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int parse_signal(const char *s, int *out, char *err, size_t errsz)
{
    const char *name = s;
    uint64_t n;

    if (isdigit((unsigned char)*s)) {
        if (parse_uint(s, 1, 64, &n, NULL, 0) != 0)
            return parse_error(err, errsz, "invalid signal number '%s' (1 to 64)", s);
        *out = (int)n;
        return 0;
    }
    if (strncasecmp(name, "SIG", 3) == 0)
        name += 3;
    /* "SIG37": what signal_name() prints for a signal without a name. */
    if (isdigit((unsigned char)*name)) {
        if (parse_uint(name, 1, 64, &n, NULL, 0) != 0)
            return parse_error(err, errsz, "invalid signal number '%s' (1 to 64)", s);
        *out = (int)n;
        return 0;
    }
    for (size_t i = 0; i < sizeof(signal_table) / sizeof(signal_table[0]); i++) {
        if (strcasecmp(name, signal_table[i].name) == 0) {
            *out = signal_table[i].number;
            return 0;
        }
    }
    /* Real-time signals as systemd and kill(1) name them: RTMIN, RTMIN+N, RTMAX-N, RTMAX. */
    if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0) {
        bool from_min = toupper((unsigned char)name[4]) == 'N';
        int base = from_min ? SIGRTMIN : SIGRTMAX, span = SIGRTMAX - SIGRTMIN;
        const char *rest = name + 5;

        n = 0;
        if (*rest != '\0' && (*rest != (from_min ? '+' : '-') || !isdigit((unsigned char)rest[1]) ||
                              parse_uint(rest + 1, 0, (uint64_t)span, &n, NULL, 0) != 0))
            return parse_error(
                err, errsz,
                "invalid real-time signal '%s' (RTMIN+0 to RTMIN+%d, or RTMAX-0 to RTMAX-%d)", s,
                span, span);
        *out = from_min ? base + (int)n : base - (int)n;
        return 0;
    }
    return parse_error(err, errsz, "unknown signal '%s' (use a name like TERM or a number)", s);
}

const char *signal_name(int sig)
{
    static char buf[16];

    for (size_t i = 0; i < sizeof(signal_table) / sizeof(signal_table[0]); i++)
        if (signal_table[i].number == sig)
            return signal_table[i].name;
    snprintf(buf, sizeof(buf), "SIG%d", sig);
    return buf;
}

int parse_workers(const char *s, struct workers_spec *out, char *err, size_t errsz)
{
    uint64_t n;

    if (strncmp(s, "auto", 4) == 0) {
        const char *rest = s + 4;
        out->is_auto = true;
        out->count = 0;
        out->multiplier = 1;
        if (*rest == '\0')
            return 0;
        if (*rest != '*' || parse_uint(rest + 1, 1, 64, &n, NULL, 0) != 0)
            return parse_error(
                err, errsz, "invalid workers '%s' (expected N, auto, or auto*K with K 1 to 64)", s);
        out->multiplier = (unsigned)n;
        return 0;
    }
    if (parse_uint(s, 0, WORKERS_MAX, &n, NULL, 0) != 0)
        return parse_error(err, errsz, "invalid workers '%s' (expected 0 to %d, auto, or auto*K)",
                           s, WORKERS_MAX);
    out->is_auto = false;
    out->count = (unsigned)n;
    out->multiplier = 1;
    return 0;
}

unsigned workers_resolve(const struct workers_spec *spec, unsigned ncpu)
{
    unsigned long n = spec->is_auto ? (unsigned long)ncpu * spec->multiplier : spec->count;

    if (spec->is_auto && n == 0)
        n = 1;
    return n > WORKERS_MAX ? WORKERS_MAX : (unsigned)n;
}

int parse_crash_limit(const char *s, unsigned *count, uint64_t *window_us, char *err, size_t errsz)
{
    const char *slash = strchr(s, '/');
    char num[32];
    uint64_t n;
    char sub[PARSE_ERR_MAX];

    if (strcmp(s, "0") == 0 || strcmp(s, "none") == 0) {
        *count = 0;
        *window_us = 0;
        return 0;
    }
    if (slash == NULL || (size_t)(slash - s) >= sizeof(num))
        return parse_error(
            err, errsz, "invalid crash_limit '%s' (expected COUNT/WINDOW like 10/60s, or none)", s);
    memcpy(num, s, (size_t)(slash - s));
    num[slash - s] = '\0';
    if (parse_uint(num, 1, CRASH_LIMIT_MAX, &n, sub, sizeof(sub)) != 0)
        return parse_error(err, errsz, "invalid crash_limit '%s': count: %s", s, sub);
    if (parse_duration(slash + 1, window_us, sub, sizeof(sub)) != 0)
        return parse_error(err, errsz, "invalid crash_limit '%s': window: %s", s, sub);
    if (*window_us == 0)
        return parse_error(err, errsz, "invalid crash_limit '%s': the window must be longer than 0",
                           s);
    *count = (unsigned)n;
    return 0;
}

/* A growable string used by the splitters below. */
struct word {
    char *buf;
    size_t len, cap;
};

static void word_add(struct word *w, char c)
{
    if (w->len + 2 > w->cap) {
        w->cap = w->cap ? w->cap * 2 : 32;
        w->buf = xreallocarray(w->buf, w->cap, 1);
    }
    w->buf[w->len++] = c;
    w->buf[w->len] = '\0';
}

static void strv_push(char ***v, size_t *n, char *s)
{
    *v = xreallocarray(*v, *n + 2, sizeof(**v));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

int argv_split(const char *s, char ***argv_out, char *err, size_t errsz)
{
    char **argv = NULL;
    size_t argc = 0;
    struct word w = {0};
    bool in_word = false;
    const char *p = s;

    for (;;) {
        char c = *p;

        if (c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word) {
                strv_push(&argv, &argc, w.buf != NULL ? w.buf : xstrdup(""));
                w = (struct word){0};
                in_word = false;
            }
            if (c == '\0')
                break;
            p++;
            continue;
        }
        in_word = true;
        if (c == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (end == NULL)
                goto unterminated;
            for (const char *q = p + 1; q < end; q++)
                word_add(&w, *q);
            if (w.buf == NULL)
                w.buf = xstrdup("");
            p = end + 1;
        } else if (c == '"') {
            p++;
            if (w.buf == NULL)
                w.buf = xstrdup("");
            for (;;) {
                if (*p == '\0')
                    goto unterminated;
                if (*p == '"')
                    break;
                if (*p == '\\' && strchr("\"\\$`", p[1]) != NULL && p[1] != '\0') {
                    word_add(&w, p[1]);
                    p += 2;
                    continue;
                }
                if (*p == '$' || *p == '`') {
                    free(w.buf);
                    free_strv(argv);
                    return parse_error(err, errsz,
                                       "'%c' inside \"...\" would need a shell; drover runs the "
                                       "command directly (escape it as \\%c, or use '...')",
                                       *p, *p);
                }
                word_add(&w, *p++);
            }
            p++;
        } else if (c == '\\') {
            if (p[1] == '\0') {
                free(w.buf);
                free_strv(argv);
                return parse_error(err, errsz, "command ends with a lone backslash");
            }
            word_add(&w, p[1]);
            p += 2;
        } else if (strchr("|&;<>()`$", c) != NULL) {
            free(w.buf);
            free_strv(argv);
            return parse_error(err, errsz,
                               "'%c' is shell syntax, but drover runs the command directly "
                               "without a shell (quote it, or use: sh -c '...')",
                               c);
        } else {
            word_add(&w, c);
            p++;
        }
    }
    if (argc == 0) {
        free(argv);
        return parse_error(err, errsz, "empty command");
    }
    *argv_out = argv;
    return 0;

unterminated:
    free(w.buf);
    free_strv(argv);
    return parse_error(err, errsz, "unterminated quote in command");
}

bool env_name_valid(const char *name, size_t len)
{
    if (len == 0 || isdigit((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_')
            return false;
    return true;
}

int env_split(const char *s, char ***env_out, char *err, size_t errsz)
{
    char **env = NULL;
    size_t n = 0;
    const char *p = s;

    for (;;) {
        struct word w = {0};
        const char *name, *eq;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        name = p;
        eq = strchr(p, '=');
        if (eq == NULL || !env_name_valid(name, (size_t)(eq - name))) {
            size_t len = strcspn(name, ",=");
            free_strv(env);
            return parse_error(err, errsz,
                               "invalid environment entry '%.*s' (expected NAME=VALUE, with NAME "
                               "made of letters, digits and _)",
                               (int)len, name);
        }
        for (const char *q = name; q <= eq; q++)
            word_add(&w, *q);
        p = eq + 1;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '"') {
            p++;
            while (*p != '"') {
                if (*p == '\0') {
                    free(w.buf);
                    free_strv(env);
                    return parse_error(err, errsz, "unterminated quote in environment");
                }
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                    p++;
                word_add(&w, *p++);
            }
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p != ',' && *p != '\0') {
                free(w.buf);
                free_strv(env);
                return parse_error(err, errsz,
                                   "unexpected text after a quoted value in environment: '%s'", p);
            }
        } else {
            const char *end = p + strcspn(p, ",");
            const char *last = end;
            while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
                last--;
            for (const char *q = p; q < last; q++)
                word_add(&w, *q);
            p = end;
        }
        strv_push(&env, &n, w.buf);
        if (*p == ',')
            p++;
    }
    if (env == NULL)
        env = xcalloc(1, sizeof(*env));
    *env_out = env;
    return 0;
}

char *path_resolve(const char *base, const char *rel)
{
    char *joined, *out, **parts;
    size_t nparts = 0, len;
    bool absolute;

    if (rel[0] == '/' || base == NULL)
        joined = xstrdup(rel);
    else
        xasprintf(&joined, "%s/%s", base, rel);
    absolute = joined[0] == '/';
    len = strlen(joined);
    parts = xcalloc(len / 2 + 2, sizeof(*parts));
    for (char *save = NULL, *tok = strtok_r(joined, "/", &save); tok != NULL;
         tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0) {
            if (nparts > 0 && strcmp(parts[nparts - 1], "..") != 0)
                nparts--;
            else if (!absolute)
                parts[nparts++] = tok;
            continue;
        }
        parts[nparts++] = tok;
    }
    out = xcalloc(1, len + 3);
    if (absolute)
        strcat(out, "/");
    for (size_t i = 0; i < nparts; i++) {
        if (i > 0)
            strcat(out, "/");
        strcat(out, parts[i]);
    }
    if (out[0] == '\0')
        strcat(out, ".");
    free(parts);
    free(joined);
    return out;
}

/* Damerau-free Levenshtein distance, bounded to short words. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[64];

    if (la >= 63 || lb >= 63)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost =
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *suggest_nearest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t len = strlen(word);
    /* Allow one edit for short words, up to a third of the length for longer ones. */
    size_t limit = len <= 4 ? 1 : (len + 2) / 3;

    for (size_t i = 0; candidates[i] != NULL; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best_d <= limit ? best : NULL;
}
