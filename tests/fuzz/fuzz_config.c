/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for common/config.c and common/keys.c: the whole input is a
 * drover.ini, loaded by config_load_string() with includes and path checks
 * off, on two machines (root with 4 CPUs; an ordinary user with 2048).
 *
 * The loader must answer with a config or with errors, never both and never
 * neither; every error names the file and a line that exists; the formatted
 * list has one line per error. A config it returns must hold together:
 * every pool has a command split into argv, its worker count resolved, and
 * every key's value, formatted and parsed again by the same key, comes back
 * equal. Diffing the config with itself, or with a second load of the same
 * text, finds no change. An input with a NUL byte is also loaded from a
 * file, since only config_load() can see past it.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "confdiff.h"
#include "config.h"
#include "fuzz.h"
#include "keys.h"
#include "xmalloc.h"

/* Absolute, so relative paths in the input resolve the same everywhere. */
#define CONFIG_NAME "/fuzz/drover.ini"
#define CONFIG_DIR  "/fuzz"

static unsigned count_lines(const char *text, size_t len)
{
    unsigned n = 1;

    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    return n;
}

/* Errors: named, located, one line each when formatted. */
static void check_errors(const struct config_errors *errs, const char *name, unsigned nlines)
{
    char *text = config_errors_format(errs);
    size_t newlines = 0;

    for (size_t i = 0; i < errs->n; i++) {
        const struct config_error *e = &errs->v[i];
        FUZZ_CHECK(e->file != NULL && strcmp(e->file, name) == 0);
        FUZZ_CHECK(e->line <= nlines);
        FUZZ_CHECK(e->message != NULL && e->message[0] != '\0');
        FUZZ_CHECK(strchr(e->message, '\n') == NULL);
    }
    for (const char *p = text; *p != '\0'; p++)
        newlines += *p == '\n';
    FUZZ_CHECK(newlines == errs->n);
    FUZZ_CHECK(errs->n == 0 || strncmp(text, name, strlen(name)) == 0);
    free(text);
}

/*
 * Every key of one section: its value formatted, then parsed by the same
 * key, gives the same value; copied, it compares equal.
 */
static void check_keys(enum key_section section, const void *base, const struct key_origin *origins,
                       const struct config_env *env)
{
    size_t size = section == KEY_POOL ? sizeof(struct pool_config) : sizeof(struct daemon_config);
    char err[PARSE_ERR_MAX];
    struct key_ctx ctx = {
        .file = CONFIG_NAME, .base_dir = CONFIG_DIR, .env = env, .err = err, .errsz = sizeof(err)};

    for (size_t i = 0; i < key_table_len; i++) {
        const struct key *k = &key_table[i];
        if (k->section != section)
            continue;
        const struct key_origin *o = &origins[key_section_index(k)];
        char *text = key_value_format(k, base);
        void *copy = xcalloc(1, size);

        key_value_copy(k, copy, base);
        FUZZ_CHECK(key_value_equal(k, base, copy));
        key_value_free(k, copy);
        memset(copy, 0, size);

        /*
         * Only what a parser produced can be parsed back: values from the file
         * or a written default, not computed ones. Lists are formatted for
         * people ("a, b"), not for the parser.
         */
        bool parsed = o->line != 0 || k->default_value != NULL;
        bool skip =
            !parsed || key_storage(k) == KS_STRV ||
            (key_storage(k) == KS_STRING && *(char *const *)key_field_const(k, base) == NULL) ||
            strlen(text) >= PATH_MAX;
        if (!skip) {
            err[0] = '\0';
            if (key_value_parse(k, &ctx, text, copy) != 0) {
                fprintf(stderr, "key %s: '%s' does not parse back: %s\n", k->name, text, err);
                FUZZ_CHECK(!"a formatted value parses back");
            }
            FUZZ_CHECK(key_value_equal(k, base, copy));
            key_value_free(k, copy);
        }
        free(copy);
        free(text);
    }
}

static void check_pool(const struct pool_config *pc, const struct config_env *env, unsigned nlines)
{
    FUZZ_CHECK(pc->name != NULL && pc->name[0] != '\0' && strcmp(pc->name, "all") != 0);
    FUZZ_CHECK(pc->section.line >= 1 && pc->section.line <= nlines);
    FUZZ_CHECK(pc->command != NULL);
    FUZZ_CHECK(pc->argv != NULL && pc->argv[0] != NULL);
    FUZZ_CHECK(pc->exec_path != NULL && pc->exec_path[0] != '\0');
    FUZZ_CHECK(pc->directory != NULL);
    FUZZ_CHECK(pc->nworkers == workers_resolve(&pc->workers, env->ncpu));
    FUZZ_CHECK(pc->nworkers <= WORKERS_MAX);
    FUZZ_CHECK(pc->restart_delay_max_us >= pc->restart_delay_us);
    FUZZ_CHECK(pc->watchdog_us == 0 || pc->ready == READY_NOTIFY);
    FUZZ_CHECK(pc->crash_limit.count <= CRASH_LIMIT_MAX);
    FUZZ_CHECK(pc->stop_signal >= 1 && pc->stop_signal <= 64);
    FUZZ_CHECK(pc->max_frame >= 16 && pc->max_frame <= 256 << 20);
    for (size_t i = 0; i < POOL_KEY_COUNT; i++)
        FUZZ_CHECK(pc->origin[i].line <= nlines);
    check_keys(KEY_POOL, pc, pc->origin, env);
}

/* The config describes itself without change, and differs from an empty one by its pools. */
static void check_diffs(const struct config *cfg, const struct config *same,
                        const struct config *empty)
{
    struct config_diff d;
    char *text;
    size_t added = 0, removed = 0;

    config_diff(cfg, cfg, &d);
    FUZZ_CHECK(d.n == 0);
    config_diff_free(&d);
    if (same != NULL) {
        config_diff(cfg, same, &d);
        FUZZ_CHECK(d.n == 0);
        text = config_diff_describe(&d);
        FUZZ_CHECK(strcmp(text, "no changes\n") == 0);
        free(text);
        config_diff_free(&d);
    }
    if (empty == NULL)
        return;
    config_diff(empty, cfg, &d);
    for (size_t i = 0; i < d.n; i++)
        added += d.v[i].kind == CHANGE_POOL_ADDED;
    FUZZ_CHECK(added == cfg->npools);
    text = config_diff_describe(&d);
    free(text);
    config_diff_free(&d);
    config_diff(cfg, empty, &d);
    for (size_t i = 0; i < d.n; i++)
        removed += d.v[i].kind == CHANGE_POOL_REMOVED;
    FUZZ_CHECK(removed == cfg->npools);
    text = config_diff_describe(&d);
    free(text);
    config_diff_free(&d);
}

static void check_config(const struct config *cfg, const struct config_env *env, unsigned nlines)
{
    const struct pool_config *pc;
    unsigned npools = 0;

    FUZZ_CHECK(strcmp(cfg->path, CONFIG_NAME) == 0);
    FUZZ_CHECK(cfg->nfiles == 1 && strcmp(cfg->files[0], CONFIG_NAME) == 0);
    FUZZ_CHECK(cfg->daemon.control_socket != NULL && cfg->daemon.log_dir != NULL);
    for (size_t i = 0; i < DAEMON_KEY_COUNT; i++)
        FUZZ_CHECK(cfg->daemon.origin[i].line <= nlines);
    check_keys(KEY_DAEMON, &cfg->daemon, cfg->daemon.origin, env);
    TAILQ_FOREACH(pc, &cfg->pools, entry) {
        FUZZ_CHECK(config_find_pool(cfg, pc->name) == pc);
        check_pool(pc, env, nlines);
        npools++;
    }
    FUZZ_CHECK(npools == cfg->npools);
}

static struct config *load_checked(const char *text, size_t len, const struct config_env *env)
{
    struct config_errors errs = {0};
    struct config *cfg = config_load_string(CONFIG_NAME, text, env, &errs);
    unsigned nlines = count_lines(text, len);

    FUZZ_CHECK((cfg == NULL) == (errs.n > 0));
    check_errors(&errs, CONFIG_NAME, nlines);
    if (cfg != NULL)
        check_config(cfg, env, nlines);
    config_errors_clear(&errs);
    return cfg;
}

static char scratch_dir[PATH_MAX], scratch_path[PATH_MAX];

static void scratch_remove(void)
{
    unlink(scratch_path);
    rmdir(scratch_dir);
}

/* A file for inputs with NUL bytes: only config_load() reads past them. */
static const char *scratch_file(void)
{
    if (scratch_path[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch_dir, sizeof(scratch_dir), "%s/drover-fuzz-config.XXXXXX",
                 tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
        FUZZ_CHECK(mkdtemp(scratch_dir) != NULL);
        snprintf(scratch_path, sizeof(scratch_path), "%s/drover.ini", scratch_dir);
        atexit(scratch_remove);
    }
    return scratch_path;
}

static void load_file(const uint8_t *data, size_t size, const struct config_env *env)
{
    const char *path = scratch_file();
    struct config_errors errs = {0};
    struct config *cfg;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, data, size) == (ssize_t)size);
    close(fd);
    cfg = config_load(path, env, &errs);
    FUZZ_CHECK((cfg == NULL) == (errs.n > 0));
    /* A NUL byte is an error the loader reports. */
    FUZZ_CHECK(cfg == NULL);
    for (size_t i = 0; i < errs.n; i++)
        FUZZ_CHECK(errs.v[i].message != NULL &&
                   errs.v[i].line <= count_lines((const char *)data, size));
    free(config_errors_format(&errs));
    config_errors_clear(&errs);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct config_env envs[] = {
        {.ncpu = 4, .euid = 0, .follow_include = false, .check_paths = false},
        {.ncpu = 2048, .euid = 65534, .follow_include = false, .check_paths = false},
    };
    static struct config *empty;
    char *text = xmalloc(size + 1);
    size_t len;

    if (empty == NULL) {
        struct config_errors errs = {0};
        empty = config_load_string(CONFIG_NAME, "", &envs[0], &errs);
        FUZZ_CHECK(empty != NULL && errs.n == 0);
    }
    memcpy(text, data, size);
    text[size] = '\0';
    len = strlen(text);

    for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
        struct config *cfg = load_checked(text, len, &envs[i]);
        if (cfg == NULL)
            continue;
        struct config *again = i == 0 ? load_checked(text, len, &envs[i]) : NULL;
        FUZZ_CHECK(i != 0 || again != NULL);
        check_diffs(cfg, again, i == 0 ? empty : NULL);
        config_free(again);
        config_free(cfg);
    }
    if (len < size)
        load_file(data, size, &envs[0]);
    free(text);
    return 0;
}
