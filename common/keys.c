/* SPDX-License-Identifier: ISC */
/*
 * The configuration key table, and one parser and one formatter per kind of
 * value (key_kinds[]): a row says what its value means (KT_DURATION, KT_CHOICE,
 * ...) and the kind decides how it is read and written. Parsers write into the
 * field of one struct and report problems into ctx->err; they know nothing
 * about files or lines (config.c adds those).
 */
#include "keys.h"

#include <arpa/inet.h>
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cglimits.h"
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
static const char *const log_stderr_choices[] = {"marked", "merged", NULL};
static const char *const mode_choices[] = {"message", "handoff", "shared", NULL};
static const char *const framing_choices[] = {"length", "line", NULL};
static const char *const work_fd_choices[] = {"3", "stdio", NULL};
static const char *const signal_target_choices[] = {"group", "main", NULL};
static const char *const notify_access_choices[] = {"main", "all", NULL};
static const char *const yes_no_choices[] = {"no", "yes", NULL};

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

/* A count's max of 0 means "whatever the field holds". */
static int parse_count_key(const struct key *k, struct key_ctx *ctx, const char *value, void *field)
{
    uint64_t v;

    if (parse_uint(value, k->min, k->max != 0 ? k->max : UINT_MAX, &v, ctx->err, ctx->errsz) != 0)
        return -1;
    *(unsigned *)field = (unsigned)v;
    return 0;
}

static int parse_count64_key(const struct key *k, struct key_ctx *ctx, const char *value,
                             void *field)
{
    uint64_t v;

    if (parse_uint(value, k->min, k->max != 0 ? k->max : UINT64_MAX, &v, ctx->err, ctx->errsz) != 0)
        return -1;
    *(uint64_t *)field = v;
    return 0;
}

static int parse_limit_size_key(const struct key *k, struct key_ctx *ctx, const char *value,
                                void *field)
{
    (void)k;
    return cg_parse_limit_size(value, field, ctx->err, ctx->errsz);
}

static int parse_limit_count_key(const struct key *k, struct key_ctx *ctx, const char *value,
                                 void *field)
{
    (void)k;
    return cg_parse_limit_count(value, field, ctx->err, ctx->errsz);
}

static int parse_cpu_quota_key(const struct key *k, struct key_ctx *ctx, const char *value,
                               void *field)
{
    (void)k;
    return cg_parse_cpu_quota(value, field, ctx->err, ctx->errsz);
}

static int parse_file_mode_key(const struct key *k, struct key_ctx *ctx, const char *value,
                               void *field)
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

static int parse_crash_limit_key(const struct key *k, struct key_ctx *ctx, const char *value,
                                 void *field)
{
    struct crash_limit *cl = field;

    if (parse_crash_limit(value, &cl->count, &cl->window_us, ctx->err, ctx->errsz) != 0) {
        if (strcmp(k->name, "crash_limit") != 0)
            snprintf(ctx->err, ctx->errsz,
                     "invalid %s '%s' (expected COUNT/WINDOW like 10/1s, or none)", k->name, value);
        return -1;
    }
    return 0;
}

static int parse_environment_key(const struct key *k, struct key_ctx *ctx, const char *value,
                                 void *field)
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
static int parse_globs_key(const struct key *k, struct key_ctx *ctx, const char *value, void *field)
{
    char ***dst = field, **words;

    (void)k;
    if (value[strspn(value, " \t")] == '\0')
        return parse_error(ctx->err, ctx->errsz, "needs a pattern, like conf.d/*.ini");
    if (argv_split(value, &words, ctx->err, ctx->errsz) != 0)
        return -1;
    for (size_t i = 0; words[i] != NULL; i++) {
        size_t len = strlen(words[i]);
        if (len > 0 && words[i][len - 1] == ',') {
            parse_error(ctx->err, ctx->errsz, "patterns are separated by spaces, not commas: '%s'",
                        words[i]);
            free_strv(words);
            return -1;
        }
    }
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
static int parse_http_listen_key(const struct key *k, struct key_ctx *ctx, const char *value,
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

/* Formatters: the canonical text of a value, which its parser reads back. */
typedef char *(*key_formatter)(const struct key *k, const void *field);

static char *format_string_key(const struct key *k, const void *field)
{
    const char *s = *(char *const *)field;

    (void)k;
    return xstrdup(s != NULL ? s : "");
}

static char *format_strv_key(const struct key *k, const void *field)
{
    char *const *v = *(char **const *)field;
    size_t len = 1;
    char *out;

    (void)k;
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

static char *format_choice_key(const struct key *k, const void *field)
{
    return xstrdup(k->choices[*(const int *)field]);
}

static char *format_duration_key(const struct key *k, const void *field)
{
    char buf[32];

    (void)k;
    format_duration(*(const uint64_t *)field, buf, sizeof(buf));
    return xstrdup(buf);
}

/* Sizes print in bytes: format_size() rounds, and the text must read back exactly. */
static char *format_u64_key(const struct key *k, const void *field)
{
    char *out;

    (void)k;
    xasprintf(&out, "%llu", (unsigned long long)*(const uint64_t *)field);
    return out;
}

static char *format_count_key(const struct key *k, const void *field)
{
    char *out;

    (void)k;
    xasprintf(&out, "%u", *(const unsigned *)field);
    return out;
}

static char *format_file_mode_key(const struct key *k, const void *field)
{
    char *out;

    (void)k;
    xasprintf(&out, "%04o", (unsigned)*(const mode_t *)field);
    return out;
}

static char *format_signal_key(const struct key *k, const void *field)
{
    (void)k;
    return xstrdup(signal_name(*(const int *)field));
}

static char *format_workers_key(const struct key *k, const void *field)
{
    const struct workers_spec *w = field;
    char *out;

    (void)k;
    if (!w->is_auto)
        xasprintf(&out, "%u", w->count);
    else if (w->multiplier == 1)
        out = xstrdup("auto");
    else
        xasprintf(&out, "auto*%u", w->multiplier);
    return out;
}

static char *format_crash_limit_key(const struct key *k, const void *field)
{
    const struct crash_limit *c = field;
    char window[32], *out;

    (void)k;
    if (c->count == 0)
        return xstrdup("none");
    format_duration(c->window_us, window, sizeof(window));
    xasprintf(&out, "%u/%s", c->count, window);
    return out;
}

static char *format_limit_key(const struct key *k, const void *field)
{
    char buf[32];

    cg_format_limit(*(const uint64_t *)field, k->kind == KT_LIMIT_SIZE, buf, sizeof(buf));
    return xstrdup(buf[0] != '\0' ? buf : "unset");
}

static char *format_cpu_quota_key(const struct key *k, const void *field)
{
    unsigned v = *(const unsigned *)field;
    char *out;

    (void)k;
    if (v == 0)
        return xstrdup("unset");
    xasprintf(&out, "%u%%", v);
    return out;
}

/* What each kind of value is: how it is stored, parsed and written back. */
static const struct key_kind_info {
    enum key_storage storage;
    int (*parse)(const struct key *k, struct key_ctx *ctx, const char *value, void *field);
    key_formatter format;
} key_kinds[] = {
    [KT_STRING] = {KS_STRING, parse_string_key, format_string_key},
    [KT_PATH] = {KS_STRING, parse_path_key, format_string_key},
    [KT_SOCKET_PATH] = {KS_STRING, parse_socket_path_key, format_string_key},
    [KT_COMMAND] = {KS_STRING, parse_command_key, format_string_key},
    [KT_LISTEN] = {KS_STRING, parse_listen_key, format_string_key},
    [KT_HTTP_LISTEN] = {KS_STRING, parse_http_listen_key, format_string_key},
    [KT_GLOBS] = {KS_STRV, parse_globs_key, format_strv_key},
    [KT_ENVIRONMENT] = {KS_STRV, parse_environment_key, format_strv_key},
    [KT_CHOICE] = {KS_INT, parse_choice_key, format_choice_key},
    [KT_DURATION] = {KS_U64, parse_duration_key, format_duration_key},
    [KT_SIZE] = {KS_U64, parse_size_key, format_u64_key},
    [KT_COUNT] = {KS_UINT, parse_count_key, format_count_key},
    [KT_COUNT64] = {KS_U64, parse_count64_key, format_u64_key},
    [KT_FILE_MODE] = {KS_MODE, parse_file_mode_key, format_file_mode_key},
    [KT_SIGNAL] = {KS_INT, parse_signal_key, format_signal_key},
    [KT_WORKERS] = {KS_WORKERS, parse_workers_key, format_workers_key},
    [KT_CRASH_LIMIT] = {KS_CRASH, parse_crash_limit_key, format_crash_limit_key},
    [KT_LIMIT_SIZE] = {KS_U64, parse_limit_size_key, format_limit_key},
    [KT_LIMIT_COUNT] = {KS_U64, parse_limit_count_key, format_limit_key},
    [KT_CPU_QUOTA] = {KS_UINT, parse_cpu_quota_key, format_cpu_quota_key},
};
static_assert(sizeof(key_kinds) / sizeof(key_kinds[0]) == KT__COUNT, "a kind lacks its entry");

/* clang-format off */
const struct key key_table[] = {
    /* [daemon] */
    {
        .section = KEY_DAEMON,
        .name = "control_socket",
        .kind = KT_SOCKET_PATH,
        .offset = D(control_socket),
        .default_doc = "/run/drover/drover.sock as root, else $XDG_RUNTIME_DIR/drover.sock",
        .reload = RELOAD_DAEMON,
        .help = "Unix socket the drover CLI talks to.",
    },
    {
        .section = KEY_DAEMON,
        .name = "control_mode",
        .kind = KT_FILE_MODE,
        .offset = D(control_mode),
        .default_value = "0660",
        .reload = RELOAD_DAEMON,
        .help = "File mode of the control socket.",
    },
    {
        .section = KEY_DAEMON,
        .name = "control_group",
        .kind = KT_STRING,
        .offset = D(control_group),
        .default_doc = "unset",
        .reload = RELOAD_DAEMON,
        .help = "Group that owns the control socket; its members may run every verb.",
    },
    {
        .section = KEY_DAEMON,
        .name = "log_dir",
        .kind = KT_PATH,
        .offset = D(log_dir),
        .default_doc = "/var/log/drover as root, else $XDG_STATE_HOME/drover",
        .reload = RELOAD_LIVE,
        .help = "Directory of the pools' captured output, POOL.log.",
    },
    {
        .section = KEY_DAEMON,
        .name = "log_level",
        .kind = KT_CHOICE,
        .offset = D(log_level),
        .default_value = "info",
        .reload = RELOAD_LIVE,
        .choices = log_level_choices,
        .help = "The daemon's own log level on stderr: error, warn, info, debug.",
    },
    {
        .section = KEY_DAEMON,
        .name = "include",
        .kind = KT_GLOBS,
        .offset = D(include),
        .default_doc = "unset",
        .reload = RELOAD_LIVE,
        .help = "Glob(s) of files with more [pool:NAME] sections, read in sorted order, "
                "separated by spaces. A directory that does not exist matches nothing; one "
                "that cannot be read, and a name without a wildcard that does not exist, "
                "are errors.",
    },
    {
        .section = KEY_DAEMON,
        .name = "shutdown_timeout",
        .kind = KT_DURATION,
        .offset = D(shutdown_timeout_us),
        .default_value = "30s",
        .reload = RELOAD_LIVE,
        .help = "Longest a shutdown waits for workers before SIGKILL to everything left.",
    },
    {
        .section = KEY_DAEMON,
        .name = "metrics_listen",
        .kind = KT_HTTP_LISTEN,
        .offset = D(metrics_listen),
        .default_doc = "unset",
        .reload = RELOAD_DAEMON,
        .help = "Serve Prometheus metrics over HTTP at /metrics, and /healthz and /readyz, on HOST:PORT (IP address, like 127.0.0.1:9101).",
    },
    {
        .section = KEY_DAEMON,
        .name = "shutdown_delay",
        .kind = KT_DURATION,
        .offset = D(shutdown_delay_us),
        .default_value = "0",
        .reload = RELOAD_LIVE,
        .help = "On SIGTERM, fail /readyz at once but keep serving this long before the shutdown begins (for load balancers and Kubernetes endpoints to notice).",
    },
    {
        .section = KEY_DAEMON,
        .name = "cgroup",
        .kind = KT_STRING,
        .offset = D(cgroup),
        .default_value = "auto",
        .reload = RELOAD_DAEMON,
        .help = "Containment: auto (droverd's cgroup v2 subtree when delegated: Delegate=yes, or a container's root), off, or the absolute path of a writable cgroup v2 directory.",
    },
    {
        .section = KEY_DAEMON,
        .name = "buffer_limit",
        .kind = KT_SIZE,
        .offset = D(buffer_limit),
        .default_value = "256M",
        .reload = RELOAD_LIVE,
        .help = "message mode: request and reply bytes all clients together may hold; past it droverd stops reading the clients holding most (0 = no limit).",
    },

    /* [pool:NAME] */
    {
        .section = KEY_POOL,
        .name = "command",
        .kind = KT_COMMAND,
        .offset = P(command),
        .default_doc = "required",
        .reload = RELOAD_RESTART,
        .help = "Program and arguments, split like a shell would but run directly (no /bin/sh).",
    },
    {
        .section = KEY_POOL,
        .name = "workers",
        .kind = KT_WORKERS,
        .offset = P(workers),
        .default_value = "auto",
        .reload = RELOAD_SCALE,
        .help = "Worker count: N, auto (one per CPU droverd may use: affinity mask, cpuset, CPU quota), or auto*K.",
    },
    {
        .section = KEY_POOL,
        .name = "cpu_affinity",
        .kind = KT_CHOICE,
        .offset = P(cpu_affinity),
        .default_value = "none",
        .reload = RELOAD_RESTART,
        .choices = affinity_choices,
        .help = "none, or core: worker i is pinned to usable CPU i mod ncpu.",
    },
    {
        .section = KEY_POOL,
        .name = "directory",
        .kind = KT_PATH,
        .offset = P(directory),
        .default_doc = "the directory of the file that defines the pool",
        .reload = RELOAD_RESTART,
        .help = "Working directory of the workers.",
    },
    {
        .section = KEY_POOL,
        .name = "user",
        .kind = KT_STRING,
        .offset = P(user),
        .default_doc = "unset",
        .reload = RELOAD_RESTART,
        .help = "Run workers as this user (droverd must be root).",
    },
    {
        .section = KEY_POOL,
        .name = "group",
        .kind = KT_STRING,
        .offset = P(group),
        .default_doc = "the user's group",
        .reload = RELOAD_RESTART,
        .help = "Run workers with this primary group.",
    },
    {
        .section = KEY_POOL,
        .name = "environment",
        .kind = KT_ENVIRONMENT,
        .offset = P(environment),
        .default_doc = "unset",
        .reload = RELOAD_RESTART,
        .help = "Extra variables: NAME=VALUE, NAME2=\"quoted, value\".",
    },
    {
        .section = KEY_POOL,
        .name = "restart",
        .kind = KT_CHOICE,
        .offset = P(restart),
        .default_value = "always",
        .reload = RELOAD_LIVE,
        .choices = restart_choices,
        .help = "always, on-failure (not after exit 0), or never.",
    },
    {
        .section = KEY_POOL,
        .name = "restart_delay",
        .kind = KT_DURATION,
        .offset = P(restart_delay_us),
        .default_value = "100ms",
        .reload = RELOAD_LIVE,
        .help = "Delay after the second quick crash in a row; doubles with each further one (0: doubling from 1ms).",
    },
    {
        .section = KEY_POOL,
        .name = "restart_delay_max",
        .kind = KT_DURATION,
        .offset = P(restart_delay_max_us),
        .default_value = "30s",
        .reload = RELOAD_LIVE,
        .help = "Cap of the backoff; a worker that ran this long is healthy and restarts at once.",
    },
    {
        .section = KEY_POOL,
        .name = "crash_limit",
        .kind = KT_CRASH_LIMIT,
        .offset = P(crash_limit),
        .default_value = "10/60s",
        .reload = RELOAD_LIVE,
        .help = "More crashes than COUNT within WINDOW make the slot fatal; none disables.",
    },
    {
        .section = KEY_POOL,
        .name = "crash_restart_rate",
        .kind = KT_CRASH_LIMIT,
        .offset = P(crash_restart_rate),
        .default_value = "10/1s",
        .reload = RELOAD_LIVE,
        .help = "Restarts of crash-looping workers (after a failed start, or from a slot's "
                "second quick crash in a row), across the pool: COUNT at once, then COUNT per "
                "WINDOW evenly paced, oldest first; none disables. A crash after a healthy run, a "
                "first start and an operator's start never wait.",
    },
    {
        .section = KEY_POOL,
        .name = "on_fatal",
        .kind = KT_CHOICE,
        .offset = P(on_fatal),
        .default_value = "stay",
        .reload = RELOAD_LIVE,
        .choices = on_fatal_choices,
        .help = "stay, or exit: a fatal slot shuts droverd down with status 3.",
    },
    {
        .section = KEY_POOL,
        .name = "ready",
        .kind = KT_CHOICE,
        .offset = P(ready),
        .default_value = "exec",
        .reload = RELOAD_RESTART,
        .choices = ready_choices,
        .help = "exec (running once exec'd) or notify (running after READY=1 on NOTIFY_SOCKET).",
    },
    {
        .section = KEY_POOL,
        .name = "start_timeout",
        .kind = KT_DURATION,
        .offset = P(start_timeout_us),
        .default_value = "10s",
        .reload = RELOAD_LIVE,
        .min = 1000,
        .help = "With ready = notify: no READY=1 within it is a failed start.",
    },
    {
        .section = KEY_POOL,
        .name = "start_grace",
        .kind = KT_DURATION,
        .offset = P(start_grace_us),
        .default_value = "1s",
        .reload = RELOAD_LIVE,
        .help = "With ready = exec: a worker counts as started once it has stayed up this long "
                "(start, restart and rolling reloads wait for it; an exit before is a failed "
                "start); 0 = at exec.",
    },
    {
        .section = KEY_POOL,
        .name = "watchdog",
        .kind = KT_DURATION,
        .offset = P(watchdog_us),
        .default_value = "0",
        .reload = RELOAD_LIVE,
        .help = "With ready = notify: no WATCHDOG=1 within it kills and restarts the worker; 0 = off.",
    },
    {
        .section = KEY_POOL,
        .name = "notify_access",
        .kind = KT_CHOICE,
        .offset = P(notify_access),
        .default_value = "main",
        .reload = RELOAD_LIVE,
        .choices = notify_access_choices,
        .help = "Whose sd_notify messages count: main (the worker's own pid) or all (any process in its process group).",
    },
    {
        .section = KEY_POOL,
        .name = "check_command",
        .kind = KT_COMMAND,
        .offset = P(check_command),
        .default_doc = "unset",
        .reload = RELOAD_LIVE,
        .help = "Liveness check run for each running worker every check_interval (DROVER_POOL, DROVER_SLOT, DROVER_PID set); non-zero exit or timeout is a failure.",
    },
    {
        .section = KEY_POOL,
        .name = "check_interval",
        .kind = KT_DURATION,
        .offset = P(check_interval_us),
        .default_value = "10s",
        .reload = RELOAD_LIVE,
        .min = 10000,
        .help = "Time from a worker becoming running, or from the end of its last check, to its next check.",
    },
    {
        .section = KEY_POOL,
        .name = "check_timeout",
        .kind = KT_DURATION,
        .offset = P(check_timeout_us),
        .default_value = "5s",
        .reload = RELOAD_LIVE,
        .min = 1000,
        .help = "A check still running after this is killed (its process group) and counts as failed.",
    },
    {
        .section = KEY_POOL,
        .name = "check_failures",
        .kind = KT_COUNT,
        .offset = P(check_failures),
        .default_value = "3",
        .reload = RELOAD_LIVE,
        .min = 1,
        .max = 1000,
        .help = "Failed checks in a row that restart the worker (stop_signal, then SIGKILL; no new requests meanwhile), counted as a crash.",
    },
    {
        .section = KEY_POOL,
        .name = "stop_signal",
        .kind = KT_SIGNAL,
        .offset = P(stop_signal),
        .default_value = "TERM",
        .reload = RELOAD_LIVE,
        .help = "Signal sent to the worker's process group to stop it (TERM, SIGTERM, 15, RTMIN+N, RTMAX-N), just after a CONT so a suspended worker gets it (no CONT with STOP, TSTP, TTIN or TTOU).",
    },
    {
        .section = KEY_POOL,
        .name = "stop_timeout",
        .kind = KT_DURATION,
        .offset = P(stop_timeout_us),
        .default_value = "10s",
        .reload = RELOAD_LIVE,
        .help = "Then SIGKILL to the process group.",
    },
    {
        .section = KEY_POOL,
        .name = "signal_target",
        .kind = KT_CHOICE,
        .offset = P(signal_target),
        .default_value = "group",
        .reload = RELOAD_LIVE,
        .choices = signal_target_choices,
        .help = "Where `drover signal` sends by default: group (the worker's process group) or main (the worker process only).",
    },
    {
        .section = KEY_POOL,
        .name = "stdout",
        .kind = KT_CHOICE,
        .offset = P(stdout_mode),
        .default_value = "log",
        .reload = RELOAD_RESTART,
        .choices = stdout_choices,
        .help = "log ($log_dir/POOL.log), inherit (droverd's own stdout and stderr), or null.",
    },
    {
        .section = KEY_POOL,
        .name = "log_max_size",
        .kind = KT_SIZE,
        .offset = P(log_max_size),
        .default_value = "10M",
        .reload = RELOAD_LIVE,
        .min = 4096,
        .help = "Rotate POOL.log when it would grow past this size.",
    },
    {
        .section = KEY_POOL,
        .name = "log_keep",
        .kind = KT_COUNT,
        .offset = P(log_keep),
        .default_value = "5",
        .reload = RELOAD_LIVE,
        .max = 100,
        .help = "Rotated files kept: POOL.log.1 ... POOL.log.N.",
    },
    {
        .section = KEY_POOL,
        .name = "log_stderr",
        .kind = KT_CHOICE,
        .offset = P(log_stderr),
        .default_value = "marked",
        .reload = RELOAD_RESTART,
        .choices = log_stderr_choices,
        .help = "With stdout = log: marked (stderr has a pipe of its own; its lines read [SLOT:stderr] in POOL.log) or merged (one pipe for both, every line [SLOT], two fds fewer per worker in droverd).",
    },
    {
        .section = KEY_POOL,
        .name = "listen",
        .kind = KT_LISTEN,
        .offset = P(listen),
        .default_doc = "unset",
        .reload = RELOAD_RECREATE,
        .help = "Work socket: a Unix socket path, or tcp:HOST:PORT. Unset: supervised only.",
    },
    {
        .section = KEY_POOL,
        .name = "socket_mode",
        .kind = KT_FILE_MODE,
        .offset = P(socket_mode),
        .default_value = "0660",
        .reload = RELOAD_RECREATE,
        .help = "File mode of a Unix work socket.",
    },
    {
        .section = KEY_POOL,
        .name = "socket_group",
        .kind = KT_STRING,
        .offset = P(socket_group),
        .default_doc = "unset",
        .reload = RELOAD_RECREATE,
        .help = "Group owning a Unix work socket; with socket_mode 0660 its members may connect.",
    },
    {
        .section = KEY_POOL,
        .name = "tls_cert",
        .kind = KT_PATH,
        .offset = P(tls_cert),
        .default_doc = "unset",
        .reload = RELOAD_LIVE,
        .help = "tcp: listen, message mode: speak TLS with this certificate chain (PEM); re-read on reload.",
    },
    {
        .section = KEY_POOL,
        .name = "tls_key",
        .kind = KT_PATH,
        .offset = P(tls_key),
        .default_doc = "unset",
        .reload = RELOAD_LIVE,
        .help = "The private key (PEM) of tls_cert; must match it.",
    },
    {
        .section = KEY_POOL,
        .name = "tls_client_ca",
        .kind = KT_PATH,
        .offset = P(tls_client_ca),
        .default_doc = "unset",
        .reload = RELOAD_LIVE,
        .help = "With tls_cert: only clients presenting a certificate signed by this CA (PEM) may send work.",
    },
    {
        .section = KEY_POOL,
        .name = "tls_handshake_timeout",
        .kind = KT_DURATION,
        .offset = P(tls_handshake_timeout_us),
        .default_value = "10s",
        .reload = RELOAD_LIVE,
        .min = 1000,
        .help = "A TLS client that has not finished its handshake by then is disconnected (counted).",
    },
    {
        .section = KEY_POOL,
        .name = "insecure_tcp",
        .kind = KT_CHOICE,
        .offset = P(insecure_tcp),
        .default_value = "no",
        .reload = RELOAD_LIVE,
        .choices = yes_no_choices,
        .help = "yes: allow a tcp: listen on a non-loopback address without TLS (anyone who can reach it may send work).",
    },
    {
        .section = KEY_POOL,
        .name = "mode",
        .kind = KT_CHOICE,
        .offset = P(mode),
        .default_value = "message",
        .reload = RELOAD_RECREATE,
        .choices = mode_choices,
        .help = "message (daemon routes requests), handoff (passes connections), shared (workers accept).",
    },
    {
        .section = KEY_POOL,
        .name = "framing",
        .kind = KT_CHOICE,
        .offset = P(framing),
        .default_value = "length",
        .reload = RELOAD_RECREATE,
        .choices = framing_choices,
        .help = "message mode: length (4-byte big-endian length + body) or line.",
    },
    {
        .section = KEY_POOL,
        .name = "work_fd",
        .kind = KT_CHOICE,
        .offset = P(work_fd),
        .default_value = "3",
        .reload = RELOAD_RESTART,
        .choices = work_fd_choices,
        .help = "message mode: requests on fd 3, or on stdin/stdout (stdio, needs framing = line).",
    },
    {
        .section = KEY_POOL,
        .name = "max_queue",
        .kind = KT_COUNT,
        .offset = P(max_queue),
        .default_value = "1024",
        .reload = RELOAD_LIVE,
        .max = 1000000,
        .help = "message mode: requests waiting for a worker (not those in its window) beyond this are answered BUSY at once.",
    },
    {
        .section = KEY_POOL,
        .name = "request_timeout",
        .kind = KT_DURATION,
        .offset = P(request_timeout_us),
        .default_value = "30s",
        .reload = RELOAD_LIVE,
        .min = 1000,
        .help = "A worker that does not answer in time is killed and the request retried.",
    },
    {
        .section = KEY_POOL,
        .name = "max_attempts",
        .kind = KT_COUNT,
        .offset = P(max_attempts),
        .default_value = "2",
        .reload = RELOAD_LIVE,
        .min = 1,
        .max = 100,
        .help = "Deliveries of one request before the client gets an error.",
    },
    {
        .section = KEY_POOL,
        .name = "max_requests",
        .kind = KT_COUNT64,
        .offset = P(max_requests),
        .default_value = "0",
        .reload = RELOAD_LIVE,
        .help = "Recycle a worker gracefully after N requests (or connections); 0 = never.",
    },
    {
        .section = KEY_POOL,
        .name = "memory_recycle",
        .kind = KT_SIZE,
        .offset = P(memory_recycle),
        .default_value = "0",
        .reload = RELOAD_LIVE,
        .help = "Recycle a worker gracefully once its memory is over SIZE (its cgroup's memory.current with containment, else its RSS): no new requests, it finishes what it holds and is replaced; a pool without routing restarts it with stop_signal. 0 = never.",
    },
    {
        .section = KEY_POOL,
        .name = "worker_inflight",
        .kind = KT_COUNT,
        .offset = P(worker_inflight),
        .default_value = "1",
        .reload = RELOAD_LIVE,
        .min = 1,
        .max = 1024,
        .help = "message: requests pipelined to one worker (answered in order), unset = adaptive (1, up to 16 while requests wait, never behind a request out 1 ms); handoff: connections a worker holds at once.",
    },
    {
        .section = KEY_POOL,
        .name = "max_frame",
        .kind = KT_SIZE,
        .offset = P(max_frame),
        .default_value = "1M",
        .reload = RELOAD_LIVE,
        .min = 16,
        .max = 256 << 20,
        .help = "message mode: largest request or reply body. A larger request is answered `TOOBIG` "
                "after the client's earlier requests, then its connection closes; a larger reply is "
                "answered `FAILED` (not sent to another worker) and its worker killed.",
    },
    {
        .section = KEY_POOL,
        .name = "frame_timeout",
        .kind = KT_DURATION,
        .offset = P(frame_timeout_us),
        .default_value = "60s",
        .reload = RELOAD_LIVE,
        .min = 1000,
        .help = "message mode: a client that began a request and has not finished it within this, while droverd reads it, is disconnected (a bad frame).",
    },
    {
        .section = KEY_POOL,
        .name = "queue_timeout",
        .kind = KT_DURATION,
        .offset = P(queue_timeout_us),
        .default_value = "30s",
        .reload = RELOAD_LIVE,
        .help = "message mode: a request no worker has taken within it is answered TIMEOUT (0 = wait forever).",
    },
    {
        .section = KEY_POOL,
        .name = "client_buffer",
        .kind = KT_SIZE,
        .offset = P(client_buffer),
        .default_value = "4M",
        .reload = RELOAD_LIVE,
        .min = 4096,
        .help = "message mode: request and reply bytes one connection may hold before droverd stops reading it (one request always fits).",
    },
    {
        .section = KEY_POOL,
        .name = "pool_buffer",
        .kind = KT_SIZE,
        .offset = P(pool_buffer),
        .default_value = "64M",
        .reload = RELOAD_LIVE,
        .help = "message mode: request and reply bytes the pool's connections may hold together; past it the ones holding most are not read (0 = no limit).",
    },
    {
        .section = KEY_POOL,
        .name = "memory_max",
        .kind = KT_LIMIT_SIZE,
        .offset = P(limits.memory_max),
        .default_doc = "unset",
        .reload = RELOAD_LIVE,
        .help = "Hard memory limit of each worker's cgroup (memory.max; 512M, 1G or max); past it the OOM killer ends the whole worker. Needs containment and the memory controller.",
    },
    {
        .section = KEY_POOL,
        .name = "memory_high",
        .kind = KT_LIMIT_SIZE,
        .offset = P(limits.memory_high),
        .default_doc = "unset",
        .reload = RELOAD_LIVE,
        .help = "Memory above which each worker is throttled and reclaimed hard (memory.high; a size or max). Needs containment and the memory controller.",
    },
    {
        .section = KEY_POOL,
        .name = "pids_max",
        .kind = KT_LIMIT_COUNT,
        .offset = P(limits.pids_max),
        .default_doc = "unset",
        .reload = RELOAD_LIVE,
        .help = "Most processes and threads in each worker's cgroup (pids.max; a count or max); fork fails past it. Needs containment and the pids controller.",
    },
    {
        .section = KEY_POOL,
        .name = "cpu_quota",
        .kind = KT_CPU_QUOTA,
        .offset = P(limits.cpu_quota),
        .default_doc = "unset",
        .reload = RELOAD_LIVE,
        .help = "CPU time each worker may use, in percent of one CPU (cpu.max; 50%, 150%). Needs containment and the cpu controller.",
    },
    {
        .section = KEY_POOL,
        .name = "cpu_weight",
        .kind = KT_COUNT,
        .offset = P(limits.cpu_weight),
        .default_doc = "unset (100)",
        .reload = RELOAD_LIVE,
        .min = 1,
        .max = 10000,
        .help = "Each worker's share of contended CPU against other cgroups (cpu.weight; 1 to 10000, the kernel's default is 100). Needs containment and the cpu controller.",
    },
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

enum key_storage key_storage(const struct key *k)
{
    return key_kinds[k->kind].storage;
}

int key_value_parse(const struct key *k, struct key_ctx *ctx, const char *value, void *base)
{
    return key_kinds[k->kind].parse(k, ctx, value, key_field(k, base));
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

    switch (key_storage(k)) {
    case KS_STRING: {
        const char *sa = *(char *const *)fa, *sb = *(char *const *)fb;
        if (sa == NULL || sb == NULL)
            return sa == sb;
        return strcmp(sa, sb) == 0;
    }
    case KS_STRV:
        return strv_equal(*(char **const *)fa, *(char **const *)fb);
    case KS_U64:
        return *(const uint64_t *)fa == *(const uint64_t *)fb;
    case KS_UINT:
        return *(const unsigned *)fa == *(const unsigned *)fb;
    case KS_INT:
        return *(const int *)fa == *(const int *)fb;
    case KS_MODE:
        return *(const mode_t *)fa == *(const mode_t *)fb;
    case KS_WORKERS: {
        const struct workers_spec *wa = fa, *wb = fb;
        return wa->is_auto == wb->is_auto && wa->count == wb->count &&
               wa->multiplier == wb->multiplier;
    }
    case KS_CRASH: {
        const struct crash_limit *ca = fa, *cb = fb;
        return ca->count == cb->count && ca->window_us == cb->window_us;
    }
    }
    return 0;
}

void key_value_free(const struct key *k, void *base)
{
    void *f = key_field(k, base);

    if (key_storage(k) == KS_STRING) {
        free(*(char **)f);
        *(char **)f = NULL;
    } else if (key_storage(k) == KS_STRV) {
        free_strv(*(char ***)f);
        *(char ***)f = NULL;
    }
}

void key_value_copy(const struct key *k, void *dst_base, const void *src_base)
{
    void *d = key_field(k, dst_base);
    const void *s = key_field_const(k, src_base);

    switch (key_storage(k)) {
    case KS_STRING: {
        const char *src = *(char *const *)s;
        *(char **)d = src != NULL ? xstrdup(src) : NULL;
        break;
    }
    case KS_STRV:
        *(char ***)d = xstrvdup(*(char **const *)s);
        break;
    case KS_U64:
        *(uint64_t *)d = *(const uint64_t *)s;
        break;
    case KS_UINT:
        *(unsigned *)d = *(const unsigned *)s;
        break;
    case KS_INT:
        *(int *)d = *(const int *)s;
        break;
    case KS_MODE:
        *(mode_t *)d = *(const mode_t *)s;
        break;
    case KS_WORKERS:
        *(struct workers_spec *)d = *(const struct workers_spec *)s;
        break;
    case KS_CRASH:
        *(struct crash_limit *)d = *(const struct crash_limit *)s;
        break;
    }
}

char *key_value_format(const struct key *k, const void *base)
{
    return key_kinds[k->kind].format(k, key_field_const(k, base));
}

int keys_apply_defaults(enum key_section section, void *base, const struct config_env *env,
                        char *err, size_t errsz)
{
    struct key_ctx ctx = {.file = "<defaults>", .env = env, .err = err, .errsz = errsz};

    for (size_t i = 0; i < key_table_len; i++) {
        const struct key *k = &key_table[i];
        if (k->section != section || k->default_value == NULL)
            continue;
        if (key_value_parse(k, &ctx, k->default_value, base) != 0)
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
