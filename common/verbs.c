/* SPDX-License-Identifier: ISC */
#include "verbs.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

/* clang-format off */
const struct verb verb_table[VERB__COUNT] = {
    {VERB_STATUS, "status", "[POOL[:SLOT]] [--pools] [--wide] [--json]", 0, 1,
     VERB_READONLY | VERB_JSON | VERB_WIDTH,
     "pools, then every worker: pid, state, uptime, restarts, last exit, CPU, RSS, requests"},
    {VERB_START, "start", "POOL[:SLOT]|all ... [--no-wait] [--json]", 1, VERB_MAX_POS, VERB_WAIT | VERB_JSON,
     "start stopped or fatal workers and wait until they count as started (start_grace)"},
    {VERB_STOP, "stop", "POOL[:SLOT]|all ... [--no-wait] [--json]", 1, VERB_MAX_POS, VERB_WAIT | VERB_JSON,
     "stop workers (stop_signal, then SIGKILL after stop_timeout) and wait"},
    {VERB_RESTART, "restart", "POOL[:SLOT]|all ... [--no-wait] [--json]", 1, VERB_MAX_POS, VERB_WAIT | VERB_JSON,
     "stop and start workers and wait until they count as started again"},
    {VERB_RELOAD, "reload", "[--json] [--no-wait]", 0, 0, VERB_JSON | VERB_WAIT,
     "re-read the configuration, apply only what changed, wait for rolling restarts to start"},
    {VERB_SCALE, "scale", "POOL N|+N|-N|auto|auto*K [--json]", 2, 2, VERB_JSON,
     "change a pool's worker count live: to N, by +N or -N, or to one per CPU"},
    {VERB_SIGNAL, "signal", "POOL[:SLOT]|all SIGNAL [--main] [--json]", 2, 2, VERB_SIG_TO | VERB_JSON,
     "send a signal to process groups, or --main: worker processes only (--group: groups)"},
    {VERB_LOGS, "logs", "POOL[:SLOT]|all [-n N] [-f] [--json]", 1, 1, VERB_READONLY | VERB_LINES | VERB_FOLLOW | VERB_JSON,
     "print a pool's captured output (all: every pool's, merged; stderr lines read [SLOT:stderr]); -f follows it"},
    {VERB_CALL, "call", "POOL [DATA] [--timeout DURATION] [--tls-* ...] [--json]", 1, 2,
     VERB_READONLY | VERB_TIMEOUT | VERB_TLS | VERB_JSON,
     "send one request (DATA or stdin) to a routed pool and print the reply"},
    {VERB_CHECK, "check", "[-c FILE] [--json]", 0, 0, VERB_LOCAL | VERB_CONFIG | VERB_JSON,
     "validate a configuration file without a daemon"},
    {VERB_METRICS, "metrics", "", 0, 0, VERB_READONLY,
     "print metrics in the Prometheus text format"},
    {VERB_SHUTDOWN, "shutdown", "[--no-wait] [--json]", 0, 0, VERB_WAIT | VERB_JSON,
     "stop every worker gracefully and exit the daemon"},
    {VERB_HEALTH, "health", "[POOL] [--json]", 0, 1, VERB_READONLY | VERB_JSON,
     "exit 0 if every wanted worker runs, none is fatal and no rollout halted; else say why"},
    {VERB_EVENTS, "events", "[POOL] [-f] [--json]", 0, 1, VERB_READONLY | VERB_JSON | VERB_FOLLOW,
     "recent state changes of workers (exits, backoff, fatal, reloads); -f follows them"},
    {VERB_TOP, "top", "[POOL] [-n COUNT] [-d SECONDS]", 0, VERB_MAX_POS, VERB_READONLY | VERB_LOCAL | VERB_OWN_OPTS,
     "live view of pools and workers; keys c/m/r/s sort, / filter by pool, q quit"},
    {VERB_VERSION, "version", "[--json]", 0, 0, VERB_READONLY | VERB_JSON,
     "print drover's and the running droverd's versions and the control protocol"},
};
/* clang-format on */

const struct verb *verb_find(const char *name)
{
    for (size_t i = 0; i < VERB__COUNT; i++)
        if (strcmp(verb_table[i].name, name) == 0)
            return &verb_table[i];
    return NULL;
}

int verb_parse(int argc, char *const argv[], struct verb_args *out, char *err, size_t errsz)
{
    const struct verb *v;
    bool options_done = false;

    memset(out, 0, sizeof(*out));
    out->lines = 20;
    if (argc < 1)
        return parse_error(err, errsz, "no verb given");
    v = verb_find(argv[0]);
    if (v == NULL) {
        /* Never suggest a verb that changes something (a typo must not lead to a stop). */
        const char *names[VERB__COUNT + 1];
        size_t n = 0;
        for (size_t i = 0; i < VERB__COUNT; i++)
            if (verb_table[i].flags & VERB_READONLY)
                names[n++] = verb_table[i].name;
        names[n] = NULL;
        const char *s = suggest_nearest(argv[0], names);
        if (s != NULL)
            return parse_error(err, errsz, "unknown verb '%s' (did you mean '%s'?)", argv[0], s);
        char list[512] = "";
        for (size_t i = 0; i < VERB__COUNT; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                     verb_table[i].name);
        return parse_error(err, errsz, "unknown verb '%s' (verbs: %s)", argv[0], list);
    }
    out->verb = v;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        /* "-1" is a number (scale POOL -1), not an option. */
        if (options_done || a[0] != '-' || a[1] == '\0' || (v->flags & VERB_OWN_OPTS) ||
            (a[1] >= '0' && a[1] <= '9')) {
            if (out->npos >= v->max_args)
                return parse_error(err, errsz, "too many arguments; usage: drover %s%s%s", v->name,
                                   v->usage[0] ? " " : "", v->usage);
            out->pos[out->npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
        } else if (strcmp(a, "--json") == 0 && (v->flags & VERB_JSON)) {
            out->json = true;
        } else if (strcmp(a, "--no-wait") == 0 && (v->flags & VERB_WAIT)) {
            out->no_wait = true;
        } else if ((strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) &&
                   (v->flags & VERB_FOLLOW)) {
            out->follow = true;
        } else if ((strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0 ||
                    (strncmp(a, "-n", 2) == 0 && a[2] != '\0')) &&
                   (v->flags & VERB_LINES)) {
            const char *val =
                a[2] != '\0' && a[1] == 'n' ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            uint64_t n;
            if (val == NULL || parse_uint(val, 0, 1000000, &n, NULL, 0) != 0)
                return parse_error(err, errsz, "-n needs a line count (0 to 1000000)");
            out->lines = (unsigned)n;
        } else if ((strcmp(a, "--main") == 0 || strcmp(a, "--group") == 0) &&
                   (v->flags & VERB_SIG_TO)) {
            if (strcmp(a, "--main") == 0 ? out->group : out->main_only)
                return parse_error(err, errsz, "--main and --group exclude each other");
            out->main_only = strcmp(a, "--main") == 0;
            out->group = !out->main_only;
        } else if ((strcmp(a, "--timeout") == 0 || strncmp(a, "--timeout=", 10) == 0) &&
                   (v->flags & VERB_TIMEOUT)) {
            const char *val = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
            char why[PARSE_ERR_MAX];
            if (val == NULL)
                return parse_error(err, errsz, "--timeout needs a duration, like 5s or 500ms");
            if (parse_duration(val, &out->timeout_us, why, sizeof(why)) != 0)
                return parse_error(err, errsz, "--timeout: %s", why);
        } else if (strncmp(a, "--tls", 5) == 0 && (v->flags & VERB_TLS)) {
            static const char *const names[] = {"--tls-ca", "--tls-cert", "--tls-key",
                                                "--tls-name"};
            const char **dest[] = {&out->tls_ca, &out->tls_cert, &out->tls_key, &out->tls_name};
            size_t k = 0;
            out->tls = true;
            if (strcmp(a, "--tls") == 0)
                continue;
            while (k < 4 && strcmp(a, names[k]) != 0)
                k++;
            if (k == 4)
                return parse_error(err, errsz, "unknown option '%s' for %s", a, v->name);
            if (i + 1 >= argc)
                return parse_error(err, errsz, "%s needs a %s", a, k == 3 ? "name" : "file name");
            *dest[k] = argv[++i];
        } else if (strcmp(a, "--wide") == 0 && (v->flags & VERB_WIDTH)) {
            out->wide = true;
        } else if (strcmp(a, "--pools") == 0 && (v->flags & VERB_WIDTH)) {
            out->pools_only = true;
        } else if ((strcmp(a, "--width") == 0 || strncmp(a, "--width=", 8) == 0) &&
                   (v->flags & VERB_WIDTH)) {
            const char *val = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            uint64_t n;
            if (val == NULL || parse_uint(val, 20, 100000, &n, NULL, 0) != 0)
                return parse_error(err, errsz, "--width needs a column count (20 to 100000)");
            out->width = (unsigned)n;
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) &&
                   (v->flags & VERB_CONFIG)) {
            if (i + 1 >= argc)
                return parse_error(err, errsz, "%s needs a file name", a);
            out->config_file = argv[++i];
        } else {
            return parse_error(err, errsz, "unknown option '%s' for %s; usage: drover %s%s%s", a,
                               v->name, v->name, v->usage[0] ? " " : "", v->usage);
        }
    }
    if (out->npos < v->min_args)
        return parse_error(err, errsz, "missing arguments; usage: drover %s%s%s", v->name,
                           v->usage[0] ? " " : "", v->usage);
    return 0;
}

int verb_parse_target(const char *s, char *pool, size_t poolsz, long *slot, char *err, size_t errsz)
{
    const char *colon = strchr(s, ':');
    size_t len = colon != NULL ? (size_t)(colon - s) : strlen(s);
    uint64_t n;

    *slot = -1;
    if (strcmp(s, "all") == 0) {
        pool[0] = '\0';
        return 0;
    }
    if (len == 0 || len >= poolsz)
        return parse_error(err, errsz, "invalid target '%s' (expected POOL, POOL:SLOT or all)", s);
    memcpy(pool, s, len);
    pool[len] = '\0';
    if (colon != NULL) {
        if (parse_uint(colon + 1, 0, 1000000, &n, NULL, 0) != 0)
            return parse_error(err, errsz, "invalid slot in '%s' (expected a number)", s);
        *slot = (long)n;
    }
    return 0;
}

void verbs_print_help(FILE *fp)
{
    fprintf(fp, "verbs:\n");
    for (size_t i = 0; i < VERB__COUNT; i++) {
        const struct verb *v = &verb_table[i];
        char line[128];
        snprintf(line, sizeof(line), "%s %s", v->name, v->usage);
        fprintf(fp, "  %-40s %s\n", line, v->summary);
    }
}
