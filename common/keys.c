/* SPDX-License-Identifier: ISC */
/*
 * The configuration key table and the value parsers it names. Parsers write
 * into the field of one struct and report problems into ctx->err; they know
 * nothing about files or lines (config.c adds those).
 */
#include "keys.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

#define D(field) offsetof(struct daemon_config, field)
#define P(field) offsetof(struct pool_config, field)

static const char *const log_level_choices[] = {"error", "warn", "info", "debug", NULL};
static const char *const affinity_choices[] = {"none", "core", NULL};
static const char *const restart_choices[] = {"always", "on-failure", "never", NULL};
static const char *const on_fatal_choices[] = {"stay", "exit", NULL};
static const char *const ready_choices[] = {"exec", "notify", NULL};
static const char *const stdout_choices[] = {"log", "inherit", "null", NULL};
static const char *const mode_choices[] = {"message", "handoff", "shared", NULL};
static const char *const framing_choices[] = {"length", "line", NULL};
static const char *const work_fd_choices[] = {"3", "stdio", NULL};

const char *restart_policy_name(int v)
{
    return restart_choices[v];
}

const char *route_mode_name(int v)
{
    return mode_choices[v];
}

const char *framing_name(int v)
{
    return framing_choices[v];
}

static int parse_string_key(const struct key *k, struct key_ctx *ctx, const char *value,
                            void *field)
{
    char **dst = field;

    (void)k;
    if (*value == '\0')
        return parse_error(ctx->err, ctx->errsz, "empty value");
    free(*dst);
    *dst = xstrdup(value);
    return 0;
}

/* Make a relative path absolute against the directory of the file it was read from. */
static char *resolve_path(const struct key_ctx *ctx, const char *value)
{
    return path_resolve(ctx->base_dir, value);
}

static int parse_path_key(const struct key *k, struct key_ctx *ctx, const char *value, void *field)
{
    char **dst = field;

    (void)k;
    if (*value == '\0')
        return parse_error(ctx->err, ctx->errsz, "empty path");
    if (strlen(value) >= PATH_MAX)
        return parse_error(ctx->err, ctx->errsz, "path is too long");
    free(*dst);
    *dst = resolve_path(ctx, value);
    return 0;
}

/* A Unix socket path must fit in sun_path (108 bytes with its NUL). */
#define SOCKET_PATH_MAX 107

static int parse_socket_path_key(const struct key *k, struct key_ctx *ctx, const char *value,
                                 void *field)
{
    char **dst = field;
    char *path;

    (void)k;
    if (*value == '\0')
        return parse_error(ctx->err, ctx->errsz, "empty path");
    path = resolve_path(ctx, value);
    if (strlen(path) > SOCKET_PATH_MAX) {
        parse_error(ctx->err, ctx->errsz, "socket path '%s' is longer than %d bytes", path,
                    SOCKET_PATH_MAX);
        free(path);
        return -1;
    }
    free(*dst);
    *dst = path;
    return 0;
}

static int parse_choice_key(const struct key *k, struct key_ctx *ctx, const char *value,
                            void *field)
{
    int *dst = field;
    size_t off = 0;
    char list[128] = "";

    for (int i = 0; k->choices[i] != NULL; i++) {
        if (strcmp(value, k->choices[i]) == 0) {
            *dst = i;
            return 0;
        }
    }
    for (int i = 0; k->choices[i] != NULL && off < sizeof(list); i++)
        off +=
            (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", k->choices[i]);
    return parse_error(ctx->err, ctx->errsz, "invalid value '%s' (expected one of: %s)", value,
                       list);
}

static int parse_duration_key(const struct key *k, struct key_ctx *ctx, const char *value,
                              void *field)
{
    uint64_t *dst = field, v;

    if (parse_duration(value, &v, ctx->err, ctx->errsz) != 0)
        return -1;
    if (v < k->min || (k->max != 0 && v > k->max)) {
        char lo[32], hi[32];
        format_duration(k->min, lo, sizeof(lo));
        format_duration(k->max, hi, sizeof(hi));
        if (k->max == 0)
            return parse_error(ctx->err, ctx->errsz, "duration '%s' is too short (at least %s)",
                               value, lo);
        return parse_error(ctx->err, ctx->errsz, "duration '%s' is out of range (%s to %s)", value,
                           lo, hi);
    }
    *dst = v;
    return 0;
}

static int parse_size_key(const struct key *k, struct key_ctx *ctx, const char *value, void *field)
{
    uint64_t *dst = field, v;

    if (parse_size(value, &v, ctx->err, ctx->errsz) != 0)
        return -1;
    if (v < k->min || (k->max != 0 && v > k->max)) {
        char lo[32], hi[32];
        format_size(k->min, lo, sizeof(lo));
        format_size(k->max, hi, sizeof(hi));
        if (k->max == 0)
            return parse_error(ctx->err, ctx->errsz, "size '%s' is too small (at least %s)", value,
                               lo);
        return parse_error(ctx->err, ctx->errsz, "size '%s' is out of range (%s to %s)", value, lo,
                           hi);
    }
    *dst = v;
    return 0;
}

static int parse_uint_key(const struct key *k, struct key_ctx *ctx, const char *value, void *field)
{
    uint64_t v;

    if (parse_uint(value, k->min, k->max, &v, ctx->err, ctx->errsz) != 0)
        return -1;
    if (k->type == KT_UINT)
        *(unsigned *)field = (unsigned)v;
    else
        *(uint64_t *)field = v;
    return 0;
}

static int parse_mode_key(const struct key *k, struct key_ctx *ctx, const char *value, void *field)
{
    (void)k;
    return parse_mode(value, field, ctx->err, ctx->errsz);
}

static int parse_signal_key(const struct key *k, struct key_ctx *ctx, const char *value,
                            void *field)
{
    (void)k;
    return parse_signal(value, field, ctx->err, ctx->errsz);
}

static int parse_workers_key(const struct key *k, struct key_ctx *ctx, const char *value,
                             void *field)
{
    (void)k;
    return parse_workers(value, field, ctx->err, ctx->errsz);
}

static int parse_crash_key(const struct key *k, struct key_ctx *ctx, const char *value, void *field)
{
    struct crash_limit *cl = field;

    (void)k;
    return parse_crash_limit(value, &cl->count, &cl->window_us, ctx->err, ctx->errsz);
}

static int parse_env_key(const struct key *k, struct key_ctx *ctx, const char *value, void *field)
{
    char ***dst = field, **env;

    (void)k;
    if (env_split(value, &env, ctx->err, ctx->errsz) != 0)
        return -1;
    free_strv(*dst);
    *dst = env;
    return 0;
}

static int parse_command_key(const struct key *k, struct key_ctx *ctx, const char *value,
                             void *field)
{
    char **argv;

    /* Split now so a quoting mistake is reported at this line; config.c splits again. */
    if (argv_split(value, &argv, ctx->err, ctx->errsz) != 0)
        return -1;
    free_strv(argv);
    return parse_string_key(k, ctx, value, field);
}

/* include = one or more globs separated by spaces, relative to this file. */
static int parse_include_key(const struct key *k, struct key_ctx *ctx, const char *value,
                             void *field)
{
    char ***dst = field, **words;

    (void)k;
    if (argv_split(value, &words, ctx->err, ctx->errsz) != 0)
        return -1;
    for (size_t i = 0; words[i] != NULL; i++) {
        char *abs = resolve_path(ctx, words[i]);
        free(words[i]);
        words[i] = abs;
    }
    free_strv(*dst);
    *dst = words;
    return 0;
}

/*
 * listen = /path/to.sock (relative to this file) | tcp:HOST:PORT with a
 * numeric IPv4 address, or [IPv6] in brackets. No name lookups.
 */
static int parse_listen_key(const struct key *k, struct key_ctx *ctx, const char *value,
                            void *field)
{
    char **dst = field;

    if (strncmp(value, "tcp:", 4) == 0) {
        const char *hostport = value + 4, *colon;
        char host[64];
        unsigned char addr[16];
        uint64_t port;
        int family = AF_INET;

        if (hostport[0] == '[') {
            const char *close = strchr(hostport, ']');
            if (close == NULL || close[1] != ':' || (size_t)(close - hostport - 1) >= sizeof(host))
                return parse_error(ctx->err, ctx->errsz,
                                   "invalid listen '%s' (expected tcp:[IPV6]:PORT)", value);
            memcpy(host, hostport + 1, (size_t)(close - hostport - 1));
            host[close - hostport - 1] = '\0';
            colon = close + 1;
            family = AF_INET6;
        } else {
            colon = strrchr(hostport, ':');
            if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
                return parse_error(ctx->err, ctx->errsz,
                                   "invalid listen '%s' (expected tcp:HOST:PORT)", value);
            memcpy(host, hostport, (size_t)(colon - hostport));
            host[colon - hostport] = '\0';
        }
        if (inet_pton(family, host, addr) != 1)
            return parse_error(ctx->err, ctx->errsz,
                               "invalid listen '%s': '%s' is not a numeric IP address", value,
                               host);
        if (parse_uint(colon + 1, 1, 65535, &port, NULL, 0) != 0)
            return parse_error(ctx->err, ctx->errsz, "invalid listen '%s': bad port '%s'", value,
                               colon + 1);
        free(*dst);
        *dst = xstrdup(value);
        return 0;
    }
    return parse_socket_path_key(k, ctx, value, field);
}

/*
 * metrics_listen = [tcp:]HOST:PORT: only TCP makes sense for an HTTP
 * endpoint, so the tcp: prefix is optional; stored with it.
 */
static int parse_metrics_listen_key(const struct key *k, struct key_ctx *ctx, const char *value,
                                    void *field)
{
    char *full;
    int rc;

    if (strncmp(value, "tcp:", 4) == 0)
        full = xstrdup(value);
    else
        xasprintf(&full, "tcp:%s", value);
    if (strchr(full + 4, ':') == NULL) {
        free(full);
        return parse_error(ctx->err, ctx->errsz,
                           "invalid metrics_listen '%s' (expected HOST:PORT, like 127.0.0.1:9101)",
                           value);
    }
    rc = parse_listen_key(k, ctx, full, field);
    free(full);
    return rc;
}

/* clang-format off */
const struct key key_table[] = {
    /* [daemon] */
    {KEY_DAEMON, "control_socket", KT_STRING, parse_socket_path_key, D(control_socket), NULL,
     "/run/drover/drover.sock as root, else $XDG_RUNTIME_DIR/drover.sock", RELOAD_DAEMON, NULL, 0, 0,
     "Unix socket the drover CLI talks to."},
    {KEY_DAEMON, "control_mode", KT_MODE, parse_mode_key, D(control_mode), "0660", NULL,
     RELOAD_DAEMON, NULL, 0, 0,
     "File mode of the control socket."},
    {KEY_DAEMON, "control_group", KT_STRING, parse_string_key, D(control_group), NULL, "unset",
     RELOAD_DAEMON, NULL, 0, 0,
     "Group that owns the control socket; its members may run every verb."},
    {KEY_DAEMON, "log_dir", KT_STRING, parse_path_key, D(log_dir), NULL,
     "/var/log/drover as root, else $XDG_STATE_HOME/drover", RELOAD_LIVE, NULL, 0, 0,
     "Directory of the pools' captured output, POOL.log."},
    {KEY_DAEMON, "log_level", KT_INT, parse_choice_key, D(log_level), "info", NULL, RELOAD_LIVE,
     log_level_choices, 0, 0,
     "The daemon's own log level on stderr: error, warn, info, debug."},
    {KEY_DAEMON, "include", KT_STRV, parse_include_key, D(include), NULL, "unset", RELOAD_LIVE,
     NULL, 0, 0,
     "Glob(s) of files with more [pool:NAME] sections, read in sorted order."},
    {KEY_DAEMON, "shutdown_timeout", KT_U64, parse_duration_key, D(shutdown_timeout_us), "30s",
     NULL, RELOAD_LIVE, NULL, 0, 0,
     "Longest a shutdown waits for workers before SIGKILL to everything left."},
    {KEY_DAEMON, "metrics_listen", KT_STRING, parse_metrics_listen_key, D(metrics_listen), NULL,
     "unset", RELOAD_DAEMON, NULL, 0, 0,
     "Serve Prometheus metrics over HTTP at /metrics on HOST:PORT (IP address, like 127.0.0.1:9101)."},

    /* [pool:NAME] */
    {KEY_POOL, "command", KT_STRING, parse_command_key, P(command), NULL, "required",
     RELOAD_RESTART, NULL, 0, 0,
     "Program and arguments, split like a shell would but run directly (no /bin/sh)."},
    {KEY_POOL, "workers", KT_WORKERS, parse_workers_key, P(workers), "auto", NULL, RELOAD_SCALE,
     NULL, 0, 0,
     "Worker count: N, auto (one per usable CPU), or auto*K."},
    {KEY_POOL, "cpu_affinity", KT_INT, parse_choice_key, P(cpu_affinity), "none", NULL,
     RELOAD_RESTART, affinity_choices, 0, 0,
     "none, or core: worker i is pinned to usable CPU i mod ncpu."},
    {KEY_POOL, "directory", KT_STRING, parse_path_key, P(directory), NULL, "the directory of the file that defines the pool",
     RELOAD_RESTART, NULL, 0, 0,
     "Working directory of the workers."},
    {KEY_POOL, "user", KT_STRING, parse_string_key, P(user), NULL, "unset", RELOAD_RESTART, NULL,
     0, 0,
     "Run workers as this user (droverd must be root)."},
    {KEY_POOL, "group", KT_STRING, parse_string_key, P(group), NULL, "the user's group",
     RELOAD_RESTART, NULL, 0, 0,
     "Run workers with this primary group."},
    {KEY_POOL, "environment", KT_STRV, parse_env_key, P(environment), NULL, "unset",
     RELOAD_RESTART, NULL, 0, 0,
     "Extra variables: NAME=VALUE, NAME2=\"quoted, value\"."},
    {KEY_POOL, "restart", KT_INT, parse_choice_key, P(restart), "always", NULL, RELOAD_LIVE,
     restart_choices, 0, 0,
     "always, on-failure (not after exit 0), or never."},
    {KEY_POOL, "restart_delay", KT_U64, parse_duration_key, P(restart_delay_us), "100ms", NULL,
     RELOAD_LIVE, NULL, 0, 0,
     "Delay after the second quick crash in a row; doubles with each further one (0: doubling from 1ms)."},
    {KEY_POOL, "restart_delay_max", KT_U64, parse_duration_key, P(restart_delay_max_us), "30s",
     NULL, RELOAD_LIVE, NULL, 0, 0,
     "Cap of the backoff; a worker that ran this long is healthy and restarts at once."},
    {KEY_POOL, "crash_limit", KT_CRASH, parse_crash_key, P(crash_limit), "10/60s", NULL,
     RELOAD_LIVE, NULL, 0, 0,
     "More crashes than COUNT within WINDOW make the slot fatal; none disables."},
    {KEY_POOL, "on_fatal", KT_INT, parse_choice_key, P(on_fatal), "stay", NULL, RELOAD_LIVE,
     on_fatal_choices, 0, 0,
     "stay, or exit: a fatal slot shuts droverd down with status 3."},
    {KEY_POOL, "ready", KT_INT, parse_choice_key, P(ready), "exec", NULL, RELOAD_RESTART,
     ready_choices, 0, 0,
     "exec (running once exec'd) or notify (running after READY=1 on NOTIFY_SOCKET)."},
    {KEY_POOL, "start_timeout", KT_U64, parse_duration_key, P(start_timeout_us), "10s", NULL,
     RELOAD_LIVE, NULL, 1000, 0,
     "With ready = notify: no READY=1 within it is a failed start."},
    {KEY_POOL, "watchdog", KT_U64, parse_duration_key, P(watchdog_us), "0", NULL, RELOAD_LIVE,
     NULL, 0, 0,
     "With ready = notify: no WATCHDOG=1 within it kills and restarts the worker; 0 = off."},
    {KEY_POOL, "stop_signal", KT_INT, parse_signal_key, P(stop_signal), "TERM", NULL,
     RELOAD_LIVE, NULL, 0, 0,
     "Signal sent to the worker's process group to stop it."},
    {KEY_POOL, "stop_timeout", KT_U64, parse_duration_key, P(stop_timeout_us), "10s", NULL,
     RELOAD_LIVE, NULL, 0, 0,
     "Then SIGKILL to the process group."},
    {KEY_POOL, "stdout", KT_INT, parse_choice_key, P(stdout_mode), "log", NULL, RELOAD_RESTART,
     stdout_choices, 0, 0,
     "log ($log_dir/POOL.log), inherit (droverd's own stdout and stderr), or null."},
    {KEY_POOL, "log_max_size", KT_U64, parse_size_key, P(log_max_size), "10M", NULL, RELOAD_LIVE,
     NULL, 4096, 0,
     "Rotate POOL.log when it would grow past this size."},
    {KEY_POOL, "log_keep", KT_UINT, parse_uint_key, P(log_keep), "5", NULL, RELOAD_LIVE, NULL, 0,
     100,
     "Rotated files kept: POOL.log.1 ... POOL.log.N."},
    {KEY_POOL, "listen", KT_STRING, parse_listen_key, P(listen), NULL, "unset", RELOAD_RECREATE,
     NULL, 0, 0,
     "Work socket: a Unix socket path, or tcp:HOST:PORT. Unset: supervised only."},
    {KEY_POOL, "socket_mode", KT_MODE, parse_mode_key, P(socket_mode), "0660", NULL,
     RELOAD_RECREATE, NULL, 0, 0,
     "File mode of a Unix work socket."},
    {KEY_POOL, "socket_group", KT_STRING, parse_string_key, P(socket_group), NULL, "unset",
     RELOAD_RECREATE, NULL, 0, 0,
     "Group owning a Unix work socket; with socket_mode 0660 its members may connect."},
    {KEY_POOL, "mode", KT_INT, parse_choice_key, P(mode), "message", NULL, RELOAD_RECREATE,
     mode_choices, 0, 0,
     "message (daemon routes requests), handoff (passes connections), shared (workers accept)."},
    {KEY_POOL, "framing", KT_INT, parse_choice_key, P(framing), "length", NULL, RELOAD_RECREATE,
     framing_choices, 0, 0,
     "message mode: length (4-byte big-endian length + body) or line."},
    {KEY_POOL, "work_fd", KT_INT, parse_choice_key, P(work_fd), "3", NULL, RELOAD_RESTART,
     work_fd_choices, 0, 0,
     "message mode: requests on fd 3, or on stdin/stdout (stdio, needs framing = line)."},
    {KEY_POOL, "max_queue", KT_UINT, parse_uint_key, P(max_queue), "1024", NULL, RELOAD_LIVE, NULL,
     0, 1000000,
     "message mode: requests waiting beyond this are answered BUSY at once."},
    {KEY_POOL, "request_timeout", KT_U64, parse_duration_key, P(request_timeout_us), "30s", NULL,
     RELOAD_LIVE, NULL, 1000, 0,
     "A worker that does not answer in time is killed and the request retried."},
    {KEY_POOL, "max_attempts", KT_UINT, parse_uint_key, P(max_attempts), "2", NULL, RELOAD_LIVE,
     NULL, 1, 100,
     "Deliveries of one request before the client gets an error."},
    {KEY_POOL, "max_requests", KT_U64, parse_uint_key, P(max_requests), "0", NULL, RELOAD_LIVE,
     NULL, 0, UINT64_MAX,
     "Recycle a worker gracefully after N requests (or connections); 0 = never."},
    {KEY_POOL, "worker_inflight", KT_UINT, parse_uint_key, P(worker_inflight), "1", NULL,
     RELOAD_LIVE, NULL, 1, 1024,
     "message: requests pipelined to one worker (answered in order); handoff: connections a worker holds at once."},
    {KEY_POOL, "max_frame", KT_U64, parse_size_key, P(max_frame), "1M", NULL, RELOAD_LIVE, NULL,
     16, 256 << 20,
     "message mode: largest request or reply body; larger closes the client or kills the worker."},
};
/* clang-format on */

const size_t key_table_len = sizeof(key_table) / sizeof(key_table[0]);

const struct key *key_find(enum key_section section, const char *name)
{
    for (size_t i = 0; i < key_table_len; i++)
        if (key_table[i].section == section && strcmp(key_table[i].name, name) == 0)
            return &key_table[i];
    return NULL;
}

size_t key_section_index(const struct key *k)
{
    size_t idx = 0;

    for (const struct key *p = key_table; p < k; p++)
        if (p->section == k->section)
            idx++;
    return idx;
}

const char *key_suggest(enum key_section section, const char *name)
{
    const char *names[64];
    size_t n = 0;

    for (size_t i = 0; i < key_table_len && n < 63; i++)
        if (key_table[i].section == section)
            names[n++] = key_table[i].name;
    names[n] = NULL;
    return suggest_nearest(name, names);
}

void *key_field(const struct key *k, void *base)
{
    return (char *)base + k->offset;
}

const void *key_field_const(const struct key *k, const void *base)
{
    return (const char *)base + k->offset;
}

static int strv_equal(char *const *a, char *const *b)
{
    size_t i;

    if (a == NULL || b == NULL)
        return strv_len(a) == strv_len(b);
    for (i = 0; a[i] != NULL && b[i] != NULL; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return a[i] == NULL && b[i] == NULL;
}

int key_value_equal(const struct key *k, const void *a, const void *b)
{
    const void *fa = key_field_const(k, a), *fb = key_field_const(k, b);

    switch (k->type) {
    case KT_STRING: {
        const char *sa = *(char *const *)fa, *sb = *(char *const *)fb;
        if (sa == NULL || sb == NULL)
            return sa == sb;
        return strcmp(sa, sb) == 0;
    }
    case KT_STRV:
        return strv_equal(*(char **const *)fa, *(char **const *)fb);
    case KT_U64:
        return *(const uint64_t *)fa == *(const uint64_t *)fb;
    case KT_UINT:
        return *(const unsigned *)fa == *(const unsigned *)fb;
    case KT_INT:
        return *(const int *)fa == *(const int *)fb;
    case KT_MODE:
        return *(const mode_t *)fa == *(const mode_t *)fb;
    case KT_WORKERS: {
        const struct workers_spec *wa = fa, *wb = fb;
        return wa->is_auto == wb->is_auto && wa->count == wb->count &&
               wa->multiplier == wb->multiplier;
    }
    case KT_CRASH: {
        const struct crash_limit *ca = fa, *cb = fb;
        return ca->count == cb->count && ca->window_us == cb->window_us;
    }
    }
    return 0;
}

void key_value_free(const struct key *k, void *base)
{
    void *f = key_field(k, base);

    if (k->type == KT_STRING) {
        free(*(char **)f);
        *(char **)f = NULL;
    } else if (k->type == KT_STRV) {
        free_strv(*(char ***)f);
        *(char ***)f = NULL;
    }
}

void key_value_copy(const struct key *k, void *dst_base, const void *src_base)
{
    void *d = key_field(k, dst_base);
    const void *s = key_field_const(k, src_base);

    switch (k->type) {
    case KT_STRING: {
        const char *src = *(char *const *)s;
        *(char **)d = src != NULL ? xstrdup(src) : NULL;
        break;
    }
    case KT_STRV:
        *(char ***)d = xstrvdup(*(char **const *)s);
        break;
    case KT_U64:
        *(uint64_t *)d = *(const uint64_t *)s;
        break;
    case KT_UINT:
        *(unsigned *)d = *(const unsigned *)s;
        break;
    case KT_INT:
        *(int *)d = *(const int *)s;
        break;
    case KT_MODE:
        *(mode_t *)d = *(const mode_t *)s;
        break;
    case KT_WORKERS:
        *(struct workers_spec *)d = *(const struct workers_spec *)s;
        break;
    case KT_CRASH:
        *(struct crash_limit *)d = *(const struct crash_limit *)s;
        break;
    }
}

char *key_value_format(const struct key *k, const void *base)
{
    const void *f = key_field_const(k, base);
    char buf[64], *out = NULL;

    switch (k->type) {
    case KT_STRING: {
        const char *s = *(char *const *)f;
        return xstrdup(s != NULL ? s : "");
    }
    case KT_STRV: {
        char *const *v = *(char **const *)f;
        size_t len = 1;
        for (size_t i = 0; v != NULL && v[i] != NULL; i++)
            len += strlen(v[i]) + 2;
        out = xcalloc(1, len);
        for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
            if (i > 0)
                strcat(out, ", ");
            strcat(out, v[i]);
        }
        return out;
    }
    case KT_U64:
        if (k->parse == parse_duration_key)
            format_duration(*(const uint64_t *)f, buf, sizeof(buf));
        else
            snprintf(buf, sizeof(buf), "%llu", (unsigned long long)*(const uint64_t *)f);
        break;
    case KT_UINT:
        snprintf(buf, sizeof(buf), "%u", *(const unsigned *)f);
        break;
    case KT_INT:
        if (k->choices != NULL)
            return xstrdup(k->choices[*(const int *)f]);
        if (k->parse == parse_signal_key)
            return xstrdup(signal_name(*(const int *)f));
        snprintf(buf, sizeof(buf), "%d", *(const int *)f);
        break;
    case KT_MODE:
        snprintf(buf, sizeof(buf), "%04o", (unsigned)*(const mode_t *)f);
        break;
    case KT_WORKERS: {
        const struct workers_spec *w = f;
        if (!w->is_auto)
            snprintf(buf, sizeof(buf), "%u", w->count);
        else if (w->multiplier == 1)
            snprintf(buf, sizeof(buf), "auto");
        else
            snprintf(buf, sizeof(buf), "auto*%u", w->multiplier);
        break;
    }
    case KT_CRASH: {
        const struct crash_limit *c = f;
        char window[32];
        if (c->count == 0)
            return xstrdup("none");
        format_duration(c->window_us, window, sizeof(window));
        snprintf(buf, sizeof(buf), "%u/%s", c->count, window);
        break;
    }
    }
    return xstrdup(buf);
}

int keys_apply_defaults(enum key_section section, void *base, const struct config_env *env,
                        char *err, size_t errsz)
{
    struct key_ctx ctx = {.file = "<defaults>", .env = env, .err = err, .errsz = errsz};

    for (size_t i = 0; i < key_table_len; i++) {
        const struct key *k = &key_table[i];
        if (k->section != section || k->default_value == NULL)
            continue;
        if (k->parse(k, &ctx, k->default_value, key_field(k, base)) != 0)
            return -1;
    }
    return 0;
}

static const char *reload_text(enum key_reload r)
{
    switch (r) {
    case RELOAD_LIVE:
        return "applied live";
    case RELOAD_RESTART:
        return "workers restart one at a time";
    case RELOAD_SCALE:
        return "workers added or stopped";
    case RELOAD_RECREATE:
        return "pool restarts (its socket stays if listen is unchanged)";
    case RELOAD_DAEMON:
        return "needs a droverd restart";
    }
    return "";
}

void keys_print_markdown(FILE *fp)
{
    const char *section_names[] = {"[daemon]", "[pool:NAME]"};

    for (int s = KEY_DAEMON; s <= KEY_POOL; s++) {
        fprintf(fp, "\n%s\n\n| key | default | on reload | meaning |\n|---|---|---|---|\n",
                section_names[s]);
        for (size_t i = 0; i < key_table_len; i++) {
            const struct key *k = &key_table[i];
            if (k->section != (enum key_section)s)
                continue;
            fprintf(fp, "| `%s` | %s%s%s | %s | %s |\n", k->name, k->default_value ? "`" : "",
                    k->default_value ? k->default_value : k->default_doc,
                    k->default_value ? "`" : "", reload_text(k->reload), k->help);
        }
    }
}

void keys_print_man(FILE *fp)
{
    const char *section_names[] = {"[daemon]", "[pool:NAME]"};

    for (int s = KEY_DAEMON; s <= KEY_POOL; s++) {
        fprintf(fp, ".SS %s\n", section_names[s]);
        for (size_t i = 0; i < key_table_len; i++) {
            const struct key *k = &key_table[i];
            if (k->section != (enum key_section)s)
                continue;
            fprintf(fp, ".TP\n.B %s\n%s\nDefault: %s. On reload: %s.\n", k->name, k->help,
                    k->default_value ? k->default_value : k->default_doc, reload_text(k->reload));
        }
    }
}
