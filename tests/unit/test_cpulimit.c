/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/cpulimit.c: the CPU list and cpu.max parsers, and
 * the count workers = auto takes from fixture trees under
 * tests/data/cgroup/ (each a root with proc/self/mountinfo,
 * proc/self/cgroup and the cgroup files).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpulimit.h"

#define FIXTURE(name) DROVER_TEST_DATA "/cgroup/" name

/* --- cpu_list_count ----------------------------------------------------- */

static void test_cpu_list(void **state)
{
    unsigned n = 99;

    (void)state;
    assert_int_equal(cpu_list_count("0-3,8,10-11\n", &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(cpu_list_count("5", &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cpu_list_count("0-63", &n), 0);
    assert_int_equal(n, 64);
    /* An empty cpuset (a v2 cgroup whose cpuset is not enabled) counts 0. */
    assert_int_equal(cpu_list_count("\n", &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(cpu_list_count("", &n), 0);
    assert_int_equal(n, 0);
}

static void test_cpu_list_bad(void **state)
{
    unsigned n = 42;

    (void)state;
    assert_int_equal(cpu_list_count("0-", &n), -1);
    assert_int_equal(cpu_list_count("3-1", &n), -1);
    assert_int_equal(cpu_list_count("a", &n), -1);
    assert_int_equal(cpu_list_count("1,,2", &n), -1);
    assert_int_equal(cpu_list_count("1,", &n), -1);
    assert_int_equal(cpu_list_count("1 2", &n), -1);
    assert_int_equal(cpu_list_count("99999999999999999999", &n), -1);
    assert_int_equal(cpu_list_count("0-99999", &n), -1);
    assert_int_equal(n, 42); /* untouched on error */
}

/* --- cpu_max_parse ------------------------------------------------------ */

static void test_cpu_max(void **state)
{
    uint64_t q = 1, p = 1;

    (void)state;
    assert_int_equal(cpu_max_parse("50000 100000\n", &q, &p), 0);
    assert_int_equal(q, 50000);
    assert_int_equal(p, 100000);
    assert_int_equal(cpu_max_parse("max 100000", &q, &p), 0);
    assert_int_equal(q, 0);
    assert_int_equal(p, 100000);
    /* The kernel accepts the quota alone; the period stays at its default. */
    assert_int_equal(cpu_max_parse("max", &q, &p), 0);
    assert_int_equal(q, 0);
    assert_int_equal(cpu_max_parse("20000", &q, &p), 0);
    assert_int_equal(q, 20000);
    assert_int_equal(p, 100000);
}

static void test_cpu_max_bad(void **state)
{
    uint64_t q = 7, p = 7;

    (void)state;
    assert_int_equal(cpu_max_parse("", &q, &p), -1);
    assert_int_equal(cpu_max_parse("lots 100000", &q, &p), -1);
    assert_int_equal(cpu_max_parse("maxx 100000", &q, &p), -1);
    assert_int_equal(cpu_max_parse("0 100000", &q, &p), -1);
    assert_int_equal(cpu_max_parse("50000 0", &q, &p), -1);
    assert_int_equal(cpu_max_parse("50000 100000 7", &q, &p), -1);
    assert_int_equal(cpu_max_parse("-1 100000", &q, &p), -1);
    assert_int_equal(cpu_max_parse("99999999999999999999999 100000", &q, &p), -1);
    assert_int_equal(q, 7);
    assert_int_equal(p, 7);
}

/* --- cpu_limit_read on fixture trees ------------------------------------ */

static void test_v2_pod_quota(void **state)
{
    struct cpu_limit l;
    char text[512];

    (void)state;
    /* 1.5 CPUs on the pod (an ancestor) against 64 in the cpuset and 64 in the mask. */
    cpu_limit_read(FIXTURE("v2-quota"), 64, &l);
    assert_int_equal(l.ncpu, 2);
    assert_int_equal(l.source, CPU_LIMIT_QUOTA);
    assert_int_equal(l.quota_us, 150000);
    assert_int_equal(l.period_us, 100000);
    assert_int_equal(l.cpuset, 64);
    assert_string_equal(l.quota_dir, "/sys/fs/cgroup/kubepods/pod1");
    cpu_limit_describe(&l, text, sizeof(text));
    assert_string_equal(text,
                        "CPU quota 1.50 (150000 us per 100000 us in /sys/fs/cgroup/kubepods/pod1)");
    assert_string_equal(cpu_limit_source_name(l.source), "quota");
}

static void test_v2_quota_above_affinity(void **state)
{
    struct cpu_limit l;

    (void)state;
    /* A quota larger than the mask changes nothing: the mask is the limit. */
    cpu_limit_read(FIXTURE("v2-quota"), 1, &l);
    assert_int_equal(l.ncpu, 1);
    assert_int_equal(l.source, CPU_LIMIT_AFFINITY);
}

static void test_v2_cpuset(void **state)
{
    struct cpu_limit l;
    char text[512];

    (void)state;
    cpu_limit_read(FIXTURE("v2-cpuset"), 8, &l);
    assert_int_equal(l.ncpu, 2);
    assert_int_equal(l.source, CPU_LIMIT_CPUSET);
    assert_int_equal(l.quota_us, 0);
    assert_string_equal(l.cpuset_dir, "/sys/fs/cgroup/system.slice/drover.service/droverd");
    cpu_limit_describe(&l, text, sizeof(text));
    assert_string_equal(text,
                        "cpuset of 2 CPUs in /sys/fs/cgroup/system.slice/drover.service/droverd");
}

static void test_v2_namespace_root(void **state)
{
    struct cpu_limit l;

    (void)state;
    /* In a cgroup namespace the process is at "/": the quota is at the mount point. */
    cpu_limit_read(FIXTURE("v2-nsroot"), 2, &l);
    assert_int_equal(l.ncpu, 1);
    assert_int_equal(l.source, CPU_LIMIT_QUOTA);
    assert_string_equal(l.quota_dir, "/sys/fs/cgroup");
}

static void test_v1_container_quota(void **state)
{
    struct cpu_limit l;

    (void)state;
    /* Half a CPU rounds up to one worker; the joint cpu,cpuacct mount is found. */
    cpu_limit_read(FIXTURE("v1-quota"), 64, &l);
    assert_int_equal(l.ncpu, 1);
    assert_int_equal(l.source, CPU_LIMIT_QUOTA);
    assert_int_equal(l.quota_us, 50000);
    assert_string_equal(l.quota_dir, "/sys/fs/cgroup/cpu,cpuacct/docker/abc");
    assert_int_equal(l.cpuset, 8);
}

static void test_v1_ancestor_tighter(void **state)
{
    struct cpu_limit l;

    (void)state;
    /* 125 ms per 50 ms (2.5 CPUs) on the parent beats 4 CPUs on the leaf: 3 workers. */
    cpu_limit_read(FIXTURE("v1-ancestor"), 16, &l);
    assert_int_equal(l.ncpu, 3);
    assert_int_equal(l.quota_us, 125000);
    assert_int_equal(l.period_us, 50000);
    assert_string_equal(l.quota_dir, "/sys/fs/cgroup/cpu/a");
}

static void test_v1_bind_mount(void **state)
{
    struct cpu_limit l;

    (void)state;
    /* The mount's root is the container's own cgroup: read at the mount point. */
    cpu_limit_read(FIXTURE("v1-bind"), 8, &l);
    assert_int_equal(l.ncpu, 2);
    assert_string_equal(l.quota_dir, "/sys/fs/cgroup/cpu");
}

static void test_hybrid_escaped_mount(void **state)
{
    struct cpu_limit l;

    (void)state;
    cpu_limit_read(FIXTURE("hybrid"), 2, &l);
    assert_int_equal(l.ncpu, 1);
    assert_int_equal(l.source, CPU_LIMIT_QUOTA);
    assert_string_equal(l.quota_dir, "/sys/fs/cgroup/cpu x/t");
}

static void test_garbage_is_no_limit(void **state)
{
    struct cpu_limit l;

    (void)state;
    cpu_limit_read(FIXTURE("garbage"), 4, &l);
    assert_int_equal(l.ncpu, 4);
    assert_int_equal(l.source, CPU_LIMIT_AFFINITY);
    assert_int_equal(l.quota_us, 0);
    assert_int_equal(l.cpuset, 0);
}

static void test_dotdot_stays_in_mount(void **state)
{
    struct cpu_limit l;

    (void)state;
    /* A path with ".." is read at the mount point, never above it. */
    cpu_limit_read(FIXTURE("dotdot"), 8, &l);
    assert_int_equal(l.ncpu, 3);
    assert_string_equal(l.quota_dir, "/sys/fs/cgroup");
}

static void test_no_cgroups(void **state)
{
    struct cpu_limit l;
    char text[512];

    (void)state;
    /* No mountinfo at all (a fixture root that does not exist): the mask decides. */
    cpu_limit_read(FIXTURE("does-not-exist"), 3, &l);
    assert_int_equal(l.ncpu, 3);
    assert_int_equal(l.source, CPU_LIMIT_AFFINITY);
    cpu_limit_describe(&l, text, sizeof(text));
    assert_string_equal(text, "affinity mask of 3 CPUs");
    assert_string_equal(cpu_limit_source_name(l.source), "affinity");
    /* An affinity of 0 (unknown) still gives one worker. */
    cpu_limit_read(FIXTURE("does-not-exist"), 0, &l);
    assert_int_equal(l.ncpu, 1);
    cpu_limit_describe(&l, text, sizeof(text));
    assert_string_equal(text, "affinity mask of 1 CPU");
}

static void test_real_system(void **state)
{
    struct cpu_limit l;

    (void)state;
    /* Whatever this machine is, the result is between 1 and the mask. */
    cpu_limit_read("", 2, &l);
    assert_true(l.ncpu >= 1 && l.ncpu <= 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_list),
        cmocka_unit_test(test_cpu_list_bad),
        cmocka_unit_test(test_cpu_max),
        cmocka_unit_test(test_cpu_max_bad),
        cmocka_unit_test(test_v2_pod_quota),
        cmocka_unit_test(test_v2_quota_above_affinity),
        cmocka_unit_test(test_v2_cpuset),
        cmocka_unit_test(test_v2_namespace_root),
        cmocka_unit_test(test_v1_container_quota),
        cmocka_unit_test(test_v1_ancestor_tighter),
        cmocka_unit_test(test_v1_bind_mount),
        cmocka_unit_test(test_hybrid_escaped_mount),
        cmocka_unit_test(test_garbage_is_no_limit),
        cmocka_unit_test(test_dotdot_stays_in_mount),
        cmocka_unit_test(test_no_cgroups),
        cmocka_unit_test(test_real_system),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
