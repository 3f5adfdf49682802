/* SPDX-License-Identifier: ISC */
/*
 * CPU limits for workers = auto (see cpulimit.h). The cgroups a process is
 * in are found by cgroupfs.c from mountinfo and /proc/self/cgroup; this file
 * reads the CPU quota and cpuset along them.
 */
#include "cpulimit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroupfs.h"

const char *cpu_limit_source_name(enum cpu_limit_source s)
{
    switch (s) {
    case CPU_LIMIT_CPUSET:
        return "cpuset";
    case CPU_LIMIT_QUOTA:
        return "quota";
    case CPU_LIMIT_AFFINITY:
        break;
    }
    return "affinity";
}

int cpu_list_count(const char *s, unsigned *out)
{
    unsigned n = 0;
    const char *p = s;

    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\n' || *p == '\0') {
        *out = 0;
        return 0;
    }
    for (;;) {
        char *end;
        unsigned long lo, hi;

        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        lo = strtoul(p, &end, 10);
        if (errno != 0 || lo > 65535)
            return -1;
        hi = lo;
        p = end;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9')
                return -1;
            hi = strtoul(p, &end, 10);
            if (errno != 0 || hi > 65535 || hi < lo)
                return -1;
            p = end;
        }
        n += (unsigned)(hi - lo + 1);
        if (*p == ',') {
            p++;
            continue;
        }
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (*p != '\0')
            return -1;
        *out = n;
        return 0;
    }
}

int cpu_max_parse(const char *s, uint64_t *quota_us, uint64_t *period_us)
{
    unsigned long long q = 0, per;
    char *end;

    while (*s == ' ')
        s++;
    if (strncmp(s, "max", 3) == 0 && (s[3] == ' ' || s[3] == '\n' || s[3] == '\0')) {
        s += 3;
    } else {
        if (*s < '0' || *s > '9')
            return -1;
        errno = 0;
        q = strtoull(s, &end, 10);
        if (errno != 0 || q == 0)
            return -1;
        s = end;
    }
    per = 100000; /* the kernel's default when only the quota is given */
    while (*s == ' ')
        s++;
    if (*s >= '0' && *s <= '9') {
        errno = 0;
        per = strtoull(s, &end, 10);
        if (errno != 0 || per == 0)
            return -1;
        s = end;
    }
    while (*s == ' ' || *s == '\n')
        s++;
    if (*s != '\0')
        return -1;
    *quota_us = q;
    *period_us = per;
    return 0;
}

/* Keep the tighter of the quota found so far and quota/period read in dir. */
static void take_quota(struct cpu_limit *l, uint64_t quota, uint64_t period, const char *dir,
                       size_t root_len)
{
    /* Compare quota/period with l->quota_us/l->period_us without dividing. */
    if (quota == 0 || period == 0)
        return;
    if (l->quota_us != 0 &&
        (unsigned __int128)quota * l->period_us >= (unsigned __int128)l->quota_us * period)
        return;
    l->quota_us = quota;
    l->period_us = period;
    snprintf(l->quota_dir, sizeof(l->quota_dir), "%s", dir + root_len);
}

/* Walk from the hierarchy's directory up to its mount, reading the CPU quota at each level. */
static void walk_quota(const struct cg_hierarchy *h, bool v2, struct cpu_limit *l, size_t root_len)
{
    char dir[CG_PATH_MAX], file[CG_PATH_MAX + 32], buf[128];

    snprintf(dir, sizeof(dir), "%s", h->dir);
    for (;;) {
        uint64_t quota = 0, period = 0;

        if (v2) {
            snprintf(file, sizeof(file), "%s/cpu.max", dir);
            if (cg_read_line(file, buf, sizeof(buf)) == 0 &&
                cpu_max_parse(buf, &quota, &period) != 0)
                quota = 0;
        } else {
            snprintf(file, sizeof(file), "%s/cpu.cfs_quota_us", dir);
            if (cg_read_line(file, buf, sizeof(buf)) == 0 && buf[0] >= '1' && buf[0] <= '9') {
                quota = strtoull(buf, NULL, 10);
                snprintf(file, sizeof(file), "%s/cpu.cfs_period_us", dir);
                period = cg_read_line(file, buf, sizeof(buf)) == 0 ? strtoull(buf, NULL, 10) : 0;
            }
        }
        take_quota(l, quota, period, dir, root_len);
        if (strlen(dir) <= h->mount_len)
            break;
        *strrchr(dir, '/') = '\0';
        if (strlen(dir) < h->mount_len)
            break;
    }
}

/* The effective cpuset at the process's own cgroup (it already reflects the ancestors). */
static void read_cpuset(const struct cg_hierarchy *h, const char *name, struct cpu_limit *l,
                        size_t root_len)
{
    char file[CG_PATH_MAX + 32], buf[1024];
    unsigned n;

    snprintf(file, sizeof(file), "%s/%s", h->dir, name);
    if (cg_read_line(file, buf, sizeof(buf)) != 0 || cpu_list_count(buf, &n) != 0 || n == 0)
        return;
    if (l->cpuset == 0 || n < l->cpuset) {
        l->cpuset = n;
        snprintf(l->cpuset_dir, sizeof(l->cpuset_dir), "%s", h->dir + root_len);
    }
}

void cpu_limit_read(const char *root, unsigned affinity, struct cpu_limit *out)
{
    FILE *mi = cg_open_under(root, "/proc/self/mountinfo");
    FILE *cg = cg_open_under(root, "/proc/self/cgroup");
    size_t root_len = strlen(root);
    struct cg_hierarchy h;

    memset(out, 0, sizeof(*out));
    out->affinity = affinity > 0 ? affinity : 1;

    cg_find_hierarchy(root, mi, cg, NULL, &h);
    if (h.found) {
        walk_quota(&h, true, out, root_len);
        read_cpuset(&h, "cpuset.cpus.effective", out, root_len);
    }
    cg_find_hierarchy(root, mi, cg, "cpu", &h);
    if (h.found)
        walk_quota(&h, false, out, root_len);
    cg_find_hierarchy(root, mi, cg, "cpuset", &h);
    if (h.found)
        read_cpuset(&h, "cpuset.effective_cpus", out, root_len);
    if (mi != NULL)
        fclose(mi);
    if (cg != NULL)
        fclose(cg);

    out->ncpu = out->affinity;
    out->source = CPU_LIMIT_AFFINITY;
    if (out->cpuset != 0 && out->cpuset < out->ncpu) {
        out->ncpu = out->cpuset;
        out->source = CPU_LIMIT_CPUSET;
    }
    if (out->quota_us != 0) {
        /* Rounded up: a quota of 1.5 CPUs keeps two workers busy, not one. */
        uint64_t q = out->quota_us / out->period_us + (out->quota_us % out->period_us != 0);
        if (q < out->ncpu) {
            out->ncpu = q > 0 ? (unsigned)q : 1;
            out->source = CPU_LIMIT_QUOTA;
        }
    }
}

void cpu_limit_describe(const struct cpu_limit *l, char *buf, size_t bufsz)
{
    switch (l->source) {
    case CPU_LIMIT_QUOTA:
        snprintf(buf, bufsz, "CPU quota %.2f (%llu us per %llu us in %s)",
                 (double)l->quota_us / (double)l->period_us, (unsigned long long)l->quota_us,
                 (unsigned long long)l->period_us, l->quota_dir);
        break;
    case CPU_LIMIT_CPUSET:
        snprintf(buf, bufsz, "cpuset of %u CPU%s in %s", l->cpuset, l->cpuset == 1 ? "" : "s",
                 l->cpuset_dir);
        break;
    case CPU_LIMIT_AFFINITY:
        snprintf(buf, bufsz, "affinity mask of %u CPU%s", l->affinity, l->affinity == 1 ? "" : "s");
        break;
    }
}
