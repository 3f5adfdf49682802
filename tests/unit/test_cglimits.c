/* SPDX-License-Identifier: ISC */
/*
 * Per-worker limits (common/cglimits.c): every value and every refusal of
 * the parsers, the texts written to a slot's cgroup files, the controllers
 * each key needs, the pure check over a probe (fixtures in
 * tests/data/cgroup/limits-*), and the refusal of a config with FILE:LINE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cglimits.h"
#include "cgroupfs.h"
#include "config.h"

static void size_ok(const char *s, uint64_t want)
{
    char err[256] = "";
    uint64_t v = 0;

    assert_int_equal(cg_parse_limit_size(s, &v, err, sizeof(err)), 0);
    assert_true(v == want);
}

static void size_bad(const char *s, const char *reason)
{
    char err[256] = "";
    uint64_t v = 7;

    assert_int_equal(cg_parse_limit_size(s, &v, err, sizeof(err)), -1);
    assert_true(v == 7);
    if (strstr(err, reason) == NULL)
        fail_msg("'%s': '%s' lacks '%s'", s, err, reason);
}

static void test_parse_size(void **state)
{
    (void)state;
    size_ok("512M", 512ULL << 20);
    size_ok("1G", 1ULL << 30);
    size_ok("4K", 4096);
    size_ok("4096", 4096);
    size_ok("max", CG_LIMIT_MAX);
    size_bad("4095", "too small (at least 4K, or max");
    size_bad("0", "too small");
    size_bad("", "invalid size");
    size_bad("lots", "invalid size");
    size_bad("512X", "unknown suffix");
    size_bad("512MB", "trailing");
    size_bad("-1", "invalid size");
    size_bad("MAX", "invalid size");
    size_bad("99999999999999999999", "too large");
    size_bad("18446744073709551615", "too large"); /* UINT64_MAX means max: not a size */
}

static void count_ok(const char *s, uint64_t want)
{
    char err[256] = "";
    uint64_t v = 0;

    assert_int_equal(cg_parse_limit_count(s, &v, err, sizeof(err)), 0);
    assert_true(v == want);
}

static void count_bad(const char *s)
{
    char err[256] = "";
    uint64_t v = 7;

    assert_int_equal(cg_parse_limit_count(s, &v, err, sizeof(err)), -1);
    assert_true(v == 7);
    assert_true(err[0] != '\0');
}

static void test_parse_count(void **state)
{
    (void)state;
    count_ok("1", 1);
    count_ok("64", 64);
    count_ok("max", CG_LIMIT_MAX);
    count_bad("0");
    count_bad("");
    count_bad("none");
    count_bad("-5");
    count_bad("10k");
    count_bad("18446744073709551615");
}

static void quota_ok(const char *s, unsigned want)
{
    char err[256] = "";
    unsigned v = 0;

    assert_int_equal(cg_parse_cpu_quota(s, &v, err, sizeof(err)), 0);
    assert_int_equal(v, want);
}

static void quota_bad(const char *s, const char *reason)
{
    char err[256] = "";
    unsigned v = 7;

    assert_int_equal(cg_parse_cpu_quota(s, &v, err, sizeof(err)), -1);
    assert_int_equal(v, 7);
    if (strstr(err, reason) == NULL)
        fail_msg("'%s': '%s' lacks '%s'", s, err, reason);
}

static void test_parse_cpu_quota(void **state)
{
    (void)state;
    quota_ok("50%", 50);
    quota_ok("150%", 150);
    quota_ok("1%", 1);
    quota_ok("100000%", 100000);
    quota_bad("50", "expected a percentage");
    quota_bad("%", "expected a percentage");
    quota_bad("", "expected a percentage");
    quota_bad("0%", "out of range (1% to 100000%)");
    quota_bad("100001%", "out of range");
    quota_bad("-5%", "out of range");
    quota_bad("1.5%", "out of range");
    quota_bad("50%%", "out of range");
    quota_bad("1234567890123456789012345678901234567890%", "out of range");
}

static void test_file_texts(void **state)
{
    char buf[64];

    (void)state;
    cg_limit_file_text(512ULL << 20, buf, sizeof(buf));
    assert_string_equal(buf, "536870912");
    cg_limit_file_text(CG_LIMIT_MAX, buf, sizeof(buf));
    assert_string_equal(buf, "max");
    cg_limit_file_text(0, buf, sizeof(buf)); /* not set: the kernel's default */
    assert_string_equal(buf, "max");
    cg_cpu_max_text(50, buf, sizeof(buf));
    assert_string_equal(buf, "50000 100000");
    cg_cpu_max_text(150, buf, sizeof(buf));
    assert_string_equal(buf, "150000 100000");
    cg_cpu_max_text(0, buf, sizeof(buf));
    assert_string_equal(buf, "max 100000");
    cg_format_limit(512ULL << 20, true, buf, sizeof(buf));
    assert_string_equal(buf, "512M");
    cg_format_limit(64, false, buf, sizeof(buf));
    assert_string_equal(buf, "64");
    cg_format_limit(CG_LIMIT_MAX, true, buf, sizeof(buf));
    assert_string_equal(buf, "max");
    cg_format_limit(0, true, buf, sizeof(buf));
    assert_string_equal(buf, "");
}

static void test_controllers(void **state)
{
    struct cg_limits l = {0};

    (void)state;
    assert_int_equal(cg_limits_controllers(&l), 0);
    l.memory_max = CG_LIMIT_MAX; /* max asks for nothing */
    l.pids_max = CG_LIMIT_MAX;
    assert_int_equal(cg_limits_controllers(&l), 0);
    l.memory_high = 1 << 20;
    assert_int_equal(cg_limits_controllers(&l), CG_CTRL_MEMORY);
    l.cpu_weight = 10;
    assert_int_equal(cg_limits_controllers(&l), CG_CTRL_MEMORY | CG_CTRL_CPU);
    l = (struct cg_limits){.pids_max = 10};
    assert_int_equal(cg_limits_controllers(&l), CG_CTRL_PIDS);
    l = (struct cg_limits){.cpu_quota = 50};
    assert_int_equal(cg_limits_controllers(&l), CG_CTRL_CPU);
    assert_string_equal(cg_limit_key_name(CG_KEY_MEMORY_MAX), "memory_max");
    assert_string_equal(cg_limit_key_name(CG_KEY_CPU_WEIGHT), "cpu_weight");
    assert_string_equal(cg_controller_name(CG_CTRL_PIDS), "pids");
    assert_true(cg_controllers_have("cpuset cpu io memory", "cpu"));
    assert_true(cg_controllers_have("cpuset cpu io memory\n", "memory"));
    assert_false(cg_controllers_have("cpuset io memory", "cpu"));
    assert_false(cg_controllers_have("", "cpu"));
    assert_false(cg_controllers_have("hugetlb", "pids"));
}

/* A probe as droverd fills it, with cgroup.controllers read from a fixture. */
static void probe_fixture(struct cg_probe *p, bool on, const char *dir)
{
    memset(p, 0, sizeof(*p));
    p->on = on;
    snprintf(p->reason, sizeof(p->reason), "%s", on ? "delegated" : "not delegated");
    if (on) {
        snprintf(p->base, sizeof(p->base), "%s/cgroup/%s", DROVER_TEST_DATA, dir);
        cg_probe_controllers(p);
    }
}

static void test_check(void **state)
{
    struct cg_probe p;
    struct cg_limits l = {.memory_max = 1 << 20, .pids_max = 10, .cpu_quota = 50};
    char why[1024];

    (void)state;
    /* A pure v2 system: every controller there. */
    probe_fixture(&p, true, "limits-v2");
    assert_string_equal(p.controllers, "cpuset cpu io memory hugetlb pids rdma misc");
    for (int k = 0; k < CG_KEY__COUNT; k++)
        assert_int_equal(cg_limit_check(&p, &l, (enum cg_limit_key)k, why, sizeof(why)), 0);
    /* This machine's hybrid hierarchy: v2 without the controllers. */
    probe_fixture(&p, true, "limits-hybrid");
    assert_int_equal(cg_limit_check(&p, &l, CG_KEY_MEMORY_MAX, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "the memory controller is not available in "));
    assert_non_null(strstr(why, "(cgroup.controllers: hugetlb)"));
    assert_int_equal(cg_limit_check(&p, &l, CG_KEY_PIDS_MAX, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "the pids controller"));
    assert_int_equal(cg_limit_check(&p, &l, CG_KEY_CPU_QUOTA, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "the cpu controller"));
    /* Keys not set pass anywhere. */
    assert_int_equal(cg_limit_check(&p, &l, CG_KEY_MEMORY_HIGH, why, sizeof(why)), 0);
    assert_int_equal(cg_limit_check(&p, &l, CG_KEY_CPU_WEIGHT, why, sizeof(why)), 0);
    /* No cgroup.controllers readable: "none". */
    probe_fixture(&p, true, "no-such-dir");
    assert_int_equal(cg_limit_check(&p, &l, CG_KEY_MEMORY_MAX, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "(cgroup.controllers: none)"));
    /* Containment off. */
    probe_fixture(&p, false, NULL);
    assert_int_equal(cg_limit_check(&p, &l, CG_KEY_PIDS_MAX, why, sizeof(why)), -1);
    assert_string_equal(why, "cannot be applied: containment is off (not delegated); limits need "
                             "a cgroup per worker");
    l = (struct cg_limits){.memory_max = CG_LIMIT_MAX};
    assert_int_equal(cg_limit_check(&p, &l, CG_KEY_MEMORY_MAX, why, sizeof(why)), 0);
}

static void test_config_refused_with_file_line(void **state)
{
    static const char text[] = "[pool:web]\n"
                               "command = /bin/true\n"
                               "memory_max = 512M\n"
                               "cpu_weight = 50\n"
                               "[pool:calm]\n"
                               "command = /bin/true\n"
                               "pids_max = max\n";
    struct config_env env = {.ncpu = 2, .euid = geteuid()};
    struct config_errors errs = {0};
    struct config *cfg;
    struct cg_probe p;

    (void)state;
    cfg = config_load_string("/etc/drover/drover.ini", text, &env, &errs);
    assert_non_null(cfg);
    assert_true(cfg->pools.tqh_first->limits.memory_max == 512ULL << 20);
    probe_fixture(&p, true, "limits-v2");
    assert_int_equal(config_check_limits(cfg, &p, &errs), 0);
    assert_int_equal(errs.n, 0);
    probe_fixture(&p, true, "limits-hybrid");
    assert_int_equal(config_check_limits(cfg, &p, &errs), -1);
    assert_int_equal(errs.n, 2);
    assert_string_equal(errs.v[0].file, "/etc/drover/drover.ini");
    assert_int_equal(errs.v[0].line, 3);
    assert_non_null(strstr(errs.v[0].message, "memory_max: cannot be applied: the memory "));
    assert_int_equal(errs.v[1].line, 4);
    assert_non_null(strstr(errs.v[1].message, "cpu_weight: cannot be applied: the cpu "));
    config_errors_clear(&errs);
    config_free(cfg);
}

static void test_memory_events(void **state)
{
    (void)state;
    assert_true(cg_memory_events_oom_kills("low 0\nhigh 3\nmax 7\noom 2\noom_kill 2\n"
                                           "oom_group_kill 1\n") == 2);
    assert_true(cg_memory_events_oom_kills("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n") == 0);
    assert_true(cg_memory_events_oom_kills("oom_group_kill 4\n") == 0);
    assert_true(cg_memory_events_oom_kills("oom_kill 12") == 12);
    assert_true(cg_memory_events_oom_kills("") == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_count),
        cmocka_unit_test(test_parse_cpu_quota),
        cmocka_unit_test(test_file_texts),
        cmocka_unit_test(test_controllers),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_config_refused_with_file_line),
        cmocka_unit_test(test_memory_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
