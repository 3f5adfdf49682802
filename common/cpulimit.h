/* SPDX-License-Identifier: ISC */
/*
 * How many CPUs this process may really use, for `workers = auto`: the
 * smallest of its affinity mask, the cpuset of its cgroup, and the CPU quota
 * of its cgroup and of every ancestor, rounded up. Both cgroup versions are
 * read: v2 (cpu.max, cpuset.cpus.effective) and v1 (cpu.cfs_quota_us with
 * cpu.cfs_period_us, cpuset.effective_cpus), found from mountinfo and
 * /proc/self/cgroup, never from an assumed /sys/fs/cgroup. Reads files
 * only; never logs, never fails: what cannot be read is no limit.
 */
#ifndef DROVER_CPULIMIT_H
#define DROVER_CPULIMIT_H

#include <stddef.h>
#include <stdint.h>

enum cpu_limit_source {
    CPU_LIMIT_AFFINITY, /* the affinity mask (or the online CPUs) */
    CPU_LIMIT_CPUSET,   /* the cgroup's effective cpuset */
    CPU_LIMIT_QUOTA,    /* a CPU quota of the cgroup or an ancestor */
};

struct cpu_limit {
    unsigned ncpu; /* what workers = auto counts: the smallest below, at least 1 */
    enum cpu_limit_source source;
    unsigned affinity;    /* CPUs in the affinity mask */
    unsigned cpuset;      /* CPUs in the cgroup's effective cpuset; 0 when none was found */
    uint64_t quota_us;    /* the tightest quota found, per period; 0 when none */
    uint64_t period_us;   /* its period */
    char cpuset_dir[256]; /* cgroup directory the cpuset was read from */
    char quota_dir[256];  /* cgroup directory the quota was read from */
};

/*
 * Read the limits of the calling process. root is prepended to every path
 * read (/proc/self/mountinfo, /proc/self/cgroup and the cgroup files): ""
 * for the real system, a fixture directory in tests.
 */
void cpu_limit_read(const char *root, unsigned affinity, struct cpu_limit *out);

/* "CPU quota 0.50 (cpu.max 50000 100000 in /sys/fs/cgroup/x)", for status and logs. */
void cpu_limit_describe(const struct cpu_limit *l, char *buf, size_t bufsz);
/* "affinity", "cpuset", "quota": the source as one word, for JSON. */
const char *cpu_limit_source_name(enum cpu_limit_source s);

/* Pure parsers, exported for the tests. */
/* A kernel CPU list, "0-3,8,10-11": the number of CPUs in it, or -1. */
int cpu_list_count(const char *s, unsigned *out);
/* cgroup v2 cpu.max, "50000 100000" or "max 100000": quota 0 means no limit. */
int cpu_max_parse(const char *s, uint64_t *quota_us, uint64_t *period_us);

#endif
