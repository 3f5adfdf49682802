/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for common/parse.c, the value parsers of config files, the
 * command line and the control protocol.
 *
 * Input: a separator byte, then fields separated by it. Every field goes
 * through every parser; neighbouring fields make the pairs (base and path,
 * two durations to add up, a word and its candidates). Whatever a parser
 * accepts must come back the same through the matching formatter (or a
 * quoting of our own for argv_split and env_split); whatever it refuses
 * must come with a reason.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "log.h"
#include "parse.h"
#include "xmalloc.h"

#define MAX_FIELDS 16

/* A refusal names its reason, even in a buffer of one byte. */
static void check_reason(int rc, const char *err)
{
    FUZZ_CHECK(rc == -1);
    FUZZ_CHECK(err[0] != '\0');
}

/* Formatters write a NUL-terminated prefix of the full text into any buffer size. */
static void check_truncation(void (*format)(uint64_t, char *, size_t), uint64_t v)
{
    char full[128];

    format(v, full, sizeof(full));
    FUZZ_CHECK(full[0] != '\0' && strlen(full) < sizeof(full) - 1);
    for (size_t sz = 1; sz <= strlen(full) + 1; sz++) {
        char *buf = xmalloc(sz); /* exact size, so ASan sees any overrun */
        format(v, buf, sz);
        FUZZ_CHECK(strlen(buf) == sz - 1 || strcmp(buf, full) == 0);
        FUZZ_CHECK(strncmp(buf, full, strlen(buf)) == 0);
        free(buf);
    }
}

static void check_duration(const char *s)
{
    char err[PARSE_ERR_MAX] = "", text[64];
    uint64_t v = 0, back = 0;
    int rc = parse_duration(s, &v, err, sizeof(err));

    FUZZ_CHECK(parse_duration(s, &back, NULL, 0) == rc);
    if (rc != 0) {
        check_reason(rc, err);
        return;
    }
    FUZZ_CHECK(back == v);
    format_duration(v, text, sizeof(text));
    back = ~v;
    FUZZ_CHECK(parse_duration(text, &back, err, sizeof(err)) == 0 && back == v);
    check_truncation(format_duration, v);
    check_truncation(format_duration_short, v);
}

/*
 * "1m" and "30s" written one after the other are "1m30s": their sum, or
 * refused when the sum is past the largest duration (36500d). Each part is
 * at most that, so the sum cannot wrap.
 */
static void check_duration_sum(const char *a, const char *b)
{
    uint64_t va, vb, sum;
    char *joined;

    if (strcmp(a, "0") == 0 || strcmp(b, "0") == 0 || parse_duration(a, &va, NULL, 0) != 0 ||
        parse_duration(b, &vb, NULL, 0) != 0)
        return;
    xasprintf(&joined, "%s%s", a, b);
    if (va + vb > PARSE_DURATION_MAX_US)
        FUZZ_CHECK(parse_duration(joined, &sum, NULL, 0) == -1);
    else
        FUZZ_CHECK(parse_duration(joined, &sum, NULL, 0) == 0 && sum == va + vb);
    free(joined);
}

static void check_size(const char *s)
{
    char err[PARSE_ERR_MAX] = "", text[64];
    uint64_t v = 0, back;
    int rc = parse_size(s, &v, err, sizeof(err));

    if (rc != 0) {
        check_reason(rc, err);
        return;
    }
    snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
    FUZZ_CHECK(parse_size(text, &back, NULL, 0) == 0 && back == v);
    for (int shift = 10, i = 0; shift <= 30; shift += 10, i++) {
        if (v % (1ULL << shift) != 0)
            break;
        snprintf(text, sizeof(text), "%llu%c", (unsigned long long)(v >> shift), "KMG"[i]);
        FUZZ_CHECK(parse_size(text, &back, NULL, 0) == 0 && back == v);
    }
    check_truncation(format_size, v);
}

static void check_uint(const char *s)
{
    static const uint64_t ranges[][2] = {{0, UINT64_MAX}, {1, 64}, {0, 0}, {5, 3}};
    char err[PARSE_ERR_MAX], text[32];

    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        uint64_t v = 0, back;
        int rc;
        err[0] = '\0';
        rc = parse_uint(s, ranges[i][0], ranges[i][1], &v, err, sizeof(err));
        if (rc != 0) {
            check_reason(rc, err);
            continue;
        }
        FUZZ_CHECK(*s != '\0' && s[strspn(s, "0123456789")] == '\0');
        FUZZ_CHECK(v >= ranges[i][0] && v <= ranges[i][1]);
        snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
        FUZZ_CHECK(parse_uint(text, 0, UINT64_MAX, &back, NULL, 0) == 0 && back == v);
    }
}

static void check_mode(const char *s)
{
    char err[PARSE_ERR_MAX] = "", text[16];
    mode_t v = 0, back;
    int rc = parse_mode(s, &v, err, sizeof(err));

    if (rc != 0) {
        check_reason(rc, err);
        return;
    }
    FUZZ_CHECK(v <= 07777);
    snprintf(text, sizeof(text), "%04o", (unsigned)v);
    FUZZ_CHECK(parse_mode(text, &back, NULL, 0) == 0 && back == v);
}

static void check_signal(const char *s)
{
    char err[PARSE_ERR_MAX] = "", text[32];
    int sig = 0, back;
    int rc = parse_signal(s, &sig, err, sizeof(err));
    const char *name;

    if (rc != 0) {
        check_reason(rc, err);
        return;
    }
    FUZZ_CHECK(sig >= 1 && sig <= 64);
    name = signal_name(sig);
    FUZZ_CHECK(name != NULL && name[0] != '\0');
    /* Every name it prints parses back, "SIG37" (a signal without a name) and "37" too. */
    FUZZ_CHECK(parse_signal(name, &back, NULL, 0) == 0 && back == sig);
    if (strncmp(name, "SIG", 3) == 0) {
        FUZZ_CHECK(parse_signal(name + 3, &back, NULL, 0) == 0 && back == sig);
        return;
    }
    snprintf(text, sizeof(text), "sig%s", name);
    for (char *p = text; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    FUZZ_CHECK(parse_signal(text, &back, NULL, 0) == 0 && back == sig);
}

static void check_workers(const char *s)
{
    static const unsigned ncpus[] = {0, 1, 7, 4096, UINT32_MAX};
    char err[PARSE_ERR_MAX] = "", text[32];
    struct workers_spec w, back;
    int rc = parse_workers(s, &w, err, sizeof(err));

    if (rc != 0) {
        check_reason(rc, err);
        return;
    }
    if (w.is_auto) {
        FUZZ_CHECK(w.count == 0 && w.multiplier >= 1 && w.multiplier <= 64);
        if (w.multiplier == 1)
            snprintf(text, sizeof(text), "auto");
        else
            snprintf(text, sizeof(text), "auto*%u", w.multiplier);
    } else {
        FUZZ_CHECK(w.count <= WORKERS_MAX && w.multiplier == 1);
        snprintf(text, sizeof(text), "%u", w.count);
    }
    FUZZ_CHECK(parse_workers(text, &back, NULL, 0) == 0);
    FUZZ_CHECK(back.is_auto == w.is_auto && back.count == w.count &&
               back.multiplier == w.multiplier);
    for (size_t i = 0; i < sizeof(ncpus) / sizeof(ncpus[0]); i++) {
        unsigned n = workers_resolve(&w, ncpus[i]);
        FUZZ_CHECK(n <= WORKERS_MAX);
        FUZZ_CHECK(w.is_auto ? n >= 1 : n == w.count);
    }
}

static void check_crash_limit(const char *s)
{
    char err[PARSE_ERR_MAX] = "", text[96], window[64];
    unsigned count = 0, back_count;
    uint64_t us = 0, back_us;
    int rc = parse_crash_limit(s, &count, &us, err, sizeof(err));

    if (rc != 0) {
        check_reason(rc, err);
        return;
    }
    FUZZ_CHECK(count <= CRASH_LIMIT_MAX);
    FUZZ_CHECK((count == 0) == (us == 0));
    if (count == 0) {
        snprintf(text, sizeof(text), "none");
    } else {
        format_duration(us, window, sizeof(window));
        snprintf(text, sizeof(text), "%u/%s", count, window);
    }
    FUZZ_CHECK(parse_crash_limit(text, &back_count, &back_us, NULL, 0) == 0);
    FUZZ_CHECK(back_count == count && back_us == us);
}

/* Quote words so argv_split gives them back: 'single', "double", or \e\s\c\a\p\e\d. */
static char *quote_argv(char *const *argv, int style)
{
    size_t cap = 1;
    char *out, *p;

    for (size_t i = 0; argv[i] != NULL; i++)
        cap += 4 * strlen(argv[i]) + 3;
    p = out = xmalloc(cap);
    for (size_t i = 0; argv[i] != NULL; i++) {
        const char *w = argv[i];
        if (i > 0)
            *p++ = i % 2 ? ' ' : '\t';
        if (style == 0 || *w == '\0') {
            *p++ = '\'';
            for (; *w != '\0'; w++) {
                if (*w == '\'') {
                    memcpy(p, "'\\''", 4); /* close, escaped quote, reopen */
                    p += 4;
                } else {
                    *p++ = *w;
                }
            }
            *p++ = '\'';
        } else if (style == 1) {
            *p++ = '"';
            for (; *w != '\0'; w++) {
                if (strchr("\"\\$`", *w) != NULL)
                    *p++ = '\\';
                *p++ = *w;
            }
            *p++ = '"';
        } else {
            for (; *w != '\0'; w++) {
                *p++ = '\\';
                *p++ = *w;
            }
        }
    }
    *p = '\0';
    return out;
}

static void check_argv(const char *s)
{
    char err[PARSE_ERR_MAX] = "";
    char **argv = NULL;
    int rc = argv_split(s, &argv, err, sizeof(err));

    if (rc != 0) {
        check_reason(rc, err);
        return;
    }
    FUZZ_CHECK(argv != NULL && argv[0] != NULL);
    for (int style = 0; style < 3; style++) {
        char *quoted = quote_argv(argv, style);
        char **back = NULL;
        size_t i;
        FUZZ_CHECK(argv_split(quoted, &back, err, sizeof(err)) == 0);
        for (i = 0; argv[i] != NULL; i++)
            FUZZ_CHECK(back[i] != NULL && strcmp(back[i], argv[i]) == 0);
        FUZZ_CHECK(back[i] == NULL);
        free_strv(back);
        free(quoted);
    }
    free_strv(argv);
}

static void check_env(const char *s)
{
    char err[PARSE_ERR_MAX] = "";
    char **env = NULL, **back = NULL;
    size_t cap = 1, i;
    char *quoted, *p;
    int rc = env_split(s, &env, err, sizeof(err));

    if (rc != 0) {
        check_reason(rc, err);
        return;
    }
    FUZZ_CHECK(env != NULL);
    for (i = 0; env[i] != NULL; i++) {
        const char *eq = strchr(env[i], '=');
        FUZZ_CHECK(eq != NULL && env_name_valid(env[i], (size_t)(eq - env[i])));
        cap += 2 * strlen(env[i]) + 4;
    }
    /* Each value quoted, with \" and \\, so commas and spaces survive. */
    p = quoted = xmalloc(cap);
    for (i = 0; env[i] != NULL; i++) {
        const char *eq = strchr(env[i], '=');
        if (i > 0)
            *p++ = ',';
        memcpy(p, env[i], (size_t)(eq - env[i]) + 1);
        p += eq - env[i] + 1;
        *p++ = '"';
        for (const char *v = eq + 1; *v != '\0'; v++) {
            if (*v == '"' || *v == '\\')
                *p++ = '\\';
            *p++ = *v;
        }
        *p++ = '"';
    }
    *p = '\0';
    FUZZ_CHECK(env_split(quoted, &back, err, sizeof(err)) == 0);
    for (i = 0; env[i] != NULL; i++)
        FUZZ_CHECK(back[i] != NULL && strcmp(back[i], env[i]) == 0);
    FUZZ_CHECK(back[i] == NULL);
    free_strv(back);
    free(quoted);
    free_strv(env);
}

/* A resolved path: no empty or "." parts, ".." only leading a relative path. */
static void check_resolved(const char *out, bool absolute)
{
    char *again;
    bool past_dotdot = false;

    FUZZ_CHECK(out[0] != '\0');
    FUZZ_CHECK((out[0] == '/') == absolute);
    if (strcmp(out, ".") == 0 || strcmp(out, "/") == 0) {
        FUZZ_CHECK(!absolute || out[0] == '/');
    } else {
        const char *p = out + absolute;
        while (*p != '\0') {
            size_t n = strcspn(p, "/");
            FUZZ_CHECK(n > 0);
            FUZZ_CHECK(!(n == 1 && p[0] == '.'));
            if (n == 2 && p[0] == '.' && p[1] == '.')
                FUZZ_CHECK(!absolute && !past_dotdot);
            else
                past_dotdot = true;
            p += n;
            if (*p == '/') {
                p++;
                FUZZ_CHECK(*p != '\0'); /* no trailing slash */
            }
        }
    }
    again = path_resolve(NULL, out);
    FUZZ_CHECK(strcmp(again, out) == 0);
    free(again);
}

static void check_path(const char *base, const char *rel)
{
    char *out;

    if (base != NULL && base[0] == '\0')
        return; /* not a directory; callers pass dir_of() a file, never "" */
    out = path_resolve(base, rel);

    check_resolved(out, rel[0] == '/' || (base != NULL && base[0] == '/'));
    free(out);
}

static void check_names(const char *s, char *const *fields, size_t nfields, size_t self)
{
    const char *candidates[MAX_FIELDS + 1];
    size_t n = 0, len = strlen(s);
    bool valid = len > 0 && !isdigit((unsigned char)s[0]);
    enum log_level level;

    for (size_t i = 0; i < len; i++)
        valid = valid && (isalnum((unsigned char)s[i]) || s[i] == '_');
    FUZZ_CHECK(env_name_valid(s, len) == valid);
    if (log_level_parse(s, &level) == 0)
        FUZZ_CHECK(strcmp(log_level_name(level), s) == 0);

    for (size_t i = 0; i < nfields; i++)
        if (i != self)
            candidates[n++] = fields[i];
    candidates[n] = NULL;
    const char *best = suggest_nearest(s, candidates);
    if (best != NULL) {
        bool listed = false;
        for (size_t i = 0; i < n; i++)
            listed = listed || candidates[i] == best;
        FUZZ_CHECK(listed);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *fields[MAX_FIELDS];
    size_t nfields = 0, start = 1;
    uint8_t sep;

    if (size == 0)
        return 0;
    sep = data[0];
    for (size_t i = 1; i <= size && nfields < MAX_FIELDS; i++) {
        if (i == size || data[i] == sep) {
            /* Exact size, so ASan sees a read past the NUL. */
            fields[nfields] = xmalloc(i - start + 1);
            memcpy(fields[nfields], data + start, i - start);
            fields[nfields][i - start] = '\0';
            nfields++;
            start = i + 1;
        }
    }
    for (size_t i = 0; i < nfields; i++) {
        const char *f = fields[i];
        check_duration(f);
        check_size(f);
        check_uint(f);
        check_mode(f);
        check_signal(f);
        check_workers(f);
        check_crash_limit(f);
        check_argv(f);
        check_env(f);
        check_path(NULL, f);
        check_names(f, fields, nfields, i);
        if (i + 1 < nfields) {
            check_path(f, fields[i + 1]);
            check_duration_sum(f, fields[i + 1]);
        }
    }
    for (size_t i = 0; i < nfields; i++)
        free(fields[i]);
    return 0;
}
