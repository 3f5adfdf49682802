/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/confdiff.c: what `drover reload` decides when the
 * configuration changes. Both configurations are loaded from text, diffed,
 * and the changes and their one-line descriptions are checked exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "confdiff.h"
#include "config.h"
#include "keys.h"

static struct config *old_cfg, *new_cfg;
static struct config_diff diff;
static char *text;

static struct config *load(const char *ini, unsigned ncpu)
{
    struct config_env env = {
        .ncpu = ncpu, .euid = geteuid(), .follow_include = false, .check_paths = false};
    struct config_errors errs = {0};
    struct config *c = config_load_string("/cfg/drover.ini", ini, &env, &errs);

    if (c == NULL) {
        char *msg = config_errors_format(&errs);
        fail_msg("test config does not load:\n%s", msg);
    }
    config_errors_clear(&errs);
    return c;
}

/* Diff two configs (loaded with the given CPU counts) and describe the result. */
static void diff_ncpu(const char *a, unsigned ncpu_a, const char *b, unsigned ncpu_b)
{
    old_cfg = load(a, ncpu_a);
    new_cfg = load(b, ncpu_b);
    config_diff(old_cfg, new_cfg, &diff);
    text = config_diff_describe(&diff);
}

static void do_diff(const char *a, const char *b)
{
    diff_ncpu(a, 4, b, 4);
}

static int teardown(void **state)
{
    (void)state;
    config_diff_free(&diff);
    config_free(old_cfg);
    config_free(new_cfg);
    free(text);
    old_cfg = new_cfg = NULL;
    text = NULL;
    return 0;
}

static const struct change *find(const char *pool, enum change_kind kind)
{
    const struct change *c = config_diff_find(&diff, pool, kind);

    if (c == NULL)
        fail_msg("no change of kind %d for pool %s; diff:\n%s", kind, pool, text);
    return c;
}

static const struct change *find_daemon(enum change_kind kind)
{
    for (size_t i = 0; i < diff.n; i++)
        if (diff.v[i].kind == kind)
            return &diff.v[i];
    fail_msg("no daemon change of kind %d; diff:\n%s", kind, text);
    return NULL;
}

#define WEB "[pool:web]\ncommand = /bin/worker\nworkers = 2\n"
#define API "[pool:api]\ncommand = /bin/api\nworkers = 3\n"

static void test_no_changes(void **state)
{
    (void)state;
    do_diff(WEB API, WEB API);
    assert_int_equal(diff.n, 0);
    assert_null(diff.v);
    assert_string_equal(text, "no changes\n");
}

static void test_no_changes_same_meaning(void **state)
{
    (void)state;
    /* Different text, same values: nothing to do. */
    do_diff("[daemon]\nshutdown_timeout = 60s\n[pool:web]\ncommand = /bin/w\n"
            "environment = A=1, B=2\nrestart_delay = 1000ms\nstop_signal = TERM\n",
            "[daemon]\nshutdown_timeout = 1m\n[pool:web]\ncommand = /bin/w\n"
            "environment = A=\"1\",B=2\nrestart_delay = 1s\nstop_signal = SIGTERM\n"
            "; a comment now\n");
    assert_string_equal(text, "no changes\n");
}

static void test_pool_added(void **state)
{
    const struct change *c;

    (void)state;
    do_diff(WEB, WEB API);
    assert_int_equal(diff.n, 1);
    c = find("api", CHANGE_POOL_ADDED);
    assert_int_equal(c->new_workers, 3);
    assert_null(c->keys);
    assert_string_equal(text, "pool api: added (3 workers)\n");
}

static void test_pool_removed(void **state)
{
    const struct change *c;

    (void)state;
    do_diff(WEB API, API);
    assert_int_equal(diff.n, 1);
    c = find("web", CHANGE_POOL_REMOVED);
    assert_int_equal(c->old_workers, 2);
    assert_string_equal(text, "pool web: removed (2 workers stopping)\n");
}

static void test_pool_renamed(void **state)
{
    (void)state;
    /* A rename is a removal and an addition; removals come first. */
    do_diff(WEB, "[pool:www]\ncommand = /bin/worker\nworkers = 2\n");
    assert_int_equal(diff.n, 2);
    assert_int_equal(diff.v[0].kind, CHANGE_POOL_REMOVED);
    assert_int_equal(diff.v[1].kind, CHANGE_POOL_ADDED);
    assert_string_equal(text, "pool web: removed (2 workers stopping)\n"
                              "pool www: added (2 workers)\n");
}

static void test_restart_keys(void **state)
{
    static const struct {
        const char *line;
        const char *key;
    } cases[] = {
        {"command = /bin/worker2", "command"},
        {"environment = A=1", "environment"},
        {"cpu_affinity = core", "cpu_affinity"},
        {"directory = /srv", "directory"},
        {"ready = notify", "ready"},
        {"stdout = null", "stdout"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char b[256], want[256];
        const struct change *c;
        snprintf(b, sizeof(b), "[pool:web]\ncommand = /bin/worker\nworkers = 2\n%s\n",
                 cases[i].line);
        if (strncmp(cases[i].line, "command", 7) == 0)
            snprintf(b, sizeof(b), "[pool:web]\n%s\nworkers = 2\n", cases[i].line);
        do_diff(WEB, b);
        assert_int_equal(diff.n, 1);
        c = find("web", CHANGE_POOL_RESTART);
        assert_string_equal(c->keys, cases[i].key);
        assert_int_equal(c->old_workers, 2);
        assert_int_equal(c->new_workers, 2);
        snprintf(want, sizeof(want), "pool web: %s changed: restarting workers one at a time\n",
                 cases[i].key);
        assert_string_equal(text, want);
        teardown(NULL);
    }
}

/* The same relative command in another file names another program: a restart, not "no changes". */
static void test_relative_command_moved(void **state)
{
    struct config_env env = {
        .ncpu = 4, .euid = geteuid(), .follow_include = false, .check_paths = false};
    struct config_errors errs = {0};
    const char *ini = "[pool:web]\ncommand = bin/w --x\nworkers = 2\ncheck_command = bin/check\n";

    (void)state;
    old_cfg = config_load_string("/cfg/drover.ini", ini, &env, &errs);
    new_cfg = config_load_string("/cfg/conf.d/web.ini", ini, &env, &errs);
    assert_non_null(old_cfg);
    assert_non_null(new_cfg);
    config_diff(old_cfg, new_cfg, &diff);
    text = config_diff_describe(&diff);
    /* (The default directory, the file's own, moved with it.) */
    assert_string_equal(find("web", CHANGE_POOL_RESTART)->keys, "directory, command");
    assert_string_equal(find("web", CHANGE_POOL_LIVE)->keys, "check_command");
    teardown(NULL);
    /* The same file: nothing. */
    old_cfg = config_load_string("/cfg/conf.d/web.ini", ini, &env, &errs);
    new_cfg = config_load_string("/cfg/conf.d/web.ini", ini, &env, &errs);
    config_diff(old_cfg, new_cfg, &diff);
    text = config_diff_describe(&diff);
    assert_string_equal(text, "no changes\n");
    config_errors_clear(&errs);
}

/* A pool a reload could not change leaves the diff whole: every change of it, none of the others.
 */
static void test_drop_pool(void **state)
{
    (void)state;
    do_diff(WEB API, "[pool:web]\ncommand = /bin/worker2\nworkers = 3\n"
                     "[pool:api]\ncommand = /bin/api\nworkers = 4\n[pool:new]\ncommand = /bin/n\n");
    assert_int_equal(diff.n, 4);
    config_diff_drop_pool(&diff, "web");
    assert_int_equal(diff.n, 2);
    assert_null(config_diff_find(&diff, "web", CHANGE_POOL_RESTART));
    assert_null(config_diff_find(&diff, "web", CHANGE_POOL_SCALE));
    find("api", CHANGE_POOL_SCALE);
    find("new", CHANGE_POOL_ADDED);
    config_diff_drop_pool(&diff, "nosuch");
    assert_int_equal(diff.n, 2);
    config_diff_drop_pool(&diff, "api");
    config_diff_drop_pool(&diff, "new");
    assert_int_equal(diff.n, 0);
    free(text);
    text = config_diff_describe(&diff);
    assert_string_equal(text, "no changes\n");
}

/* A pool an earlier reload left running other settings: its changes are from those. */
static void test_diff_pool_from_running(void **state)
{
    struct config *running;

    (void)state;
    running = load("[pool:web]\ncommand = /bin/worker\nworkers = 5\n", 4);
    do_diff(WEB API, "[pool:web]\ncommand = /bin/worker\nworkers = 5\n" API);
    find("web", CHANGE_POOL_SCALE);
    /* web runs 5 already: no change for it; api's own entries are untouched. */
    config_diff_pool(config_find_pool(running, "web"), config_find_pool(new_cfg, "web"), &diff);
    assert_int_equal(diff.n, 0);
    /* From 5 (what it runs) to 2: a scale from 5, not from the old file's 2. */
    config_diff_pool(config_find_pool(running, "web"), config_find_pool(old_cfg, "web"), &diff);
    assert_int_equal(diff.n, 1);
    assert_int_equal(find("web", CHANGE_POOL_SCALE)->old_workers, 5);
    assert_int_equal(find("web", CHANGE_POOL_SCALE)->new_workers, 2);
    /* Twice: the pool's entries are replaced, not added to. */
    config_diff_pool(config_find_pool(running, "web"), config_find_pool(old_cfg, "web"), &diff);
    assert_int_equal(diff.n, 1);
    config_free(running);
}

static void test_restart_several_keys(void **state)
{
    (void)state;
    do_diff(WEB, "[pool:web]\ncommand = /bin/worker -v\nworkers = 2\nenvironment = X=1\n"
                 "stdout = inherit\n");
    assert_int_equal(diff.n, 1);
    /* Keys are listed in table order. */
    assert_string_equal(find("web", CHANGE_POOL_RESTART)->keys, "command, environment, stdout");
    assert_string_equal(text, "pool web: command, environment, stdout changed: restarting "
                              "workers one at a time\n");
}

static void test_scale(void **state)
{
    const struct change *c;

    (void)state;
    do_diff(WEB, "[pool:web]\ncommand = /bin/worker\nworkers = 5\n");
    assert_int_equal(diff.n, 1);
    c = find("web", CHANGE_POOL_SCALE);
    assert_int_equal(c->old_workers, 2);
    assert_int_equal(c->new_workers, 5);
    assert_string_equal(c->keys, "workers");
    assert_string_equal(text, "pool web: workers 2 -> 5\n");
    teardown(NULL);
    do_diff(WEB, "[pool:web]\ncommand = /bin/worker\nworkers = 0\n");
    assert_string_equal(text, "pool web: workers 2 -> 0\n");
}

static void test_scale_by_cpu_count(void **state)
{
    const struct change *c;

    (void)state;
    /* workers = auto, same text, but the machine now offers more CPUs. */
    diff_ncpu("[pool:web]\ncommand = /bin/worker\n", 4, "[pool:web]\ncommand = /bin/worker\n", 8);
    assert_int_equal(diff.n, 1);
    c = find("web", CHANGE_POOL_SCALE);
    assert_int_equal(c->old_workers, 4);
    assert_int_equal(c->new_workers, 8);
    assert_string_equal(text, "pool web: workers 4 -> 8\n");
}

static void test_scale_and_restart(void **state)
{
    (void)state;
    do_diff(WEB, "[pool:web]\ncommand = /bin/worker2\nworkers = 4\n");
    assert_int_equal(diff.n, 2);
    find("web", CHANGE_POOL_SCALE);
    find("web", CHANGE_POOL_RESTART);
    /* Scale first, so the restart rolls over the new set of workers. */
    assert_string_equal(text, "pool web: workers 2 -> 4\n"
                              "pool web: command changed: restarting workers one at a time\n");
}

static void test_recreate(void **state)
{
    static const char *const lines[][2] = {
        {"listen = a.sock", "listen = b.sock"},
        {"listen = a.sock\nmode = message", "listen = a.sock\nmode = handoff"},
        {"listen = a.sock\nsocket_mode = 0600", "listen = a.sock\nsocket_mode = 0666"},
        {"listen = a.sock\nframing = length", "listen = a.sock\nframing = line"},
    };
    static const char *const keys[] = {"listen", "mode", "socket_mode", "framing"};

    (void)state;
    for (size_t i = 0; i < 4; i++) {
        char a[256], b[256], want[256];
        const struct change *c;
        snprintf(a, sizeof(a), WEB "%s\n", lines[i][0]);
        snprintf(b, sizeof(b), WEB "%s\n", lines[i][1]);
        do_diff(a, b);
        assert_int_equal(diff.n, 1);
        c = find("web", CHANGE_POOL_RECREATE);
        assert_string_equal(c->keys, keys[i]);
        snprintf(want, sizeof(want), "pool web: %s changed: pool stopped and started again\n",
                 keys[i]);
        assert_string_equal(text, want);
        teardown(NULL);
    }
}

static void test_recreate_from_unrouted(void **state)
{
    (void)state;
    do_diff(WEB, WEB "listen = a.sock\n");
    assert_int_equal(diff.n, 1);
    assert_string_equal(find("web", CHANGE_POOL_RECREATE)->keys, "listen");
}

static void test_recreate_absorbs_the_rest(void **state)
{
    const struct change *c;

    (void)state;
    /* Re-creating restarts everything, so the other changes ride along in one entry. */
    do_diff(WEB "listen = a.sock\n",
            "[pool:web]\ncommand = /bin/other\nworkers = 6\nlisten = b.sock\n"
            "restart_delay = 1s\n");
    assert_int_equal(diff.n, 1);
    c = find("web", CHANGE_POOL_RECREATE);
    assert_string_equal(c->keys, "listen, restart_delay, command, workers");
    assert_int_equal(c->old_workers, 2);
    assert_int_equal(c->new_workers, 6);
    assert_null(config_diff_find(&diff, "web", CHANGE_POOL_SCALE));
    assert_null(config_diff_find(&diff, "web", CHANGE_POOL_RESTART));
    assert_null(config_diff_find(&diff, "web", CHANGE_POOL_LIVE));
    assert_string_equal(text, "pool web: listen, restart_delay, command, workers changed: pool "
                              "stopped and started again\n");
}

static void test_live(void **state)
{
    const struct change *c;

    (void)state;
    do_diff(WEB, WEB "restart_delay = 1s\nstop_timeout = 1m\ncrash_limit = none\n"
                     "restart = never\n");
    assert_int_equal(diff.n, 1);
    c = find("web", CHANGE_POOL_LIVE);
    assert_string_equal(c->keys, "restart, restart_delay, crash_limit, stop_timeout");
    assert_string_equal(text, "pool web: restart, restart_delay, crash_limit, stop_timeout "
                              "changed: applied\n");
}

static void test_live_and_restart(void **state)
{
    (void)state;
    do_diff(WEB, "[pool:web]\ncommand = /bin/new\nworkers = 2\nstop_timeout = 1m\n");
    assert_int_equal(diff.n, 2);
    assert_string_equal(text, "pool web: command changed: restarting workers one at a time\n"
                              "pool web: stop_timeout changed: applied\n");
}

static void test_daemon_live(void **state)
{
    const struct change *c;

    (void)state;
    do_diff("[daemon]\nlog_level = info\n" WEB,
            "[daemon]\nlog_level = debug\nshutdown_timeout = 5s\n" WEB);
    assert_int_equal(diff.n, 1);
    c = find_daemon(CHANGE_DAEMON_LIVE);
    assert_null(c->pool);
    assert_string_equal(c->keys, "log_level, shutdown_timeout");
    assert_string_equal(text, "daemon: log_level, shutdown_timeout changed: applied\n");
}

static void test_daemon_restart(void **state)
{
    const struct change *c;

    (void)state;
    do_diff("[daemon]\ncontrol_socket = /run/a.sock\n",
            "[daemon]\ncontrol_socket = /run/b.sock\ncontrol_mode = 0600\n"
            "metrics_listen = tcp:127.0.0.1:9101\nlog_level = warn\n");
    assert_int_equal(diff.n, 2);
    c = find_daemon(CHANGE_DAEMON_RESTART);
    assert_string_equal(c->keys, "control_socket, control_mode, metrics_listen");
    find_daemon(CHANGE_DAEMON_LIVE);
    /* Live daemon changes first, then those waiting for a restart. */
    assert_string_equal(text, "daemon: log_level changed: applied\n"
                              "daemon: control_socket, control_mode, metrics_listen changed: "
                              "takes effect when droverd restarts\n");
}

static void test_everything_at_once(void **state)
{
    (void)state;
    do_diff("[daemon]\nlog_level = info\n"
            "[pool:gone]\ncommand = /bin/g\nworkers = 1\n"
            "[pool:web]\ncommand = /bin/w\nworkers = 2\n"
            "[pool:api]\ncommand = /bin/a\nworkers = 2\nlisten = a.sock\n"
            "[pool:same]\ncommand = /bin/s\nworkers = 1\n",
            "[daemon]\nlog_level = debug\n"
            "[pool:new]\ncommand = /bin/n\nworkers = 1\n"
            "[pool:same]\ncommand = /bin/s\nworkers = 1\n"
            "[pool:api]\ncommand = /bin/a\nworkers = 2\nlisten = b.sock\n"
            "[pool:web]\ncommand = /bin/w\nworkers = 3\nlog_keep = 1\n");
    /* Removed pools first, then the new file's pools in order, then the daemon. */
    assert_string_equal(text, "pool gone: removed (1 worker stopping)\n"
                              "pool new: added (1 worker)\n"
                              "pool api: listen changed: pool stopped and started again\n"
                              "pool web: workers 2 -> 3\n"
                              "pool web: log_keep changed: applied\n"
                              "daemon: log_level changed: applied\n");
    assert_null(config_diff_find(&diff, "same", CHANGE_POOL_LIVE));
    assert_null(config_diff_find(&diff, "nope", CHANGE_POOL_ADDED));
}

static void test_every_pool_key_is_classified(void **state)
{
    (void)state;
    /* Each pool key lands in the change its table entry promises. */
    for (size_t i = 0; i < key_table_len; i++) {
        const struct key *k = &key_table[i];
        static const enum change_kind kind_of[] = {
            [RELOAD_LIVE] = CHANGE_POOL_LIVE,
            [RELOAD_RESTART] = CHANGE_POOL_RESTART,
            [RELOAD_SCALE] = CHANGE_POOL_SCALE,
            [RELOAD_RECREATE] = CHANGE_POOL_RECREATE,
        };
        struct pool_config a, b;
        struct config oa, ob;
        if (k->section != KEY_POOL)
            continue;
        /* Two otherwise identical pools differing in this key only. */
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        a.name = b.name = "web";
        a.nworkers = b.nworkers = 2;
        memset(&oa, 0, sizeof(oa));
        memset(&ob, 0, sizeof(ob));
        TAILQ_INIT(&oa.pools);
        TAILQ_INIT(&ob.pools);
        TAILQ_INSERT_TAIL(&oa.pools, &a, entry);
        TAILQ_INSERT_TAIL(&ob.pools, &b, entry);
        if (key_storage(k) == KS_STRING) {
            *(char **)key_field(k, &b) = "set"; /* unset before */
        } else if (key_storage(k) == KS_STRV) {
            static char *one[] = {"A=1", NULL};
            *(char ***)key_field(k, &b) = one;
        } else {
            ((unsigned char *)key_field(k, &b))[0] ^= 1; /* any other value */
        }
        config_diff(&oa, &ob, &diff);
        if (diff.n != 1 || diff.v[0].kind != kind_of[k->reload] ||
            strcmp(diff.v[0].keys, k->name) != 0)
            fail_msg("changing %s: %zu changes, first of kind %d with keys '%s'", k->name, diff.n,
                     diff.n ? (int)diff.v[0].kind : -1, diff.n ? diff.v[0].keys : "");
        config_diff_free(&diff);
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_teardown(fn, teardown)
    const struct CMUnitTest tests[] = {
        T(test_no_changes),
        T(test_no_changes_same_meaning),
        T(test_pool_added),
        T(test_pool_removed),
        T(test_pool_renamed),
        T(test_restart_keys),
        T(test_relative_command_moved),
        T(test_drop_pool),
        T(test_diff_pool_from_running),
        T(test_restart_several_keys),
        T(test_scale),
        T(test_scale_by_cpu_count),
        T(test_scale_and_restart),
        T(test_recreate),
        T(test_recreate_from_unrouted),
        T(test_recreate_absorbs_the_rest),
        T(test_live),
        T(test_live_and_restart),
        T(test_daemon_live),
        T(test_daemon_restart),
        T(test_everything_at_once),
        T(test_every_pool_key_is_classified),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
