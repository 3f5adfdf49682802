/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/cgstat.c: a worker's accounting read from fixture
 * cgroup directories (tests/data/cgroup/stat-*: every file; a hierarchy
 * without controllers, where only cpu.stat exists; garbage) and
 * /proc/PID/status texts (tests/data/proc-status/); the memory_recycle
 * comparison and the reason it gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cgroupfs.h"
#include "cgstat.h"

#define FIXTURE(name) DROVER_TEST_DATA "/cgroup/" name

static void test_stat_full(void **state)
{
    struct cg_stat st;

    (void)state;
    cg_stat_read(FIXTURE("stat-full"), &st);
    assert_true(st.has_memory);
    assert_int_equal(st.memory_bytes, 136314880);
    assert_true(st.has_peak);
    assert_int_equal(st.memory_peak_bytes, 201326592);
    assert_true(st.has_cpu);
    assert_int_equal(st.cpu_us, 2500000);
    assert_true(st.has_pids);
    assert_int_equal(st.pids, 3);
}

/* This machine's v2 hierarchy: no controllers, so only cpu.stat is there. */
static void test_stat_no_controllers(void **state)
{
    struct cg_stat st;
    uint64_t us = 0;

    (void)state;
    cg_stat_read(FIXTURE("stat-nocontrollers"), &st);
    assert_false(st.has_memory);
    assert_false(st.has_peak);
    assert_false(st.has_pids);
    assert_true(st.has_cpu);
    assert_int_equal(st.cpu_us, 1234);
    assert_int_equal(cg_stat_cpu_us(FIXTURE("stat-nocontrollers"), &us), 0);
    assert_int_equal(us, 1234);
}

static void test_stat_garbage(void **state)
{
    struct cg_stat st;
    uint64_t us;

    (void)state;
    cg_stat_read(FIXTURE("stat-garbage"), &st);
    assert_false(st.has_memory); /* "max" */
    assert_false(st.has_pids);   /* "12ab" */
    assert_false(st.has_cpu);    /* usage_usecs is another key */
    assert_int_equal(cg_stat_cpu_us(FIXTURE("absent"), &us), -1);
    cg_stat_read(FIXTURE("absent"), &st);
    assert_false(st.has_memory || st.has_peak || st.has_cpu || st.has_pids);
}

static void test_parse_u64(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(cg_parse_u64("0\n", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cg_parse_u64("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(cg_parse_u64("18446744073709551616\n", &v), -1);
    assert_int_equal(cg_parse_u64("max\n", &v), -1);
    assert_int_equal(cg_parse_u64("", &v), -1);
    assert_int_equal(cg_parse_u64("-1\n", &v), -1);
    assert_int_equal(cg_parse_u64("1 2\n", &v), -1);
}

static void test_parse_keyed(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(cg_parse_keyed("user_usec 1\nusage_usec 42\n", "usage_usec", &v), 0);
    assert_int_equal(v, 42);
    /* A key that only starts like the one asked for is another key. */
    assert_int_equal(cg_parse_keyed("usage_usec_x 1\n", "usage_usec", &v), -1);
    assert_int_equal(cg_parse_keyed("low 0\nhigh 7\nmax 0\n", "high", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(cg_parse_keyed("VmHWM:\t   5 kB\n", "VmHWM", &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(cg_parse_keyed("high x\n", "high", &v), -1);
    assert_int_equal(cg_parse_keyed("", "high", &v), -1);
    /* Not at the start of a line. */
    assert_int_equal(cg_parse_keyed("xhigh 3\n", "high", &v), -1);
}

/* A small file's text, as usage.c reads /proc/PID/status. */
static void read_fixture(const char *name, char *buf, size_t n)
{
    char path[512];

    snprintf(path, sizeof(path), DROVER_TEST_DATA "/proc-status/%s", name);
    assert_int_equal(cg_read_text(path, buf, n), 0);
}

static void test_proc_status(void **state)
{
    char buf[2048];
    struct proc_mem m;

    (void)state;
    read_fixture("worker", buf, sizeof(buf));
    assert_int_equal(proc_mem_parse(buf, &m), 0);
    assert_true(m.has_rss && m.has_peak);
    assert_int_equal(m.rss_bytes, 131072ULL * 1024);
    assert_int_equal(m.peak_bytes, 150000ULL * 1024);
    read_fixture("kthread", buf, sizeof(buf));
    assert_int_equal(proc_mem_parse(buf, &m), -1);
    assert_false(m.has_rss || m.has_peak);
}

static void test_proc_stat(void **state)
{
    /* A real line (cat), fields 14 and 15 = 7 and 5 ticks, 24 = 366 pages. */
    const char *line =
        "22700 (cat) R 22073 22073 26712 0 -1 4194304 100 0 0 0 7 5 0 0 20 0 1 0 4549170 3133440 "
        "366 18446744073709551615 94840195321856 0 0 17 1 0 0 0 0\n";
    uint64_t ticks = 1, pages = 1;

    (void)state;
    assert_int_equal(proc_stat_parse(line, &ticks, &pages), 0);
    assert_int_equal(ticks, 12);
    assert_int_equal(pages, 366);
    /* A command name with spaces and parentheses: counted from the last ')'. */
    assert_int_equal(proc_stat_parse("1 (a) b) (c)) S 0 1 1 0 -1 0 0 0 0 0 3 4 0 0 -20 -5 1 0 9 9 "
                                     "12 0",
                                     &ticks, &pages),
                     0);
    assert_int_equal(ticks, 7);
    assert_int_equal(pages, 12);
    /* Negative fields (priority, nice) parse; a negative rss counts as 0. */
    assert_int_equal(
        proc_stat_parse("1 (x) S 0 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 9 -4", &ticks, &pages), 0);
    assert_int_equal(pages, 0);
    /* Refused: no ')', no state, fields missing, a field not a number, two spaces, overflow. */
    assert_int_equal(proc_stat_parse("1 x S 0", &ticks, &pages), -1);
    assert_int_equal(proc_stat_parse("1 (x)", &ticks, &pages), -1);
    assert_int_equal(proc_stat_parse("1 (x) ", &ticks, &pages), -1);
    assert_int_equal(proc_stat_parse("1 (x)  S 0", &ticks, &pages), -1);
    assert_int_equal(
        proc_stat_parse("1 (x) S 0 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 9", &ticks, &pages), -1);
    assert_int_equal(
        proc_stat_parse("1 (x) S 0 1 1 0 -1 0 0 0 0 0 1 y 0 0 20 0 1 0 9 9 3", &ticks, &pages), -1);
    assert_int_equal(
        proc_stat_parse("1 (x) S 0 1 1 0 -1 0 0 0 0 0 1  1 0 0 20 0 1 0 9 9 3", &ticks, &pages),
        -1);
    assert_int_equal(proc_stat_parse("1 (x) S 0 1 1 0 -1 0 0 0 0 0 99999999999999999999 1 0 0 20 0 "
                                     "1 0 9 9 3",
                                     &ticks, &pages),
                     -1);
    assert_int_equal(
        proc_stat_parse("1 (x) S 0 1 1 0 - 0 0 0 0 0 1 1 0 0 20 0 1 0 9 9 3", &ticks, &pages), -1);
}

static void test_recycle_over(void **state)
{
    char why[160];
    const uint64_t m128 = 128ULL << 20;

    (void)state;
    assert_false(recycle_memory_over(m128 + 1, 0, why, sizeof(why))); /* 0 = never */
    assert_false(recycle_memory_over(m128, m128, why, sizeof(why)));  /* at it is not over */
    assert_false(recycle_memory_over(1, m128, why, sizeof(why)));
    assert_true(recycle_memory_over(130ULL << 20, m128, why, sizeof(why)));
    assert_string_equal(why, "memory 130M over memory_recycle 128M");
    /* Just over: both round to 128M, so the bytes say it. */
    assert_true(recycle_memory_over(m128 + 4096, m128, why, sizeof(why)));
    assert_string_equal(why, "memory 134221824 bytes over memory_recycle 128M (134217728)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stat_full),    cmocka_unit_test(test_stat_no_controllers),
        cmocka_unit_test(test_stat_garbage), cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_parse_keyed),  cmocka_unit_test(test_proc_status),
        cmocka_unit_test(test_recycle_over), cmocka_unit_test(test_proc_stat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
