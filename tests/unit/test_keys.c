/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/keys.c, THE table of configuration keys: its shape
 * (counts, sections, indexes), every key's default, a good value for every
 * key with its canonical text, the errors of each kind of parser, and the
 * value helpers (equal, copy, free, format) the reload diff relies on.
 */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "keys.h"
#include "log.h"
#include "xmalloc.h"

#define MS  1000ULL
#define SEC 1000000ULL

static struct config_env env = {.ncpu = 4, .follow_include = false, .check_paths = false};
static char err[PARSE_ERR_MAX];
static struct key_ctx ctx = {.file = "/etc/drover/drover.ini",
                             .base_dir = "/etc/drover",
                             .env = &env,
                             .err = err,
                             .errsz = sizeof(err)};

static const struct key *key(enum key_section s, const char *name)
{
    const struct key *k = key_find(s, name);

    if (k == NULL)
        fail_msg("no key '%s'", name);
    return k;
}

static void *base_of(enum key_section s, struct daemon_config *dc, struct pool_config *pc)
{
    return s == KEY_DAEMON ? (void *)dc : (void *)pc;
}

static void free_values(struct daemon_config *dc, struct pool_config *pc)
{
    for (size_t i = 0; i < key_table_len; i++) {
        void *base = base_of(key_table[i].section, dc, pc);
        if (base != NULL)
            key_value_free(&key_table[i], base);
    }
}

/* --- the table ---------------------------------------------------------- */

static bool has_range(enum key_kind kind)
{
    return kind == KT_DURATION || kind == KT_SIZE || kind == KT_COUNT || kind == KT_COUNT64;
}

static void test_counts(void **state)
{
    size_t ndaemon = 0, npool = 0;

    (void)state;
    for (size_t i = 0; i < key_table_len; i++) {
        if (key_table[i].section == KEY_DAEMON)
            ndaemon++;
        else
            npool++;
    }
    /* The origin arrays in struct daemon_config / pool_config are sized by these. */
    assert_int_equal(ndaemon, DAEMON_KEY_COUNT);
    assert_int_equal(npool, POOL_KEY_COUNT);
}

static void test_table_shape(void **state)
{
    (void)state;
    for (size_t i = 0; i < key_table_len; i++) {
        const struct key *k = &key_table[i];
        size_t count = k->section == KEY_DAEMON ? DAEMON_KEY_COUNT : POOL_KEY_COUNT;

        assert_non_null(k->name);
        assert_non_null(k->help);
        assert_true(k->kind < KT__COUNT);
        /* Choices belong to KT_CHOICE rows, ranges to numbers. */
        assert_int_equal(k->kind == KT_CHOICE, k->choices != NULL);
        if (!has_range(k->kind))
            assert_true(k->min == 0 && k->max == 0);
        assert_true(k->max == 0 || k->min <= k->max);
        /* A documented default, one way or the other. */
        assert_true(k->default_value != NULL || k->default_doc != NULL);
        assert_ptr_equal(key_find(k->section, k->name), k);
        assert_true(key_section_index(k) < count);
        /* Unique within the section. */
        for (size_t j = 0; j < i; j++)
            if (key_table[j].section == k->section)
                assert_string_not_equal(key_table[j].name, k->name);
        /* Fields lie inside their struct. */
        if (k->section == KEY_DAEMON)
            assert_true(k->offset < sizeof(struct daemon_config));
        else
            assert_true(k->offset < sizeof(struct pool_config));
        /* Enumerations list their choices; only pool keys may need a rolling restart. */
        if (k->section == KEY_DAEMON)
            assert_true(k->reload == RELOAD_LIVE || k->reload == RELOAD_DAEMON);
        else
            assert_true(k->reload != RELOAD_DAEMON);
    }
}

static void test_section_index(void **state)
{
    bool seen_daemon[DAEMON_KEY_COUNT] = {false};
    bool seen_pool[POOL_KEY_COUNT] = {false};

    (void)state;
    /* Indexes are a dense 0..count-1 per section. */
    for (size_t i = 0; i < key_table_len; i++) {
        size_t idx = key_section_index(&key_table[i]);
        bool *seen = key_table[i].section == KEY_DAEMON ? seen_daemon : seen_pool;
        assert_false(seen[idx]);
        seen[idx] = true;
    }
    for (size_t i = 0; i < DAEMON_KEY_COUNT; i++)
        assert_true(seen_daemon[i]);
    for (size_t i = 0; i < POOL_KEY_COUNT; i++)
        assert_true(seen_pool[i]);
}

static void test_find(void **state)
{
    (void)state;
    assert_non_null(key_find(KEY_POOL, "command"));
    assert_non_null(key_find(KEY_DAEMON, "log_level"));
    assert_null(key_find(KEY_DAEMON, "command"));
    assert_null(key_find(KEY_POOL, "log_level"));
    assert_null(key_find(KEY_POOL, "Command"));
    assert_null(key_find(KEY_POOL, ""));
}

static void test_suggest(void **state)
{
    (void)state;
    assert_string_equal(key_suggest(KEY_POOL, "comand"), "command");
    assert_string_equal(key_suggest(KEY_POOL, "workres"), "workers");
    assert_string_equal(key_suggest(KEY_POOL, "restart_dealy"), "restart_delay");
    assert_string_equal(key_suggest(KEY_POOL, "stop_singal"), "stop_signal");
    assert_string_equal(key_suggest(KEY_DAEMON, "log_levle"), "log_level");
    assert_string_equal(key_suggest(KEY_DAEMON, "controlsocket"), "control_socket");
    assert_null(key_suggest(KEY_POOL, "frobnicate"));
    /* Only keys of the same section are suggested. */
    assert_null(key_suggest(KEY_DAEMON, "comand"));
}

static void test_enum_names(void **state)
{
    (void)state;
    assert_string_equal(restart_policy_name(RESTART_ALWAYS), "always");
    assert_string_equal(restart_policy_name(RESTART_ON_FAILURE), "on-failure");
    assert_string_equal(restart_policy_name(RESTART_NEVER), "never");
    assert_string_equal(route_mode_name(ROUTE_MESSAGE), "message");
    assert_string_equal(route_mode_name(ROUTE_HANDOFF), "handoff");
    assert_string_equal(route_mode_name(ROUTE_SHARED), "shared");
    assert_string_equal(framing_name(FRAMING_LENGTH), "length");
    assert_string_equal(framing_name(FRAMING_LINE), "line");
}

/* The kind decides the storage: what equal, copy and free work on. */
static void test_kind_storage(void **state)
{
    static const struct {
        const char *name;
        enum key_kind kind;
        enum key_storage storage;
    } cases[] = {
        {"user", KT_STRING, KS_STRING},           {"directory", KT_PATH, KS_STRING},
        {"command", KT_COMMAND, KS_STRING},       {"listen", KT_LISTEN, KS_STRING},
        {"environment", KT_ENVIRONMENT, KS_STRV}, {"restart", KT_CHOICE, KS_INT},
        {"stop_timeout", KT_DURATION, KS_U64},    {"log_max_size", KT_SIZE, KS_U64},
        {"log_keep", KT_COUNT, KS_UINT},          {"max_requests", KT_COUNT64, KS_U64},
        {"socket_mode", KT_FILE_MODE, KS_MODE},   {"stop_signal", KT_SIGNAL, KS_INT},
        {"workers", KT_WORKERS, KS_WORKERS},      {"crash_limit", KT_CRASH_LIMIT, KS_CRASH},
    };
    bool used[KT__COUNT] = {false};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct key *k = key(KEY_POOL, cases[i].name);
        assert_int_equal(k->kind, cases[i].kind);
        assert_int_equal(key_storage(k), cases[i].storage);
    }
    assert_int_equal(key_storage(key(KEY_DAEMON, "control_socket")), KS_STRING);
    assert_int_equal(key_storage(key(KEY_DAEMON, "metrics_listen")), KS_STRING);
    assert_int_equal(key_storage(key(KEY_DAEMON, "include")), KS_STRV);
    /* Every kind is used by some key: no parser is dead code. */
    for (size_t i = 0; i < key_table_len; i++)
        used[key_table[i].kind] = true;
    for (int kind = 0; kind < KT__COUNT; kind++)
        if (!used[kind])
            fail_msg("kind %d has no key", kind);
}

/*
 * A row is all a new key needs: its kind brings the parser, the range check
 * and the formatter. Rows built here reach the branches no current key does.
 */
static void test_rows_outside_the_table(void **state)
{
    const struct key duration = {.section = KEY_POOL,
                                 .name = "probe",
                                 .kind = KT_DURATION,
                                 .offset = offsetof(struct pool_config, watchdog_us),
                                 .min = 1000,
                                 .max = 60 * SEC,
                                 .help = "test"};
    const struct key count = {.section = KEY_POOL,
                              .name = "probe",
                              .kind = KT_COUNT,
                              .offset = offsetof(struct pool_config, max_queue),
                              .help = "test"};
    const struct key count64 = {.section = KEY_POOL,
                                .name = "probe",
                                .kind = KT_COUNT64,
                                .offset = offsetof(struct pool_config, max_requests),
                                .min = 5,
                                .help = "test"};
    struct pool_config pc;
    char *text;

    (void)state;
    memset(&pc, 0, sizeof(pc));
    assert_int_equal(key_value_parse(&duration, &ctx, "1m", &pc), 0);
    assert_int_equal(pc.watchdog_us, 60 * SEC);
    text = key_value_format(&duration, &pc);
    assert_string_equal(text, "1m");
    free(text);
    assert_int_equal(key_value_parse(&duration, &ctx, "61s", &pc), -1);
    assert_string_equal(err, "duration '61s' is out of range (1ms to 1m)");
    assert_int_equal(key_value_parse(&duration, &ctx, "1us", &pc), -1);
    assert_string_equal(err, "duration '1us' is out of range (1ms to 1m)");
    assert_int_equal(pc.watchdog_us, 60 * SEC);
    /* A count without a max holds what its field holds. */
    assert_int_equal(key_value_parse(&count, &ctx, "4294967295", &pc), 0);
    assert_int_equal(pc.max_queue, UINT_MAX);
    assert_int_equal(key_value_parse(&count, &ctx, "4294967296", &pc), -1);
    assert_string_equal(err, "4294967296 is out of range (0 to 4294967295)");
    assert_int_equal(key_value_parse(&count64, &ctx, "4", &pc), -1);
    assert_string_equal(err, "4 is out of range (5 to 18446744073709551615)");
    assert_int_equal(key_value_parse(&count64, &ctx, "18446744073709551615", &pc), 0);
    assert_int_equal(pc.max_requests, UINT64_MAX);
}

/* --- defaults ----------------------------------------------------------- */

static void test_daemon_defaults(void **state)
{
    struct daemon_config dc;

    (void)state;
    memset(&dc, 0, sizeof(dc));
    assert_int_equal(keys_apply_defaults(KEY_DAEMON, &dc, &env, err, sizeof(err)), 0);
    assert_int_equal(dc.control_mode, 0660);
    assert_int_equal(dc.log_level, LOG_LEVEL_INFO);
    assert_int_equal(dc.shutdown_timeout_us, 30 * SEC);
    /* Computed at load time, or unset. */
    assert_null(dc.control_socket);
    assert_null(dc.control_group);
    assert_null(dc.log_dir);
    assert_null(dc.include);
    assert_null(dc.metrics_listen);
    free_values(&dc, NULL);
}

static void test_pool_defaults(void **state)
{
    struct pool_config pc;

    (void)state;
    memset(&pc, 0, sizeof(pc));
    assert_int_equal(keys_apply_defaults(KEY_POOL, &pc, &env, err, sizeof(err)), 0);
    assert_null(pc.command);
    assert_true(pc.workers.is_auto);
    assert_int_equal(pc.workers.multiplier, 1);
    assert_int_equal(pc.cpu_affinity, AFFINITY_NONE);
    assert_null(pc.directory);
    assert_null(pc.user);
    assert_null(pc.group);
    assert_null(pc.environment);
    assert_int_equal(pc.restart, RESTART_ALWAYS);
    assert_int_equal(pc.restart_delay_us, 100 * MS);
    assert_int_equal(pc.restart_delay_max_us, 30 * SEC);
    assert_int_equal(pc.crash_limit.count, 10);
    assert_int_equal(pc.crash_limit.window_us, 60 * SEC);
    assert_int_equal(pc.on_fatal, ON_FATAL_STAY);
    assert_int_equal(pc.ready, READY_EXEC);
    assert_int_equal(pc.start_timeout_us, 10 * SEC);
    assert_int_equal(pc.start_grace_us, 1 * SEC);
    assert_int_equal(pc.watchdog_us, 0);
    assert_int_equal(pc.stop_signal, SIGTERM);
    assert_int_equal(pc.stop_timeout_us, 10 * SEC);
    assert_int_equal(pc.stdout_mode, STDOUT_LOG);
    assert_int_equal(pc.log_max_size, 10 * 1024 * 1024);
    assert_int_equal(pc.log_keep, 5);
    assert_null(pc.listen);
    assert_int_equal(pc.socket_mode, 0660);
    assert_int_equal(pc.mode, ROUTE_MESSAGE);
    assert_int_equal(pc.framing, FRAMING_LENGTH);
    assert_int_equal(pc.work_fd, WORK_FD_3);
    assert_int_equal(pc.max_queue, 1024);
    assert_int_equal(pc.request_timeout_us, 30 * SEC);
    assert_int_equal(pc.max_attempts, 2);
    assert_int_equal(pc.max_requests, 0);
    assert_int_equal(pc.worker_inflight, 1);
    assert_int_equal(pc.max_frame, 1024 * 1024);
    free_values(NULL, &pc);
}

/* Every default's canonical text parses back to the same value. */
static void test_defaults_round_trip(void **state)
{
    struct daemon_config dc, dc2;
    struct pool_config pc, pc2;

    (void)state;
    memset(&dc, 0, sizeof(dc));
    memset(&pc, 0, sizeof(pc));
    memset(&dc2, 0, sizeof(dc2));
    memset(&pc2, 0, sizeof(pc2));
    assert_int_equal(keys_apply_defaults(KEY_DAEMON, &dc, &env, err, sizeof(err)), 0);
    assert_int_equal(keys_apply_defaults(KEY_POOL, &pc, &env, err, sizeof(err)), 0);
    for (size_t i = 0; i < key_table_len; i++) {
        const struct key *k = &key_table[i];
        void *a = base_of(k->section, &dc, &pc), *b = base_of(k->section, &dc2, &pc2);
        char *text;
        if (k->default_value == NULL)
            continue;
        text = key_value_format(k, a);
        if (key_value_parse(k, &ctx, text, b) != 0)
            fail_msg("%s: default formats as '%s', which does not parse: %s", k->name, text, err);
        if (!key_value_equal(k, a, b))
            fail_msg("%s: default '%s' does not round-trip", k->name, text);
        free(text);
    }
    free_values(&dc, &pc);
    free_values(&dc2, &pc2);
}

/* --- a good value for every key ----------------------------------------- */

static const struct {
    enum key_section section;
    const char *name, *value, *canonical;
} good_values[] = {
    {KEY_DAEMON, "control_socket", "run/drover.sock", "/etc/drover/run/drover.sock"},
    {KEY_DAEMON, "control_mode", "600", "0600"},
    {KEY_DAEMON, "control_group", "wheel", "wheel"},
    {KEY_DAEMON, "log_dir", "../log/drover", "/etc/log/drover"},
    {KEY_DAEMON, "log_level", "debug", "debug"},
    {KEY_DAEMON, "include", "conf.d/*.ini /opt/x.ini", "/etc/drover/conf.d/*.ini, /opt/x.ini"},
    {KEY_DAEMON, "shutdown_timeout", "1m30s", "1m30s"},
    {KEY_DAEMON, "metrics_listen", "tcp:127.0.0.1:9101", "tcp:127.0.0.1:9101"},
    {KEY_DAEMON, "shutdown_delay", "5s", "5s"},
    {KEY_DAEMON, "cgroup", "/sys/fs/cgroup/drover", "/sys/fs/cgroup/drover"},
    {KEY_POOL, "command", "/usr/lib/thumbs/worker --quality 80 'a b'",
     "/usr/lib/thumbs/worker --quality 80 'a b'"},
    {KEY_POOL, "workers", "auto*2", "auto*2"},
    {KEY_POOL, "cpu_affinity", "core", "core"},
    {KEY_POOL, "directory", "/srv/./thumbs/", "/srv/thumbs"},
    {KEY_POOL, "user", "thumbs", "thumbs"},
    {KEY_POOL, "group", "thumbs", "thumbs"},
    {KEY_POOL, "environment", "MODE=prod, CACHE=\"/var/cache, x\"",
     "MODE=prod, CACHE=/var/cache, x"},
    {KEY_POOL, "restart", "on-failure", "on-failure"},
    {KEY_POOL, "restart_delay", "250ms", "250ms"},
    {KEY_POOL, "restart_delay_max", "1min", "1m"},
    {KEY_POOL, "crash_limit", "5/30s", "5/30s"},
    {KEY_POOL, "crash_restart_rate", "50/2s", "50/2s"},
    {KEY_POOL, "on_fatal", "exit", "exit"},
    {KEY_POOL, "ready", "notify", "notify"},
    {KEY_POOL, "start_timeout", "5s", "5s"},
    {KEY_POOL, "start_grace", "300ms", "300ms"},
    {KEY_POOL, "watchdog", "2s", "2s"},
    {KEY_POOL, "notify_access", "all", "all"},
    {KEY_POOL, "check_command", "bin/check --deep", "bin/check --deep"},
    {KEY_POOL, "check_interval", "500ms", "500ms"},
    {KEY_POOL, "check_timeout", "2s", "2s"},
    {KEY_POOL, "check_failures", "5", "5"},
    {KEY_POOL, "stop_signal", "SIGINT", "INT"},
    {KEY_POOL, "stop_timeout", "3s", "3s"},
    {KEY_POOL, "signal_target", "main", "main"},
    {KEY_POOL, "stdout", "null", "null"},
    {KEY_POOL, "log_max_size", "20M", "20971520"},
    {KEY_POOL, "log_keep", "3", "3"},
    {KEY_POOL, "log_stderr", "merged", "merged"},
    {KEY_POOL, "listen", "thumbs.sock", "/etc/drover/thumbs.sock"},
    {KEY_POOL, "socket_mode", "0600", "0600"},
    {KEY_POOL, "socket_group", "nogroup", "nogroup"},
    {KEY_POOL, "mode", "handoff", "handoff"},
    {KEY_POOL, "framing", "line", "line"},
    {KEY_POOL, "work_fd", "stdio", "stdio"},
    {KEY_POOL, "max_queue", "10", "10"},
    {KEY_POOL, "request_timeout", "1s", "1s"},
    {KEY_POOL, "max_attempts", "3", "3"},
    {KEY_POOL, "max_requests", "1000", "1000"},
    {KEY_POOL, "memory_recycle", "128M", "134217728"},
    {KEY_POOL, "worker_inflight", "4", "4"},
    {KEY_POOL, "max_frame", "64K", "65536"},
    {KEY_POOL, "frame_timeout", "90s", "1m30s"},
    {KEY_DAEMON, "buffer_limit", "1G", "1073741824"},
    {KEY_POOL, "queue_timeout", "1500ms", "1s500ms"},
    {KEY_POOL, "client_buffer", "64k", "65536"},
    {KEY_POOL, "pool_buffer", "0", "0"},
    {KEY_POOL, "tls_cert", "tls/server.pem", "/etc/drover/tls/server.pem"},
    {KEY_POOL, "tls_key", "/etc/ssl/private/k.pem", "/etc/ssl/private/k.pem"},
    {KEY_POOL, "tls_client_ca", "ca.pem", "/etc/drover/ca.pem"},
    {KEY_POOL, "tls_handshake_timeout", "2500ms", "2s500ms"},
    {KEY_POOL, "insecure_tcp", "yes", "yes"},
    {KEY_POOL, "memory_max", "512M", "512M"},
    {KEY_POOL, "memory_high", "max", "max"},
    {KEY_POOL, "pids_max", "64", "64"},
    {KEY_POOL, "cpu_quota", "150%", "150%"},
    {KEY_POOL, "cpu_weight", "200", "200"},
};

static void test_good_value_for_every_key(void **state)
{
    struct daemon_config dc;
    struct pool_config pc;
    bool covered[DAEMON_KEY_COUNT + POOL_KEY_COUNT] = {false};

    (void)state;
    memset(&dc, 0, sizeof(dc));
    memset(&pc, 0, sizeof(pc));
    assert_int_equal(keys_apply_defaults(KEY_DAEMON, &dc, &env, err, sizeof(err)), 0);
    assert_int_equal(keys_apply_defaults(KEY_POOL, &pc, &env, err, sizeof(err)), 0);
    for (size_t i = 0; i < sizeof(good_values) / sizeof(good_values[0]); i++) {
        const struct key *k = key(good_values[i].section, good_values[i].name);
        void *base = base_of(k->section, &dc, &pc);
        char *text;

        err[0] = '\0';
        if (key_value_parse(k, &ctx, good_values[i].value, base) != 0)
            fail_msg("%s = %s: %s", k->name, good_values[i].value, err);
        text = key_value_format(k, base);
        if (strcmp(text, good_values[i].canonical) != 0)
            fail_msg("%s = %s: formats as '%s', want '%s'", k->name, good_values[i].value, text,
                     good_values[i].canonical);
        free(text);
        covered[k - key_table] = true;
    }
    for (size_t i = 0; i < key_table_len; i++)
        if (!covered[i])
            fail_msg("no good value tested for key '%s'", key_table[i].name);
    /* A few fields checked directly. */
    assert_int_equal(pc.crash_limit.count, 5);
    assert_int_equal(pc.crash_limit.window_us, 30 * SEC);
    assert_int_equal(pc.stop_signal, SIGINT);
    assert_int_equal(pc.work_fd, WORK_FD_STDIO);
    assert_int_equal(pc.mode, ROUTE_HANDOFF);
    assert_int_equal(dc.log_level, LOG_LEVEL_DEBUG);
    assert_string_equal(pc.environment[1], "CACHE=/var/cache, x");
    assert_null(pc.environment[2]);
    assert_string_equal(dc.include[0], "/etc/drover/conf.d/*.ini");
    free_values(&dc, &pc);
}

static void test_more_good_values(void **state)
{
    static const struct {
        const char *name, *value, *canonical;
    } cases[] = {
        {"workers", "auto", "auto"},
        {"workers", "0", "0"},
        {"workers", "12", "12"},
        {"crash_limit", "none", "none"},
        {"crash_limit", "0", "none"},
        {"stop_signal", "9", "KILL"},
        {"stop_signal", "37", "SIG37"},
        {"stop_signal", "RTMIN+3", "SIG37"}, /* glibc: SIGRTMIN is 34 */
        {"environment", "", ""},
        {"listen", "tcp:[::1]:8080", "tcp:[::1]:8080"},
        {"listen", "tcp:0.0.0.0:1", "tcp:0.0.0.0:1"},
        {"listen", "tcp:10.0.0.1:65535", "tcp:10.0.0.1:65535"},
        {"listen", "/run/x//y.sock", "/run/x/y.sock"},
        {"max_requests", "18446744073709551615", "18446744073709551615"},
        {"max_frame", "16", "16"},
        {"max_frame", "256M", "268435456"},
        {"log_max_size", "4096", "4096"},
        {"start_timeout", "1ms", "1ms"},
        {"worker_inflight", "1024", "1024"},
        {"log_keep", "0", "0"},
        {"max_queue", "0", "0"},
    };
    struct pool_config pc;

    (void)state;
    memset(&pc, 0, sizeof(pc));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct key *k = key(KEY_POOL, cases[i].name);
        char *text;
        if (key_value_parse(k, &ctx, cases[i].value, &pc) != 0)
            fail_msg("%s = %s: %s", k->name, cases[i].value, err);
        text = key_value_format(k, &pc);
        if (strcmp(text, cases[i].canonical) != 0)
            fail_msg("%s = %s: formats as '%s', want '%s'", k->name, cases[i].value, text,
                     cases[i].canonical);
        free(text);
    }
    free_values(NULL, &pc);
}

/* --- bad values --------------------------------------------------------- */

static void bad(enum key_section s, const char *name, const char *value, const char *msg)
{
    struct daemon_config dc;
    struct pool_config pc;
    const struct key *k = key(s, name);

    memset(&dc, 0, sizeof(dc));
    memset(&pc, 0, sizeof(pc));
    err[0] = '\0';
    if (key_value_parse(k, &ctx, value, base_of(s, &dc, &pc)) == 0)
        fail_msg("%s = '%s' was accepted", name, value);
    if (strcmp(err, msg) != 0)
        fail_msg("%s = '%s': error \"%s\", want \"%s\"", name, value, err, msg);
    free_values(&dc, &pc);
}

static void test_bad_choices(void **state)
{
    (void)state;
    bad(KEY_POOL, "restart", "sometimes",
        "invalid value 'sometimes' (expected one of: always, on-failure, never)");
    bad(KEY_POOL, "stdout", "LOG", "invalid value 'LOG' (expected one of: log, inherit, null)");
    bad(KEY_POOL, "log_stderr", "file", "invalid value 'file' (expected one of: marked, merged)");
    bad(KEY_POOL, "mode", "", "invalid value '' (expected one of: message, handoff, shared)");
    bad(KEY_POOL, "framing", "lines", "invalid value 'lines' (expected one of: length, line)");
    bad(KEY_POOL, "work_fd", "4", "invalid value '4' (expected one of: 3, stdio)");
    bad(KEY_POOL, "cpu_affinity", "all", "invalid value 'all' (expected one of: none, core)");
    bad(KEY_POOL, "ready", "yes", "invalid value 'yes' (expected one of: exec, notify)");
    bad(KEY_POOL, "on_fatal", "die", "invalid value 'die' (expected one of: stay, exit)");
    bad(KEY_DAEMON, "log_level", "verbose",
        "invalid value 'verbose' (expected one of: error, warn, info, debug)");
}

static void test_bad_numbers(void **state)
{
    (void)state;
    bad(KEY_POOL, "log_keep", "101", "101 is out of range (0 to 100)");
    bad(KEY_POOL, "log_keep", "-1", "'-1' is not a whole number");
    bad(KEY_POOL, "max_attempts", "0", "0 is out of range (1 to 100)");
    bad(KEY_POOL, "worker_inflight", "1025", "1025 is out of range (1 to 1024)");
    bad(KEY_POOL, "worker_inflight", "0", "0 is out of range (1 to 1024)");
    bad(KEY_POOL, "max_queue", "1000001", "1000001 is out of range (0 to 1000000)");
    bad(KEY_POOL, "max_requests", "lots", "'lots' is not a whole number");
    bad(KEY_POOL, "workers", "many",
        "invalid workers 'many' (expected 0 to 4096, auto, or auto*K)");
    bad(KEY_POOL, "crash_limit", "10",
        "invalid crash_limit '10' (expected COUNT/WINDOW like 10/60s, or none)");
    bad(KEY_POOL, "crash_restart_rate", "10",
        "invalid crash_restart_rate '10' (expected COUNT/WINDOW like 10/1s, or none)");
    bad(KEY_POOL, "crash_restart_rate", "1/0s",
        "invalid crash_restart_rate '1/0s' (expected COUNT/WINDOW like 10/1s, or none)");
    bad(KEY_POOL, "stop_signal", "TERMINATE",
        "unknown signal 'TERMINATE' (use a name like TERM or a number)");
    bad(KEY_POOL, "socket_mode", "rw", "invalid file mode 'rw' (expected octal, like 0660)");
    bad(KEY_DAEMON, "control_mode", "10000", "file mode '10000' is out of range (at most 07777)");
}

static void test_bad_durations_and_sizes(void **state)
{
    (void)state;
    bad(KEY_POOL, "restart_delay", "100", "duration '100' needs a unit (us, ms, s, m, h, d)");
    bad(KEY_DAEMON, "shutdown_timeout", "forever",
        "invalid duration 'forever' (expected a number and a unit, like 100ms, 10s, 5m)");
    bad(KEY_POOL, "max_frame", "8", "size '8' is out of range (16B to 256M)");
    bad(KEY_POOL, "max_frame", "512M", "size '512M' is out of range (16B to 256M)");
    bad(KEY_POOL, "log_max_size", "10MB", "invalid size '10MB': trailing 'B'");
}

/*
 * BUG (common/keys.c, parse_duration_key / parse_size_key): a key with a
 * minimum but no maximum (max = 0) reports its range as "(1ms to 0)" or
 * "(4.0K to 0B)", which reads as an impossible range. The message should
 * state the minimum alone.
 */
static void test_bad_range_without_maximum(void **state)
{
    struct pool_config pc;
    const struct key *k;

    (void)state;
    memset(&pc, 0, sizeof(pc));
    k = key(KEY_POOL, "start_timeout");
    assert_int_equal(key_value_parse(k, &ctx, "500us", &pc), -1);
    assert_non_null(strstr(err, "500us"));
    assert_non_null(strstr(err, "1ms"));
    if (strstr(err, " to 0)") != NULL)
        fail_msg("start_timeout = 500us: \"%s\" gives an upper bound of 0", err);
    k = key(KEY_POOL, "request_timeout");
    assert_int_equal(key_value_parse(k, &ctx, "0", &pc), -1);
    if (strstr(err, " to 0)") != NULL)
        fail_msg("request_timeout = 0: \"%s\" gives an upper bound of 0", err);
    k = key(KEY_POOL, "log_max_size");
    assert_int_equal(key_value_parse(k, &ctx, "1K", &pc), -1);
    assert_non_null(strstr(err, "4.0K"));
    if (strstr(err, " to 0B)") != NULL)
        fail_msg("log_max_size = 1K: \"%s\" gives an upper bound of 0B", err);
}

static void test_bad_strings_and_paths(void **state)
{
    char longpath[PATH_MAX + 8];
    char longsock[200];

    (void)state;
    bad(KEY_DAEMON, "control_group", "", "empty value");
    bad(KEY_POOL, "user", "", "empty value");
    bad(KEY_POOL, "directory", "", "empty path");
    bad(KEY_DAEMON, "log_dir", "", "empty path");
    bad(KEY_POOL, "listen", "", "empty path");
    bad(KEY_DAEMON, "control_socket", "", "empty path");
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    bad(KEY_POOL, "directory", longpath, "path is too long");
    /* 108 bytes with the NUL is the most sun_path holds. */
    memset(longsock, 'a', sizeof(longsock));
    longsock[0] = '/';
    longsock[107] = '\0';
    {
        struct pool_config pc;
        const struct key *k = key(KEY_POOL, "listen");
        memset(&pc, 0, sizeof(pc));
        assert_int_equal(key_value_parse(k, &ctx, longsock, &pc), 0);
        free(pc.listen);
    }
    longsock[107] = 'a';
    longsock[108] = '\0';
    {
        char msg[PARSE_ERR_MAX];
        snprintf(msg, sizeof(msg), "socket path '%s' is longer than 107 bytes", longsock);
        bad(KEY_POOL, "listen", longsock, msg);
    }
    /* Relative socket paths are measured after resolving. */
    memset(longsock, 'b', 100);
    longsock[100] = '\0';
    {
        char msg[PARSE_ERR_MAX];
        snprintf(msg, sizeof(msg), "socket path '/etc/drover/%s' is longer than 107 bytes",
                 longsock);
        bad(KEY_DAEMON, "control_socket", longsock, msg);
    }
}

static void test_bad_listen(void **state)
{
    (void)state;
    bad(KEY_POOL, "listen", "tcp:localhost:80",
        "invalid listen 'tcp:localhost:80': 'localhost' is not a numeric IP address");
    bad(KEY_POOL, "listen", "tcp:127.0.0.1",
        "invalid listen 'tcp:127.0.0.1' (expected tcp:HOST:PORT)");
    bad(KEY_POOL, "listen", "tcp:127.0.0.1:0", "invalid listen 'tcp:127.0.0.1:0': bad port '0'");
    bad(KEY_POOL, "listen", "tcp:127.0.0.1:65536",
        "invalid listen 'tcp:127.0.0.1:65536': bad port '65536'");
    bad(KEY_POOL, "listen", "tcp:127.0.0.1:http",
        "invalid listen 'tcp:127.0.0.1:http': bad port 'http'");
    bad(KEY_POOL, "listen", "tcp:127.0.0.1:", "invalid listen 'tcp:127.0.0.1:': bad port ''");
    bad(KEY_POOL, "listen", "tcp::80", "invalid listen 'tcp::80': '' is not a numeric IP address");
    bad(KEY_POOL, "listen", "tcp:[::1]8080",
        "invalid listen 'tcp:[::1]8080' (expected tcp:[IPV6]:PORT)");
    bad(KEY_POOL, "listen", "tcp:[::1:8080",
        "invalid listen 'tcp:[::1:8080' (expected tcp:[IPV6]:PORT)");
    bad(KEY_POOL, "listen", "tcp:[127.0.0.1]:80",
        "invalid listen 'tcp:[127.0.0.1]:80': '127.0.0.1' is not a numeric IP address");
    bad(KEY_POOL, "listen", "tcp:::1:80",
        "invalid listen 'tcp:::1:80': '::1' is not a numeric IP address");
    bad(KEY_DAEMON, "metrics_listen", "9101",
        "invalid metrics_listen '9101' (expected HOST:PORT, like 127.0.0.1:9101)");
    bad(KEY_DAEMON, "metrics_listen", "tcp:9101",
        "invalid metrics_listen 'tcp:9101' (expected HOST:PORT, like 127.0.0.1:9101)");
    bad(KEY_DAEMON, "metrics_listen", "",
        "invalid metrics_listen '' (expected HOST:PORT, like 127.0.0.1:9101)");
    bad(KEY_DAEMON, "metrics_listen", "tcp:1.2.3.4.5:80",
        "invalid listen 'tcp:1.2.3.4.5:80': '1.2.3.4.5' is not a numeric IP address");
}

static void test_bad_splitters(void **state)
{
    (void)state;
    bad(KEY_POOL, "command", "", "empty command");
    bad(KEY_POOL, "command", "worker | tee log",
        "'|' is shell syntax, but drover runs the command directly without a shell (quote it, "
        "or use: sh -c '...')");
    bad(KEY_POOL, "command", "worker 'x", "unterminated quote in command");
    bad(KEY_POOL, "environment", "A",
        "invalid environment entry 'A' (expected NAME=VALUE, "
        "with NAME made of letters, digits and _)");
    bad(KEY_DAEMON, "include", "conf.d/*.ini; rm",
        "';' is shell syntax, but drover runs the "
        "command directly without a shell (quote "
        "it, or use: sh -c '...')");
}

/* A failed parse leaves the previous value in place. */
static void test_bad_value_keeps_old(void **state)
{
    struct pool_config pc;
    const struct key *cmd = key(KEY_POOL, "command"), *envk = key(KEY_POOL, "environment");

    (void)state;
    memset(&pc, 0, sizeof(pc));
    assert_int_equal(key_value_parse(cmd, &ctx, "/bin/a", &pc), 0);
    assert_int_equal(key_value_parse(cmd, &ctx, "/bin/a |", &pc), -1);
    assert_string_equal(pc.command, "/bin/a");
    assert_int_equal(key_value_parse(envk, &ctx, "A=1", &pc), 0);
    assert_int_equal(key_value_parse(envk, &ctx, "B", &pc), -1);
    assert_string_equal(pc.environment[0], "A=1");
    free_values(NULL, &pc);
}

/* --- value helpers ------------------------------------------------------ */

static void test_equal_copy_free(void **state)
{
    struct pool_config a, b;

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    assert_int_equal(keys_apply_defaults(KEY_POOL, &a, &env, err, sizeof(err)), 0);
    for (size_t i = 0; i < sizeof(good_values) / sizeof(good_values[0]); i++) {
        const struct key *k;
        if (good_values[i].section != KEY_POOL)
            continue;
        k = key(KEY_POOL, good_values[i].name);
        assert_int_equal(key_value_parse(k, &ctx, good_values[i].value, &a), 0);
    }
    /* A deep copy is equal key by key and owns its strings. */
    for (size_t i = 0; i < key_table_len; i++)
        if (key_table[i].section == KEY_POOL)
            key_value_copy(&key_table[i], &b, &a);
    for (size_t i = 0; i < key_table_len; i++) {
        const struct key *k = &key_table[i];
        if (k->section != KEY_POOL)
            continue;
        if (!key_value_equal(k, &a, &b))
            fail_msg("%s: copy differs", k->name);
    }
    assert_ptr_not_equal(a.command, b.command);
    assert_ptr_not_equal(a.environment, b.environment);
    assert_ptr_not_equal(a.environment[0], b.environment[0]);
    /* Each type notices a change. */
    b.workers.multiplier = 3;
    assert_false(key_value_equal(key(KEY_POOL, "workers"), &a, &b));
    b.crash_limit.window_us++;
    assert_false(key_value_equal(key(KEY_POOL, "crash_limit"), &a, &b));
    b.socket_mode = 0644;
    assert_false(key_value_equal(key(KEY_POOL, "socket_mode"), &a, &b));
    b.log_keep++;
    assert_false(key_value_equal(key(KEY_POOL, "log_keep"), &a, &b));
    b.stop_timeout_us++;
    assert_false(key_value_equal(key(KEY_POOL, "stop_timeout"), &a, &b));
    b.mode = ROUTE_SHARED;
    assert_false(key_value_equal(key(KEY_POOL, "mode"), &a, &b));
    b.command[0] = 'X';
    assert_false(key_value_equal(key(KEY_POOL, "command"), &a, &b));
    b.environment[1][0] = 'X';
    assert_false(key_value_equal(key(KEY_POOL, "environment"), &a, &b));
    /* Free resets to NULL, so a double free is impossible. */
    free_values(NULL, &a);
    free_values(NULL, &b);
    assert_null(a.command);
    assert_null(a.environment);
    free_values(NULL, &a);
}

static void test_equal_null_and_empty(void **state)
{
    struct pool_config a, b;
    const struct key *cmd = key(KEY_POOL, "command"), *envk = key(KEY_POOL, "environment");
    char *empty[] = {NULL};
    char *one[] = {"A=1", NULL};
    char *two[] = {"A=1", "B=2", NULL};

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    assert_true(key_value_equal(cmd, &a, &b)); /* both unset */
    a.command = "x";
    assert_false(key_value_equal(cmd, &a, &b));
    assert_false(key_value_equal(cmd, &b, &a));
    /* No environment and an empty one mean the same. */
    assert_true(key_value_equal(envk, &a, &b));
    a.environment = empty;
    assert_true(key_value_equal(envk, &a, &b));
    a.environment = one;
    assert_false(key_value_equal(envk, &a, &b));
    b.environment = two;
    assert_false(key_value_equal(envk, &a, &b));
    assert_false(key_value_equal(envk, &b, &a));
    b.environment = one;
    assert_true(key_value_equal(envk, &a, &b));
}

static void test_format_unset(void **state)
{
    struct pool_config pc;
    char *s;

    (void)state;
    memset(&pc, 0, sizeof(pc));
    s = key_value_format(key(KEY_POOL, "listen"), &pc);
    assert_string_equal(s, "");
    free(s);
    s = key_value_format(key(KEY_POOL, "environment"), &pc);
    assert_string_equal(s, "");
    free(s);
    pc.workers = (struct workers_spec){.is_auto = false, .count = 7, .multiplier = 1};
    s = key_value_format(key(KEY_POOL, "workers"), &pc);
    assert_string_equal(s, "7");
    free(s);
}

/* --- generated reference ------------------------------------------------ */

static char *capture(void (*print)(FILE *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);

    assert_non_null(fp);
    print(fp);
    fclose(fp);
    return text;
}

static void test_reference(void **state)
{
    char *md = capture(keys_print_markdown), *man = capture(keys_print_man);

    (void)state;
    assert_non_null(strstr(md, "[daemon]"));
    assert_non_null(strstr(md, "[pool:NAME]"));
    assert_non_null(strstr(man, ".SS [daemon]"));
    for (size_t i = 0; i < key_table_len; i++) {
        char want[128];
        snprintf(want, sizeof(want), "| `%s` |", key_table[i].name);
        if (strstr(md, want) == NULL)
            fail_msg("markdown lacks %s", want);
        snprintf(want, sizeof(want), ".B %s\n", key_table[i].name);
        if (strstr(man, want) == NULL)
            fail_msg("man page lacks %s", key_table[i].name);
    }
    assert_non_null(strstr(md, "| `restart` | `always` | applied live |"));
    assert_non_null(strstr(md, "| `command` | required | workers restart one at a time |"));
    free(md);
    free(man);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_table_shape),
        cmocka_unit_test(test_section_index),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_enum_names),
        cmocka_unit_test(test_kind_storage),
        cmocka_unit_test(test_rows_outside_the_table),
        cmocka_unit_test(test_daemon_defaults),
        cmocka_unit_test(test_pool_defaults),
        cmocka_unit_test(test_defaults_round_trip),
        cmocka_unit_test(test_good_value_for_every_key),
        cmocka_unit_test(test_more_good_values),
        cmocka_unit_test(test_bad_choices),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_bad_durations_and_sizes),
        cmocka_unit_test(test_bad_range_without_maximum),
        cmocka_unit_test(test_bad_strings_and_paths),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_bad_splitters),
        cmocka_unit_test(test_bad_value_keeps_old),
        cmocka_unit_test(test_equal_copy_free),
        cmocka_unit_test(test_equal_null_and_empty),
        cmocka_unit_test(test_format_unset),
        cmocka_unit_test(test_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
