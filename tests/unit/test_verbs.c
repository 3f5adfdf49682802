/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/verbs.c: the verb table, verb_parse for every verb
 * and option, and target parsing (POOL, POOL:N, all).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"
#include "verbs.h"

#define MAXV 80

/* Parse a NULL-terminated list of words; returns verb_parse's result. */
static int vparse(struct verb_args *a, char *err, size_t errsz, ...)
{
    char *argv[MAXV];
    int argc = 0;
    va_list ap;

    va_start(ap, errsz);
    for (char *w; (w = va_arg(ap, char *)) != NULL && argc < MAXV;)
        argv[argc++] = w;
    va_end(ap);
    return verb_parse(argc, argv, a, err, errsz);
}

#define PARSE_OK(a, ...)                                                                           \
    do {                                                                                           \
        char err_[PARSE_ERR_MAX] = "";                                                             \
        if (vparse((a), err_, sizeof(err_), __VA_ARGS__, (char *)NULL) != 0)                       \
            fail_msg("verb_parse failed: %s", err_);                                               \
    } while (0)

#define PARSE_BAD(msg, ...)                                                                        \
    do {                                                                                           \
        struct verb_args a_;                                                                       \
        char err_[PARSE_ERR_MAX] = "";                                                             \
        assert_int_equal(vparse(&a_, err_, sizeof(err_), __VA_ARGS__, (char *)NULL), -1);          \
        assert_string_equal(err_, (msg));                                                          \
    } while (0)

/* --- the table ---------------------------------------------------------- */

static void test_table(void **state)
{
    (void)state;
    for (int i = 0; i < VERB__COUNT; i++) {
        const struct verb *v = &verb_table[i];
        /* The daemon dispatches by id, so the table must be in id order. */
        assert_int_equal(v->id, i);
        assert_non_null(v->name);
        assert_non_null(v->usage);
        assert_non_null(v->summary);
        assert_true(v->min_args >= 0);
        assert_true(v->min_args <= v->max_args);
        assert_true(v->max_args <= VERB_MAX_POS);
        assert_ptr_equal(verb_find(v->name), v);
        /* Names are unique. */
        for (int j = 0; j < i; j++)
            assert_string_not_equal(verb_table[j].name, v->name);
    }
    assert_null(verb_find("nope"));
    assert_null(verb_find(""));
    assert_null(verb_find("STATUS"));
}

static void test_table_flags(void **state)
{
    (void)state;
    /* What DESIGN.md promises for each verb. */
    assert_true(verb_find("status")->flags & VERB_JSON);
    assert_true(verb_find("status")->flags & VERB_READONLY);
    assert_true(verb_find("reload")->flags & VERB_JSON);
    assert_true(verb_find("start")->flags & VERB_WAIT);
    assert_true(verb_find("stop")->flags & VERB_WAIT);
    assert_true(verb_find("restart")->flags & VERB_WAIT);
    assert_true(verb_find("shutdown")->flags & VERB_WAIT);
    assert_true(verb_find("logs")->flags & VERB_LINES);
    assert_true(verb_find("logs")->flags & VERB_FOLLOW);
    assert_true(verb_find("check")->flags & VERB_LOCAL);
    assert_true(verb_find("check")->flags & VERB_CONFIG);
    assert_true(verb_find("metrics")->flags & VERB_READONLY);
    assert_false(verb_find("scale")->flags & VERB_READONLY);
    assert_false(verb_find("signal")->flags & VERB_READONLY);
    assert_false(verb_find("shutdown")->flags & VERB_READONLY);
}

static void test_help(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);

    (void)state;
    assert_non_null(fp);
    verbs_print_help(fp);
    fclose(fp);
    assert_true(strncmp(text, "verbs:\n", 7) == 0);
    for (int i = 0; i < VERB__COUNT; i++) {
        char line[256];
        snprintf(line, sizeof(line), "\n  %s %s", verb_table[i].name, verb_table[i].usage);
        if (strstr(text, line) == NULL)
            fail_msg("help lacks \"%s\"", line + 1);
        assert_non_null(strstr(text, verb_table[i].summary));
    }
    free(text);
}

/* --- verb_parse --------------------------------------------------------- */

static void test_no_verb(void **state)
{
    struct verb_args a;
    char err[PARSE_ERR_MAX] = "";

    (void)state;
    assert_int_equal(verb_parse(0, NULL, &a, err, sizeof(err)), -1);
    assert_string_equal(err, "no verb given");
}

static void test_unknown_verb(void **state)
{
    (void)state;
    PARSE_BAD("unknown verb 'stauts' (did you mean 'status'?)", "stauts");
    /* Only read-only verbs are suggested: a typo must never lead to a destructive one. */
    PARSE_BAD("unknown verb 'restrat' (verbs: status, start, stop, restart, reload, scale, signal, "
              "logs, call, check, metrics, shutdown, health, events, top, version)",
              "restrat");
    PARSE_BAD("unknown verb 'stpo' (verbs: status, start, stop, restart, reload, scale, signal, "
              "logs, call, check, metrics, shutdown, health, events, top, version)",
              "stpo");
    PARSE_BAD("unknown verb 'evnets' (did you mean 'events'?)", "evnets");
    PARSE_BAD("unknown verb 'Status' (did you mean 'status'?)", "Status");
    PARSE_BAD("unknown verb 'frobnicate' (verbs: status, start, stop, restart, reload, scale, "
              "signal, logs, call, check, metrics, shutdown, health, events, top, version)",
              "frobnicate");
#define ALL_VERBS                                                                                  \
    "(verbs: status, start, stop, restart, reload, scale, signal, logs, call, check, metrics, "    \
    "shutdown, health, events, top, version)"
    PARSE_BAD("unknown verb '' " ALL_VERBS, "");
    PARSE_BAD("unknown verb '--json' " ALL_VERBS, "--json");
}

static void test_status(void **state)
{
    struct verb_args a;

    (void)state;
    PARSE_OK(&a, "status");
    assert_ptr_equal(a.verb, verb_find("status"));
    assert_int_equal(a.verb->id, VERB_STATUS);
    assert_int_equal(a.npos, 0);
    assert_false(a.json);
    assert_false(a.no_wait);
    assert_false(a.follow);
    assert_int_equal(a.lines, 20);
    assert_null(a.config_file);
    PARSE_OK(&a, "status", "web", "--json");
    assert_int_equal(a.npos, 1);
    assert_string_equal(a.pos[0], "web");
    assert_true(a.json);
    PARSE_OK(&a, "status", "--json", "web");
    assert_true(a.json);
    assert_string_equal(a.pos[0], "web");
    PARSE_BAD("too many arguments; usage: drover status [POOL[:SLOT]] [--pools] [--wide] [--json]",
              "status", "a", "b");
    PARSE_BAD("unknown option '--no-wait' for status; usage: drover status [POOL[:SLOT]] [--pools] "
              "[--wide] [--json]",
              "status", "--no-wait");
    PARSE_BAD("unknown option '-n' for status; usage: drover status [POOL[:SLOT]] [--pools] "
              "[--wide] [--json]",
              "status", "-n", "5");
    PARSE_BAD("unknown option '-f' for status; usage: drover status [POOL[:SLOT]] [--pools] "
              "[--wide] [--json]",
              "status", "-f");
    PARSE_BAD("unknown option '-c' for status; usage: drover status [POOL[:SLOT]] [--pools] "
              "[--wide] [--json]",
              "status", "-c", "x");
    PARSE_BAD("unknown option '--jsn' for status; usage: drover status [POOL[:SLOT]] [--pools] "
              "[--wide] [--json]",
              "status", "--jsn");
}

static void test_double_dash(void **state)
{
    struct verb_args a;

    (void)state;
    /* After "--", everything is positional, "--" included. */
    PARSE_OK(&a, "status", "--", "--json");
    assert_int_equal(a.npos, 1);
    assert_string_equal(a.pos[0], "--json");
    assert_false(a.json);
    PARSE_OK(&a, "call", "web", "--", "-x");
    assert_int_equal(a.npos, 2);
    assert_string_equal(a.pos[1], "-x");
    PARSE_OK(&a, "call", "web", "--", "--");
    assert_string_equal(a.pos[1], "--");
    /* A lone "-" is an argument (stdin, by convention), not an option. */
    PARSE_OK(&a, "call", "web", "-");
    assert_int_equal(a.npos, 2);
    assert_string_equal(a.pos[1], "-");
    PARSE_OK(&a, "status", "--");
    assert_int_equal(a.npos, 0);
}

static void test_start_stop_restart(void **state)
{
    static const char *const verbs[] = {"start", "stop", "restart"};
    struct verb_args a;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        char *v = (char *)verbs[i];
        char msg[PARSE_ERR_MAX];

        PARSE_OK(&a, v, "web");
        assert_string_equal(a.verb->name, v);
        assert_int_equal(a.npos, 1);
        assert_false(a.no_wait);
        PARSE_OK(&a, v, "web", "api:1", "all", "--no-wait");
        assert_int_equal(a.npos, 3);
        assert_string_equal(a.pos[1], "api:1");
        assert_true(a.no_wait);
        snprintf(msg, sizeof(msg),
                 "missing arguments; usage: drover %s POOL[:SLOT]|all ... "
                 "[--no-wait] [--json]",
                 v);
        PARSE_BAD(msg, v);
        PARSE_BAD(msg, v, "--no-wait");
        PARSE_OK(&a, v, "web", "--json");
        assert_true(a.json);
    }
}

static void test_many_targets(void **state)
{
    char *argv[VERB_MAX_POS + 2];
    struct verb_args a;
    char err[PARSE_ERR_MAX] = "";

    (void)state;
    argv[0] = "start";
    for (int i = 1; i <= VERB_MAX_POS + 1; i++)
        argv[i] = "web";
    assert_int_equal(verb_parse(VERB_MAX_POS + 1, argv, &a, err, sizeof(err)), 0);
    assert_int_equal(a.npos, VERB_MAX_POS);
    assert_int_equal(verb_parse(VERB_MAX_POS + 2, argv, &a, err, sizeof(err)), -1);
    assert_string_equal(
        err, "too many arguments; usage: drover start POOL[:SLOT]|all ... [--no-wait] [--json]");
}

static void test_reload_scale_signal(void **state)
{
    struct verb_args a;

    (void)state;
    PARSE_OK(&a, "reload");
    assert_int_equal(a.verb->id, VERB_RELOAD);
    PARSE_OK(&a, "reload", "--json");
    assert_true(a.json);
    PARSE_BAD("too many arguments; usage: drover reload [--json] [--no-wait]", "reload", "x");
    PARSE_OK(&a, "reload", "--no-wait", "--json");
    assert_true(a.no_wait);
    assert_true(a.json);

    PARSE_OK(&a, "scale", "web", "4");
    assert_int_equal(a.npos, 2);
    assert_string_equal(a.pos[1], "4");
    PARSE_BAD("missing arguments; usage: drover scale POOL N|+N|-N|auto|auto*K [--json]", "scale",
              "web");
    PARSE_BAD("missing arguments; usage: drover scale POOL N|+N|-N|auto|auto*K [--json]", "scale");
    PARSE_BAD("too many arguments; usage: drover scale POOL N|+N|-N|auto|auto*K [--json]", "scale",
              "web", "4", "5");
    PARSE_OK(&a, "scale", "web", "4", "--json");
    assert_true(a.json);

    PARSE_OK(&a, "signal", "web:2", "HUP");
    assert_int_equal(a.verb->id, VERB_SIGNAL);
    assert_string_equal(a.pos[0], "web:2");
    assert_string_equal(a.pos[1], "HUP");
    assert_false(a.main_only);
    assert_false(a.group);
    PARSE_OK(&a, "signal", "--main", "web", "USR2");
    assert_true(a.main_only);
    assert_false(a.group);
    PARSE_OK(&a, "signal", "web", "HUP", "--group");
    assert_false(a.main_only);
    assert_true(a.group);
    PARSE_BAD("--main and --group exclude each other", "signal", "web", "HUP", "--group", "--main");
    PARSE_BAD("unknown option '--main' for stop; usage: drover stop POOL[:SLOT]|all ... "
              "[--no-wait] [--json]",
              "stop", "web", "--main");
    PARSE_BAD("missing arguments; usage: drover signal POOL[:SLOT]|all SIGNAL [--main] [--json]",
              "signal", "web");
    PARSE_BAD("too many arguments; usage: drover signal POOL[:SLOT]|all SIGNAL [--main] [--json]",
              "signal", "web", "HUP", "x");
}

static void test_logs(void **state)
{
    struct verb_args a;

    (void)state;
    PARSE_OK(&a, "logs", "web");
    assert_int_equal(a.lines, 20);
    assert_false(a.follow);
    PARSE_OK(&a, "logs", "web", "-n", "5", "-f");
    assert_int_equal(a.lines, 5);
    assert_true(a.follow);
    PARSE_OK(&a, "logs", "-n5", "web");
    assert_int_equal(a.lines, 5);
    assert_string_equal(a.pos[0], "web");
    PARSE_OK(&a, "logs", "web", "--lines", "7", "--follow");
    assert_int_equal(a.lines, 7);
    assert_true(a.follow);
    PARSE_OK(&a, "logs", "web", "-n", "0");
    assert_int_equal(a.lines, 0);
    PARSE_OK(&a, "logs", "web", "-n1000000");
    assert_int_equal(a.lines, 1000000);
    /* The last -n wins. */
    PARSE_OK(&a, "logs", "web", "-n", "5", "-n", "6");
    assert_int_equal(a.lines, 6);

    PARSE_BAD("-n needs a line count (0 to 1000000)", "logs", "web", "-n");
    PARSE_BAD("-n needs a line count (0 to 1000000)", "logs", "web", "-n", "x");
    PARSE_BAD("-n needs a line count (0 to 1000000)", "logs", "web", "-n", "-1");
    PARSE_BAD("-n needs a line count (0 to 1000000)", "logs", "web", "-n", "1000001");
    PARSE_BAD("-n needs a line count (0 to 1000000)", "logs", "web", "-nfoo");
    PARSE_BAD("-n needs a line count (0 to 1000000)", "logs", "web", "--lines");
    PARSE_BAD("missing arguments; usage: drover logs POOL[:SLOT]|all [-n N] [-f] [--json]", "logs");
    PARSE_BAD("missing arguments; usage: drover logs POOL[:SLOT]|all [-n N] [-f] [--json]", "logs",
              "-f");
    PARSE_BAD("too many arguments; usage: drover logs POOL[:SLOT]|all [-n N] [-f] [--json]", "logs",
              "a", "b");
    PARSE_OK(&a, "logs", "web", "--json");
    assert_true(a.json);
    PARSE_BAD(
        "unknown option '-F' for logs; usage: drover logs POOL[:SLOT]|all [-n N] [-f] [--json]",
        "logs", "web", "-F");
}

static void test_call(void **state)
{
    struct verb_args a;

    (void)state;
    PARSE_OK(&a, "call", "web");
    assert_int_equal(a.npos, 1);
    PARSE_OK(&a, "call", "web", "hello world");
    assert_int_equal(a.npos, 2);
    assert_string_equal(a.pos[1], "hello world");
    assert_int_equal(a.timeout_us, 0);
    PARSE_OK(&a, "call", "web", "--timeout", "2s", "x");
    assert_int_equal(a.timeout_us, 2000000);
    assert_int_equal(a.npos, 2);
    PARSE_OK(&a, "call", "--timeout=250ms", "web");
    assert_int_equal(a.timeout_us, 250000);
    PARSE_OK(&a, "call", "web", "--tls-ca", "ca.pem", "--tls-cert", "c.pem", "--tls-key", "k.pem",
             "--tls-name", "pool.example");
    assert_true(a.tls);
    assert_string_equal(a.tls_ca, "ca.pem");
    assert_string_equal(a.tls_cert, "c.pem");
    assert_string_equal(a.tls_key, "k.pem");
    assert_string_equal(a.tls_name, "pool.example");
    PARSE_OK(&a, "call", "web", "--tls");
    assert_true(a.tls);
    assert_null(a.tls_ca);
    PARSE_BAD("--tls-ca needs a file name", "call", "web", "--tls-ca");
    PARSE_BAD("unknown option '--tls-x' for call", "call", "web", "--tls-x", "y");
    PARSE_BAD("unknown option '--tls-ca' for status; usage: drover status [POOL[:SLOT]] [--pools] "
              "[--wide] [--json]",
              "status", "--tls-ca", "x");
#define CALL_USAGE "usage: drover call POOL [DATA] [--timeout DURATION] [--tls-* ...] [--json]"
    PARSE_BAD("missing arguments; " CALL_USAGE, "call");
    PARSE_BAD("too many arguments; " CALL_USAGE, "call", "web", "a", "b");
    PARSE_BAD("unknown option '-x' for call; " CALL_USAGE, "call", "web", "-x");
    PARSE_BAD("--timeout needs a duration, like 5s or 500ms", "call", "web", "--timeout");
#undef CALL_USAGE
}

static void test_check(void **state)
{
    struct verb_args a;

    (void)state;
    PARSE_OK(&a, "check");
    assert_null(a.config_file);
    assert_true(a.verb->flags & VERB_LOCAL);
    PARSE_OK(&a, "check", "-c", "/etc/drover/x.ini");
    assert_string_equal(a.config_file, "/etc/drover/x.ini");
    PARSE_OK(&a, "check", "--config", "rel.ini");
    assert_string_equal(a.config_file, "rel.ini");
    /* The file name may start with '-'. */
    PARSE_OK(&a, "check", "-c", "-odd.ini");
    assert_string_equal(a.config_file, "-odd.ini");
    assert_int_equal(a.npos, 0);
    PARSE_BAD("-c needs a file name", "check", "-c");
    PARSE_BAD("--config needs a file name", "check", "--config");
    PARSE_BAD("too many arguments; usage: drover check [-c FILE] [--json]", "check", "x.ini");
    PARSE_OK(&a, "check", "--json");
    assert_true(a.json);
}

static void test_metrics_shutdown(void **state)
{
    struct verb_args a;

    (void)state;
    PARSE_OK(&a, "metrics");
    assert_int_equal(a.verb->id, VERB_METRICS);
    PARSE_BAD("unknown option '--json' for metrics; usage: drover metrics", "metrics", "--json");
    PARSE_BAD("too many arguments; usage: drover metrics", "metrics", "x");
    PARSE_OK(&a, "shutdown");
    assert_false(a.no_wait);
    PARSE_OK(&a, "shutdown", "--no-wait");
    assert_true(a.no_wait);
    PARSE_BAD("too many arguments; usage: drover shutdown [--no-wait] [--json]", "shutdown", "now");
}

static void test_parse_resets_output(void **state)
{
    struct verb_args a;

    (void)state;
    PARSE_OK(&a, "logs", "web", "-n", "5", "-f");
    PARSE_OK(&a, "status", "--json");
    /* Nothing left over from the previous parse. */
    assert_int_equal(a.lines, 20);
    assert_false(a.follow);
    assert_int_equal(a.npos, 0);
}

/* --- targets ------------------------------------------------------------ */

static void target_ok(const char *s, const char *want_pool, long want_slot)
{
    char pool[65] = "junk";
    long slot = 99;
    char err[PARSE_ERR_MAX] = "";

    if (verb_parse_target(s, pool, sizeof(pool), &slot, err, sizeof(err)) != 0)
        fail_msg("verb_parse_target(\"%s\") failed: %s", s, err);
    assert_string_equal(pool, want_pool);
    assert_int_equal(slot, want_slot);
}

static void target_bad(const char *s, const char *msg)
{
    char pool[65] = "junk";
    long slot = 99;
    char err[PARSE_ERR_MAX] = "";

    assert_int_equal(verb_parse_target(s, pool, sizeof(pool), &slot, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
}

static void test_target(void **state)
{
    char pool64[65];

    (void)state;
    target_ok("web", "web", -1);
    target_ok("web:3", "web", 3);
    target_ok("web:0", "web", 0);
    target_ok("my-pool.v2:17", "my-pool.v2", 17);
    target_ok("all", "", -1);
    target_ok("web:1000000", "web", 1000000);
    memset(pool64, 'p', 64);
    pool64[64] = '\0';
    target_ok(pool64, pool64, -1); /* exactly fills the buffer */
}

static void test_target_errors(void **state)
{
    char pool65[70];

    (void)state;
    target_bad("", "invalid target '' (expected POOL, POOL:SLOT or all)");
    target_bad(":3", "invalid target ':3' (expected POOL, POOL:SLOT or all)");
    target_bad("web:", "invalid slot in 'web:' (expected a number)");
    target_bad("web:x", "invalid slot in 'web:x' (expected a number)");
    target_bad("web:-1", "invalid slot in 'web:-1' (expected a number)");
    target_bad("web:1:2", "invalid slot in 'web:1:2' (expected a number)");
    target_bad("web:1000001", "invalid slot in 'web:1000001' (expected a number)");
    target_bad("web: 1", "invalid slot in 'web: 1' (expected a number)");
    memset(pool65, 'p', 65);
    pool65[65] = '\0';
    target_bad(pool65, "invalid target 'ppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
                       "pppppppppp' (expected POOL, POOL:SLOT or all)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_table_flags),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_no_verb),
        cmocka_unit_test(test_unknown_verb),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_double_dash),
        cmocka_unit_test(test_start_stop_restart),
        cmocka_unit_test(test_many_targets),
        cmocka_unit_test(test_reload_scale_signal),
        cmocka_unit_test(test_logs),
        cmocka_unit_test(test_call),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_metrics_shutdown),
        cmocka_unit_test(test_parse_resets_output),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_target_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
